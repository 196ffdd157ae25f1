import { createParamDecorator, SetMetadata, type ExecutionContext } from '@nestjs/common';
import type { AdminRole, Principal } from '../auth/admin-tokens';

export const ROLE_KEY = 'tandem:role';

/** The least role a route needs; routes without it need `viewer`. */
export const RequireRole = (role: AdminRole | 'public') => SetMetadata(ROLE_KEY, role);

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
