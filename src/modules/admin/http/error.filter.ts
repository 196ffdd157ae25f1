import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { TandemError } from '../../../shared/errors';
import { withoutConnectionStrings } from '../../../shared/redact';
import type { Logger } from '../../../shared/logger';
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
  // Each TandemError carries its status (shared/errors.ts): 409 refused, 400 bad request or config, 422 failed.
  if (error instanceof TandemError)
    return { statusCode: error.httpStatus, error: withoutConnectionStrings(error.message) };
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
