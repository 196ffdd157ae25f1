import { Body, Controller, Get, Inject, Query } from '@nestjs/common';
import type { z } from 'zod';
import type { Pool } from 'pg';
import { TANDEM_CONFIG } from '../../config/config.module';
import type { TandemConfig } from '../../config/config.schema';
import { DeadLetterService } from '../../projection/dead-letter.service';
import { projectionDefinitions, resolveProjectionDefinitions } from '../../projection/projection.service';
import type { Principal } from '../auth/admin-tokens';
import { Caller, OperatorPost } from '../http/access';
import { AuditedActions, TARGET_POOL, requireConfirmation } from '../http/audited-action';
import { ZodValidationPipe } from '../http/zod-validation.pipe';
import { quarantineListQuery, redriveBody } from './quarantine.routes';

@Controller('api/quarantine')
export class QuarantineController {
  constructor(
    @Inject(DeadLetterService) private readonly deadLetters: DeadLetterService,
    @Inject(AuditedActions) private readonly actions: AuditedActions,
    @Inject(TANDEM_CONFIG) private readonly config: TandemConfig,
    @Inject(TARGET_POOL) private readonly pool: Pool,
  ) {}

  @Get()
  async list(
    @Query(new ZodValidationPipe(quarantineListQuery, 'query')) query: z.infer<typeof quarantineListQuery>,
  ) {
    const limit = Number(query.limit ?? 100);
    const entries = await this.deadLetters.page(
      query.projection ?? null,
      query.all === 'true',
      Number(query.afterId ?? 0),
      limit + 1,
    );
    const page = entries.slice(0, limit);
    const events = page.map((e) => ({
      id: e.id,
      projection: e.projection,
      topic: e.topic,
      partition: e.partition,
      offset: Number(e.offset),
      sourceKey: e.sourceKey,
      reason: e.reason,
      status: e.status,
      quarantinedAt: e.quarantinedAt,
    }));
    return { events, nextAfterId: entries.length > limit ? page[page.length - 1].id : null };
  }

  @OperatorPost(200, 'redrive')
  async redrive(
    @Caller() caller: Principal,
    @Body(new ZodValidationPipe(redriveBody)) body: z.infer<typeof redriveBody>,
  ) {
    requireConfirmation(body.confirm, body.projection);
    projectionDefinitions(this.config, body.projection); // an unknown name is refused before the action is audited
    return this.actions.run(caller, 'quarantine.redrive', body.projection, body, async () => {
      const [definition] = await resolveProjectionDefinitions(this.config, body.projection, this.pool);
      const results = await this.deadLetters.redrive(definition, body.ids ?? null);
      return {
        results,
        applied: results.filter((r) => r.outcome === 'applied').length,
        quarantinedAgain: results.filter((r) => r.outcome !== 'applied').length,
      };
    });
  }
}
