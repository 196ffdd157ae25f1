import { z } from 'zod';
import { recordId, recordIdText } from '../http/record-id';
import type { ApiRoute } from '../openapi/api-route';

const cutoverId = recordId.describe('the cutover id (from plan)');
const confirmCutover = z.string().describe('"cutover:<id>"');

export const cutoverQuery = z.object({
  id: recordIdText.optional().describe('the cutover id (default: the latest)'),
});
export const planBody = z.object({
  projection: z.string().min(1).optional().describe('only this projection (default: every configured one)'),
});
export const startBody = z.object({
  id: cutoverId,
  drainTimeoutMs: z.number().int().positive().max(3_600_000).default(60_000),
  threshold: z.number().min(0).max(1).default(0),
  /** Commit right after the verified gate, in the same job (tandem cutover start --commit). */
  commit: z.boolean().default(false),
  acceptQuarantined: z.boolean().default(false),
  confirm: confirmCutover,
});
export const commitBody = z.object({ id: cutoverId, confirm: confirmCutover });
export const abortBody = z.object({
  id: cutoverId,
  reason: z.string().max(500).optional(),
  confirm: confirmCutover,
});

export const cutoverRoutes: ApiRoute[] = [
  {
    method: 'get',
    path: '/api/cutover',
    role: 'viewer',
    summary: 'a cutover with its history (default: the latest)',
    query: cutoverQuery,
  },
  {
    method: 'post',
    path: '/api/cutover/plan',
    role: 'operator',
    summary: 'record a new cutover (state parallel) after the checks that need no freeze',
    body: planBody,
  },
  {
    method: 'post',
    path: '/api/cutover/start',
    role: 'operator',
    summary:
      'freeze legacy writes, wait until drained, verify by reconciliation: 202 with a job polled at GET /api/jobs/{id} (a failed gate unfreezes: the job fails with 409)',
    body: startBody,
    confirm: '"cutover:<id>"',
  },
  {
    method: 'post',
    path: '/api/cutover/commit',
    role: 'operator',
    summary: 'back up every projection and record the cutover',
    body: commitBody,
    confirm: '"cutover:<id>"',
  },
  {
    method: 'post',
    path: '/api/cutover/abort',
    role: 'operator',
    summary: 'abandon an active cutover and unfreeze legacy writes',
    body: abortBody,
    confirm: '"cutover:<id>"',
  },
];
