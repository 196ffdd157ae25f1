import {
  Body,
  Controller,
  Get,
  Header,
  Inject,
  NotFoundException,
  Param,
  Query,
} from '@nestjs/common';
import type { Pool } from 'pg';
import type { z } from 'zod';
import { ReconciliationService } from '../../reconciliation/reconciliation.service';
import {
  REPORT_CONTENT_SECURITY_POLICY,
  renderHtml,
  type ReconciliationReport,
} from '../../reconciliation/reconciliation-report';
import { ReconciliationRepository } from '../../reconciliation/reconciliation-repository';
import type { Principal } from '../auth/admin-tokens';
import { Caller, OperatorPost } from '../http/access';
import { AuditedActions, TARGET_POOL } from '../http/audited-action';
import { JobRegistry, type Job } from '../jobs/job-registry';
import { ParseRecordIdPipe } from '../http/record-id';
import { ZodValidationPipe } from '../http/zod-validation.pipe';
import { reconcileBody, reportsQuery } from './reconcile.routes';

@Controller('api/reconcile')
export class ReconcileController {
  constructor(
    @Inject(ReconciliationService) private readonly reconciliation: ReconciliationService,
    @Inject(AuditedActions) private readonly actions: AuditedActions,
    @Inject(TARGET_POOL) private readonly pool: Pool,
    @Inject(JobRegistry) private readonly jobs: JobRegistry,
  ) {}

  /** A job (202): a reconciliation can outlast the request timeout; GET /api/jobs/{id} gives the reports. */
  @OperatorPost(202)
  run(
    @Caller() caller: Principal,
    @Body(new ZodValidationPipe(reconcileBody)) body: z.infer<typeof reconcileBody>,
  ): Job {
    const subject = body.projection ?? '*';
    return this.actions.job(this.jobs, caller, 'reconcile', subject, body, async () => {
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
    return new ReconciliationRepository(this.pool).list({
      projection: query.projection,
      limit: query.limit === undefined ? undefined : Number(query.limit),
    });
  }

  @Get('reports/:id')
  report(@Param('id', ParseRecordIdPipe) id: number): Promise<ReconciliationReport> {
    return this.find(id);
  }

  @Get('reports/:id/html')
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Content-Security-Policy', REPORT_CONTENT_SECURITY_POLICY)
  async html(@Param('id', ParseRecordIdPipe) id: number): Promise<string> {
    return renderHtml(await this.find(id));
  }

  private async find(id: number): Promise<ReconciliationReport> {
    const report = await new ReconciliationRepository(this.pool).read(id);
    if (!report) throw new NotFoundException(`no reconciliation report ${id}`);
    return report;
  }
}
