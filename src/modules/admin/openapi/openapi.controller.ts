import { Controller, Get } from '@nestjs/common';
import { RequireRole } from '../http/access';
import { API_ROUTES } from './api-catalog';
import { openApiDocument } from './openapi-document';
import { TANDEM_VERSION } from '../../../contracts/version';

/** Public: it describes the API's shape, no data. */
@Controller('api')
export class OpenApiController {
  private readonly document = openApiDocument(API_ROUTES, TANDEM_VERSION);

  @Get('openapi.json')
  @RequireRole('public')
  openapi(): Record<string, unknown> {
    return this.document;
  }
}
