import { z } from 'zod';
import { recordId } from '../http/record-id';
import type { ApiRoute } from '../openapi/api-route';

export const replayBody = z.object({
  projection: z.string().min(1),
  to: z.string().min(1).describe('lsn:X/Y, offsets:topic#p=o,…, time:ISO-8601, cutover:ID or checkpoint:ID'),
  dryRun: z
    .boolean()
    .default(false)
    .describe('resolve the position and count the events; build and swap nothing'),
  confirm: z.string().describe('the projection name'),
});
export const backupsQuery = z.object({ projection: z.string().min(1).optional() });
export const restoreBody = z.object({
  id: recordId.describe('the backup id'),
  confirm: z.string().describe('"backup:<id>"'),
});

export const replayRoutes: ApiRoute[] = [
  {
    method: 'post',
    path: '/api/replay',
    role: 'operator',
    summary:
      'rebuild a projection up to a position in a shadow schema and swap it in (stop its projector first: the job fails with 409 otherwise); 202 with a job, polled at GET /api/jobs/{id}',
    body: replayBody,
    confirm: 'the projection name',
  },
  {
    method: 'get',
    path: '/api/backups',
    role: 'viewer',
    summary: 'projection states kept by replays, restores and cutover commits',
    query: backupsQuery,
  },
  {
    method: 'post',
    path: '/api/backups/restore',
    role: 'operator',
    summary: 'swap a backup back in atomically (the replaced state becomes a new backup)',
    body: restoreBody,
    confirm: '"backup:<id>"',
  },
];
