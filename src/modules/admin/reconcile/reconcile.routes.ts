import { z } from 'zod';
import type { ApiRoute } from '../openapi/api-route';

export const reconcileBody = z.object({
  projection: z.string().min(1).optional().describe('only this projection (default: every configured one)'),
  threshold: z.number().min(0).max(1).default(0.001).describe('largest accepted mismatch ratio'),
  acceptQuarantined: z
    .boolean()
    .default(false)
    .describe('do not count quarantined rows against the threshold (recorded in the report)'),
});

export const reportsQuery = z.object({
  projection: z.string().min(1).optional(),
  limit: z
    .string()
    .regex(/^[1-9][0-9]{0,3}$/, 'must be a whole number from 1 to 9999')
    .optional()
    .describe('at most this many, newest first (default 50)'),
});

export const reconcileRoutes: ApiRoute[] = [
  {
    method: 'post',
    path: '/api/reconcile',
    role: 'operator',
    summary: 'start a reconciliation (202 with a job; GET /api/jobs/{id} gives { verdict, reports } when done)',
    body: reconcileBody,
  },
  {
    method: 'get',
    path: '/api/reconcile/reports',
    role: 'viewer',
    summary: 'stored reconciliation reports, newest first',
    query: reportsQuery,
  },
  { method: 'get', path: '/api/reconcile/reports/{id}', role: 'viewer', summary: 'one report (JSON)' },
  {
    method: 'get',
    path: '/api/reconcile/reports/{id}/html',
    role: 'viewer',
    summary: 'one report as a self-contained HTML page',
    produces: 'text/html',
  },
];
