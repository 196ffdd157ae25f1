import { Controller, Get } from '@nestjs/common';
import { RequireRole } from '../http/access';
import { API_ROUTES } from './api-catalog';
import { openApiDocument } from './openapi-document';

/** Public: it describes the API's shape, no data. */
@Controller('api')
export class OpenApiController {
  private readonly document = openApiDocument(API_ROUTES, '0.1.0');

  @Get('openapi.json')
  @RequireRole('public')
  openapi(): Record<string, unknown> {
    return this.document;
  }
}
