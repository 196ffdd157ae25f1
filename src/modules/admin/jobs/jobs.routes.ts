import type { ApiRoute } from '../openapi/api-route';

export const jobsRoutes: ApiRoute[] = [
  {
    method: 'get',
    path: '/api/jobs/{id}',
    role: 'viewer',
    summary:
      'a long operation started with 202 (reconcile, replay, cutover start): state running|succeeded|failed, then its result or error',
  },
];
