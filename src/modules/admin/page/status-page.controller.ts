import { Controller, Get, Header } from '@nestjs/common';
import { RequireRole } from '../http/access';
import { STATUS_PAGE_HTML } from './status-page.html';

/** The page itself is public and holds no data; it loads everything from the API with the viewer token it is given. */
@Controller()
export class StatusPageController {
  @Get()
  @RequireRole('public')
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header(
    'Content-Security-Policy',
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; frame-ancestors 'none'",
  )
  @Header('Cache-Control', 'no-store')
  page(): string {
    return STATUS_PAGE_HTML;
  }
}
