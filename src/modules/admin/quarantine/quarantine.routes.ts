import { z } from 'zod';
import type { ApiRoute } from '../openapi/api-route';

export const quarantineListQuery = z.object({
  projection: z.string().min(1).optional(),
  all: z.enum(['true', 'false']).optional().describe('true: include events already re-driven'),
});

export const redriveBody = z.object({
  projection: z.string().min(1),
  ids: z
    .array(z.number().int().positive())
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
    summary: 'quarantined events with their reasons (newest last)',
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
