import {
  ForbiddenException,
  Inject,
  Injectable,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AdminTokens, grants, type AdminRole, type Principal } from '../auth/admin-tokens';
import { ROLE_KEY, type AdminRequest } from './access';

export const ADMIN_TOKENS = Symbol('ADMIN_TOKENS');

/** The caller an Authorization header names, or why there is none. */
export function authenticateHeader(
  tokens: AdminTokens,
  header: string | string[] | undefined,
): { principal: Principal; problem?: undefined } | { principal: null; problem: string } {
  const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  const principal = match ? tokens.authenticate(match[1]) : null;
  if (principal) return { principal };
  return {
    principal: null,
    problem: match ? 'unknown bearer token' : 'an Authorization: Bearer <token> header is required',
  };
}

/** Every route needs a bearer token of the route's role (viewer by default) unless marked public. */
@Injectable()
export class BearerAuthGuard implements CanActivate {
  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(ADMIN_TOKENS) private readonly tokens: AdminTokens,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const needed =
      this.reflector.getAllAndOverride<AdminRole | 'public' | undefined>(ROLE_KEY, [
        context.getHandler(),
        context.getClass(),
      ]) ?? 'viewer';
    if (needed === 'public') return true;
    const request = context.switchToHttp().getRequest<AdminRequest>();
    const { principal, problem } = authenticateHeader(this.tokens, request.headers.authorization);
    if (!principal) throw new UnauthorizedException(problem);
    if (!grants(principal.role, needed))
      throw new ForbiddenException(
        `this route needs the ${needed} role; token "${principal.name}" is ${principal.role}`,
      );
    request.principal = principal;
    return true;
  }
}
