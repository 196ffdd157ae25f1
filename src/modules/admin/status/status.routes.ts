import type { ApiRoute } from '../openapi/api-route';

export const statusRoutes: ApiRoute[] = [
  {
    method: 'get',
    path: '/api/status',
    role: 'viewer',
    summary: 'the pipeline: source slots, projections, last reconciliations, cutover (PipelineStatus)',
  },
  {
    method: 'get',
    path: '/api/status/history',
    role: 'viewer',
    summary: 'status samples of the last 10 minutes (lag and throughput), oldest first',
  },
  {
    method: 'get',
    path: '/api/lag',
    role: 'viewer',
    summary: 'source lag (bytes, seconds, retained WAL) and projector lag per partition',
  },
  {
    method: 'get',
    path: '/api/checkpoints',
    role: 'viewer',
    summary: "each projection's checkpoint per topic-partition (last applied offset, commit LSN)",
  },
];
