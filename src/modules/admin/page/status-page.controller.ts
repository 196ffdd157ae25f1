import { Controller, Get, Header } from '@nestjs/common';
import { cspHash, inlineContent } from '../../../shared/csp';
import { REPORT_STYLE_HASH } from '../../reconciliation/reconciliation-report';
import { RequireRole } from '../http/access';
import { STATUS_PAGE_HTML } from './status-page.html';

/**
 * Only the page's own inline script and style sheet run, allowed by their hashes; the report style's
 * hash too, because a report opened from the page is a blob: document under the page's policy.
 */
export const STATUS_PAGE_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `script-src ${cspHash(inlineContent(STATUS_PAGE_HTML, 'script'))}`,
  `style-src ${cspHash(inlineContent(STATUS_PAGE_HTML, 'style'))} ${REPORT_STYLE_HASH}`,
  "connect-src 'self'",
  'img-src data:',
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

/** The page itself is public and holds no data; it loads everything from the API with the viewer token it is given. */
@Controller()
export class StatusPageController {
  @Get()
  @RequireRole('public')
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Content-Security-Policy', STATUS_PAGE_CONTENT_SECURITY_POLICY)
  @Header('Cache-Control', 'no-store')
  page(): string {
    return STATUS_PAGE_HTML;
  }
}
