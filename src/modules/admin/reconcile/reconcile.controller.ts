import {
  Body,
  Controller,
  Get,
  Header,
  HttpCode,
  Inject,
  NotFoundException,
  Param,
  ParseIntPipe,
  Post,
  Query,
} from '@nestjs/common';
import type { Pool } from 'pg';
import type { z } from 'zod';
import { ReconciliationService } from '../../reconciliation/reconciliation.service';
import { renderHtml, type ReconciliationReport } from '../../reconciliation/reconciliation-report';
import { listReports, readReport } from '../../reconciliation/report-store';
import type { Principal } from '../auth/admin-tokens';
import { Caller, RequireRole } from '../http/access';
import { AuditedActions, TARGET_POOL } from '../http/audited-action';
import { ZodValidationPipe } from '../http/zod-validation.pipe';
import { reconcileBody, reportsQuery } from './reconcile.routes';

@Controller('api/reconcile')
export class ReconcileController {
  constructor(
    @Inject(ReconciliationService) private readonly reconciliation: ReconciliationService,
    @Inject(AuditedActions) private readonly actions: AuditedActions,
    @Inject(TARGET_POOL) private readonly pool: Pool,
  ) {}

  /** Synchronous: the response comes when every report is stored (the server has no request timeout). */
  @Post()
  @HttpCode(200)
  @RequireRole('operator')
  run(
    @Caller() caller: Principal,
    @Body(new ZodValidationPipe(reconcileBody)) body: z.infer<typeof reconcileBody>,
  ) {
    return this.actions.run(caller, 'reconcile', body.projection ?? '*', body, async () => {
      const reports = await this.reconciliation.run({
        projection: body.projection,
        threshold: body.threshold,
        acceptQuarantined: body.acceptQuarantined,
      });
      return { verdict: reports.some((r) => r.verdict === 'FAIL') ? 'FAIL' : 'PASS', reports };
    });
  }

  @Get('reports')
  reports(@Query(new ZodValidationPipe(reportsQuery, 'query')) query: z.infer<typeof reportsQuery>) {
    return listReports(this.pool, {
      projection: query.projection,
      limit: query.limit === undefined ? undefined : Number(query.limit),
    });
  }

  @Get('reports/:id')
  report(@Param('id', ParseIntPipe) id: number): Promise<ReconciliationReport> {
    return this.find(id);
  }

  @Get('reports/:id/html')
  @Header('Content-Type', 'text/html; charset=utf-8')
  async html(@Param('id', ParseIntPipe) id: number): Promise<string> {
    return renderHtml(await this.find(id));
  }

  private async find(id: number): Promise<ReconciliationReport> {
    const report = await readReport(this.pool, id);
    if (!report) throw new NotFoundException(`no reconciliation report ${id}`);
    return report;
  }
}
