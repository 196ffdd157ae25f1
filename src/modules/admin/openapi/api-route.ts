import type { z } from 'zod';
import type { AdminRole } from '../auth/admin-tokens';

/** One route of the admin API as the OpenAPI document (and the route tests) see it. */
export interface ApiRoute {
  method: 'get' | 'post';
  /** OpenAPI form: /api/reconcile/reports/{id}. */
  path: string;
  /** 'public': no token needed. */
  role: AdminRole | 'public';
  summary: string;
  query?: z.ZodObject;
  body?: z.ZodObject;
  /** For destructive routes: what `confirm` must repeat. */
  confirm?: string;
  /** The response's media type (JSON unless said). */
  produces?: 'application/json' | 'text/html' | 'text/plain';
}
