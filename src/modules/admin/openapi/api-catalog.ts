import { jobsRoutes } from '../jobs/jobs.routes';
import { cutoverRoutes } from '../cutover/cutover.routes';
import { quarantineRoutes } from '../quarantine/quarantine.routes';
import { reconcileRoutes } from '../reconcile/reconcile.routes';
import { replayRoutes } from '../replay/replay.routes';
import { statusRoutes } from '../status/status.routes';
import type { ApiRoute } from './api-route';

/** Every route `tandem serve` answers, as the OpenAPI document lists it. */
export const API_ROUTES: ApiRoute[] = [
  ...statusRoutes,
  ...quarantineRoutes,
  ...reconcileRoutes,
  ...cutoverRoutes,
  ...replayRoutes,
  ...jobsRoutes,
  {
    method: 'get',
    path: '/metrics',
    role: 'viewer',
    summary: 'Prometheus metrics (text exposition format)',
    produces: 'text/plain',
  },
  { method: 'get', path: '/api/openapi.json', role: 'public', summary: 'this document' },
  {
    method: 'get',
    path: '/',
    role: 'public',
    summary: 'the status page (loads its data with a viewer token)',
    produces: 'text/html',
  },
];
