import { z } from 'zod';
import { recordId, recordIdText } from '../http/record-id';
import type { ApiRoute } from '../openapi/api-route';

export const MAX_PAGE = 500;

export const quarantineListQuery = z.object({
  projection: z.string().min(1).optional(),
  all: z.enum(['true', 'false']).optional().describe('true: include events already re-driven'),
  limit: z
    .string()
    .refine((text) => /^[1-9][0-9]{0,2}$/.test(text) && Number(text) <= MAX_PAGE, `must be a whole number from 1 to ${MAX_PAGE}`)
    .optional()
    .describe(`at most this many (default 100, at most ${MAX_PAGE})`),
  afterId: recordIdText.optional().describe('the page after this id: the previous page\'s nextAfterId'),
});

export const redriveBody = z.object({
  projection: z.string().min(1),
  ids: z
    .array(recordId)
    .min(1)
    .optional()
    .describe('only these quarantine ids (default: all of the projection)'),
  confirm: z.string().describe('the projection name'),
});

export const quarantineRoutes: ApiRoute[] = [
  {
    method: 'get',
    path: '/api/quarantine',
    role: 'viewer',
    summary:
      'quarantined events with their reasons, oldest first, one page at a time: { events, nextAfterId } (null on the last page); no payloads',
    query: quarantineListQuery,
  },
  {
    method: 'post',
    path: '/api/quarantine/redrive',
    role: 'operator',
    summary: 're-apply quarantined events through their projection (one that fails again stays quarantined)',
    body: redriveBody,
    confirm: 'the projection name',
  },
];
