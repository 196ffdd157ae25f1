import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import type { Logger } from '../../shared/logger';
import { TANDEM_CONFIG, TANDEM_LOGGER } from '../config/config.module';
import type { TandemConfig } from '../config/config.schema';
import { TandemResources } from '../core/tandem-resources';
import type { AdminTokens } from './auth/admin-tokens';
import { AuditedActions, TARGET_POOL } from './http/audited-action';
import { ADMIN_TOKENS, BearerAuthGuard } from './http/bearer-auth.guard';
import { AdminErrorFilter } from './http/error.filter';
import { JobRegistry } from './jobs/job-registry';
import { SAMPLE_INTERVAL_MS, STATUS_READER, StatusSampler } from '../status/server-status-sampler';
import { statusServiceForServer } from './status/status-for-server';

/**
 * What every admin feature shares: tokens and the auth guard, the error filter, the target pool (the
 * process's shared one, closed by the composition root), the audit, the status reader (over the
 * shared pools) and its sampler.
 */
@Module({})
export class AdminCoreModule {

  static forRoot(tokens: AdminTokens): DynamicModule {
    return {
      module: AdminCoreModule,
      global: true,
      providers: [
        { provide: ADMIN_TOKENS, useValue: tokens },
        {
          provide: STATUS_READER,
          inject: [TANDEM_CONFIG, TANDEM_LOGGER, TandemResources],
          useFactory: (config: TandemConfig, logger: Logger, resources: TandemResources) =>
            statusServiceForServer(config, logger.child({ module: 'status' }), resources),
        },
        {
          provide: SAMPLE_INTERVAL_MS,
          inject: [TANDEM_CONFIG],
          useFactory: (config: TandemConfig) => config.admin.sampleIntervalMs,
        },
        {
          provide: TARGET_POOL,
          inject: [TandemResources],
          useFactory: (resources: TandemResources) => resources.target,
        },
        StatusSampler,
        AuditedActions,
        {
          provide: JobRegistry,
          inject: [TANDEM_LOGGER],
          useFactory: (logger: Logger) => new JobRegistry(logger.child({ module: 'admin-jobs' })),
        },
        { provide: APP_GUARD, useClass: BearerAuthGuard },
        {
          provide: APP_FILTER,
          inject: [TANDEM_LOGGER],
          useFactory: (logger: Logger) => new AdminErrorFilter(logger.child({ module: 'admin' })),
        },
      ],
      exports: [ADMIN_TOKENS, STATUS_READER, SAMPLE_INTERVAL_MS, TARGET_POOL, StatusSampler, AuditedActions, JobRegistry],
    };
  }
}
