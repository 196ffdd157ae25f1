import { applyDecorators, createParamDecorator, HttpCode, Post, SetMetadata, type ExecutionContext } from '@nestjs/common';
import type { AdminRole, Principal } from '../auth/admin-tokens';

export const ROLE_KEY = 'tandem:role';

/** The least role a route needs; routes without it need `viewer`. */
export const RequireRole = (role: AdminRole | 'public') => SetMetadata(ROLE_KEY, role);

/** An operator's POST route answering `status`: 200 done, 202 a job started (GET /api/jobs/{id}). */
export const OperatorPost = (status: 200 | 202, path?: string) => applyDecorators(Post(path), HttpCode(status), RequireRole('operator'));

/** The shape of an HTTP request as the admin API reads it (Express underneath). */
export interface AdminRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  principal?: Principal;
}

/** The authenticated caller (set by BearerAuthGuard). */
export const Caller = createParamDecorator((_data: unknown, context: ExecutionContext): Principal => {
  const principal = context.switchToHttp().getRequest<AdminRequest>().principal;
  if (!principal) throw new Error('Caller used on a public route');
  return principal;
});
