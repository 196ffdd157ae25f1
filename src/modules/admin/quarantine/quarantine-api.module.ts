import { Module } from '@nestjs/common';
import type { Pool } from 'pg';
import { TANDEM_CONFIG } from '../../config/config.module';
import type { TandemConfig } from '../../config/config.schema';
import { DeadLetterService } from '../../projection/dead-letter.service';
import { TARGET_POOL } from '../http/audited-action';
import { QuarantineController } from './quarantine.controller';

/** Quarantine list and re-drive, through `tandem dlq`'s DeadLetterService. */
@Module({
  controllers: [QuarantineController],
  providers: [
    {
      provide: DeadLetterService,
      inject: [TARGET_POOL, TANDEM_CONFIG],
      useFactory: (pool: Pool, config: TandemConfig) => new DeadLetterService(pool, config.kafka.topicPrefix),
    },
  ],
})
export class QuarantineApiModule {}
