import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { ConfigError, TandemError } from '../../../shared/errors';
import { withoutConnectionStrings } from '../../../shared/redact';
import type { Logger } from '../../../shared/logger';
import { CutoverGateError } from '../../cutover/cutover.service';
import { ReplayRefusedError } from '../../replay/replay.service';
import { InvalidRequestError, type FieldIssue } from './zod-validation.pipe';

interface ErrorBody {
  statusCode: number;
  error: string;
  issues?: FieldIssue[];
}

interface JsonResponse {
  status(code: number): JsonResponse;
  setHeader(name: string, value: string): void;
  json(body: unknown): void;
}

/** Maps an error to a status code and a message fit to leave the process (no stack, no connection string). */
export function describeError(error: unknown): ErrorBody {
  if (error instanceof InvalidRequestError)
    return { statusCode: 400, error: withoutConnectionStrings(error.message), issues: error.issues };
  if (error instanceof HttpException) {
    const response = error.getResponse();
    const message =
      typeof response === 'string'
        ? response
        : ((response as { message?: unknown }).message ?? error.message);
    return {
      statusCode: error.getStatus(),
      error: withoutConnectionStrings(Array.isArray(message) ? message.join('; ') : String(message)),
    };
  }
  if (error instanceof CutoverGateError || error instanceof ReplayRefusedError)
    return { statusCode: 409, error: withoutConnectionStrings(error.message) };
  // A request naming what the configuration does not have (an unknown projection, a missing setting).
  if (error instanceof ConfigError)
    return { statusCode: 400, error: withoutConnectionStrings(error.message) };
  if (error instanceof TandemError)
    return { statusCode: 422, error: withoutConnectionStrings(error.message) };
  return { statusCode: 500, error: 'internal error: see the tandem serve log' };
}

/** The one place an error becomes a response; 5xx are logged (redacted by the logger). */
@Catch()
export class AdminErrorFilter implements ExceptionFilter {
  constructor(private readonly logger: Logger) {}

  catch(error: unknown, host: ArgumentsHost): void {
    const body = describeError(error);
    if (body.statusCode >= 500) this.logger.error({ err: error }, 'admin API request failed');
    const response = host.switchToHttp().getResponse<JsonResponse>();
    if (body.statusCode === 401) response.setHeader('WWW-Authenticate', 'Bearer realm="tandem"');
    response.status(body.statusCode).json(body);
  }
}
