import { Module } from '@nestjs/common';
import type { Pool } from 'pg';
import type { Logger } from '../../../shared/logger';
import { TANDEM_CONFIG, TANDEM_LOGGER } from '../../config/config.module';
import type { TandemConfig } from '../../config/config.schema';
import { DeadLetterService, deadLetterService } from '../../projection/dead-letter.service';
import { TARGET_POOL } from '../http/audited-action';
import { QuarantineController } from './quarantine.controller';

/** Quarantine list and re-drive, through `tandem dlq`'s DeadLetterService. */
@Module({
  controllers: [QuarantineController],
  providers: [
    {
      provide: DeadLetterService,
      inject: [TARGET_POOL, TANDEM_CONFIG, TANDEM_LOGGER],
      useFactory: (pool: Pool, config: TandemConfig, logger: Logger) =>
        deadLetterService(pool, config, logger.child({ module: 'dlq' })),
    },
  ],
})
export class QuarantineApiModule {}
