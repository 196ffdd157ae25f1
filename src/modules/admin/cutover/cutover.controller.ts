import { Body, Controller, Get, Inject, NotFoundException, Query } from '@nestjs/common';
import type { z } from 'zod';
import { CutoverService, type CutoverRecord } from '../../cutover/cutover.service';
import { CutoverGateError } from '../../../shared/errors';
import type { Principal } from '../auth/admin-tokens';
import { Caller, OperatorPost } from '../http/access';
import { AuditedActions, requireConfirmation } from '../http/audited-action';
import { JobRegistry, type Job } from '../jobs/job-registry';
import { ZodValidationPipe } from '../http/zod-validation.pipe';
import { abortBody, commitBody, cutoverQuery, planBody, startBody } from './cutover.routes';

/** The cutover state machine of `tandem cutover`; the token's name is the operator recorded in its history. */
@Controller('api/cutover')
export class CutoverController {
  constructor(
    @Inject(CutoverService) private readonly cutovers: CutoverService,
    @Inject(AuditedActions) private readonly actions: AuditedActions,
    @Inject(JobRegistry) private readonly jobs: JobRegistry,
  ) {}

  @Get()
  async status(
    @Query(new ZodValidationPipe(cutoverQuery, 'query')) query: z.infer<typeof cutoverQuery>,
  ): Promise<CutoverRecord> {
    try {
      return await this.cutovers.resolve(query.id === undefined ? undefined : Number(query.id));
    } catch (error) {
      // resolve() refuses with "no cutover …" when there is none to show: for a read that is a 404.
      if (error instanceof CutoverGateError && /^no cutover/.test(error.message))
        throw new NotFoundException(error.message);
      throw error;
    }
  }

  @OperatorPost(200, 'plan')
  plan(@Caller() caller: Principal, @Body(new ZodValidationPipe(planBody)) body: z.infer<typeof planBody>) {
    return this.actions.run(caller, 'cutover.plan', body.projection ?? '*', body, () =>
      this.cutovers.plan({ operator: caller.name, projection: body.projection }),
    );
  }

  /** A job (202): freeze, drain (up to drainTimeoutMs) and verify can outlast the request timeout. */
  @OperatorPost(202, 'start')
  start(
    @Caller() caller: Principal,
    @Body(new ZodValidationPipe(startBody)) body: z.infer<typeof startBody>,
  ): Job {
    const subject = `cutover:${body.id}`;
    requireConfirmation(body.confirm, subject);
    return this.actions.job(this.jobs, caller, 'cutover.start', subject, body, () =>
      this.cutovers.start(body.id, {
        operator: caller.name,
        drainTimeoutMs: body.drainTimeoutMs,
        threshold: body.threshold,
        commit: body.commit,
        acceptQuarantined: body.acceptQuarantined,
      }),
    );
  }

  @OperatorPost(200, 'commit')
  commit(
    @Caller() caller: Principal,
    @Body(new ZodValidationPipe(commitBody)) body: z.infer<typeof commitBody>,
  ): Promise<CutoverRecord> {
    return this.actions.confirmed(caller, 'cutover.commit', `cutover:${body.id}`, body, () =>
      this.cutovers.commit(body.id, { operator: caller.name }),
    );
  }

  @OperatorPost(200, 'abort')
  abort(
    @Caller() caller: Principal,
    @Body(new ZodValidationPipe(abortBody)) body: z.infer<typeof abortBody>,
  ): Promise<CutoverRecord> {
    return this.actions.confirmed(caller, 'cutover.abort', `cutover:${body.id}`, body, () =>
      this.cutovers.abort(body.id, { operator: caller.name, reason: body.reason }),
    );
  }
}
