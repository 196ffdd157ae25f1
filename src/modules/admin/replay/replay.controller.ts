import { Body, Controller, Get, Inject, Query } from '@nestjs/common';
import type { z } from 'zod';
import { ReplayService } from '../../replay/replay.service';
import type { Principal } from '../auth/admin-tokens';
import { Caller, OperatorPost } from '../http/access';
import { AuditedActions, requireConfirmation } from '../http/audited-action';
import { JobRegistry, type Job } from '../jobs/job-registry';
import { ZodValidationPipe } from '../http/zod-validation.pipe';
import { backupsQuery, replayBody, restoreBody } from './replay.routes';

@Controller('api')
export class ReplayController {
  constructor(
    @Inject(ReplayService) private readonly replays: ReplayService,
    @Inject(AuditedActions) private readonly actions: AuditedActions,
    @Inject(JobRegistry) private readonly jobs: JobRegistry,
  ) {}

  /** A job (202), like reconcile: GET /api/jobs/{id} gives the replay's result. */
  @OperatorPost(202, 'replay')
  replay(
    @Caller() caller: Principal,
    @Body(new ZodValidationPipe(replayBody)) body: z.infer<typeof replayBody>,
  ): Job {
    requireConfirmation(body.confirm, body.projection);
    const action = body.dryRun ? 'replay.dry-run' : 'replay';
    return this.actions.job(this.jobs, caller, action, body.projection, body, () =>
      this.replays.replay({ projection: body.projection, to: body.to, dryRun: body.dryRun, operator: caller.name }),
    );
  }

  @Get('backups')
  backups(@Query(new ZodValidationPipe(backupsQuery, 'query')) query: z.infer<typeof backupsQuery>) {
    return this.replays.listBackups(query.projection);
  }

  @OperatorPost(200, 'backups/restore')
  restore(
    @Caller() caller: Principal,
    @Body(new ZodValidationPipe(restoreBody)) body: z.infer<typeof restoreBody>,
  ) {
    return this.actions.confirmed(caller, 'backup.restore', `backup:${body.id}`, body, () =>
      this.replays.restore(body.id, caller.name),
    );
  }
}
