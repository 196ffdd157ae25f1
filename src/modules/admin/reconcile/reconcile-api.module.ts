import { Module } from '@nestjs/common';
import type { Logger } from '../../../shared/logger';
import { TANDEM_CONFIG, TANDEM_LOGGER } from '../../config/config.module';
import type { TandemConfig } from '../../config/config.schema';
import { ReconciliationService } from '../../reconciliation/reconciliation.service';
import { ReconcileController } from './reconcile.controller';

/** Reconciliation runs and stored reports, through `tandem reconcile`'s ReconciliationService. */
@Module({
  controllers: [ReconcileController],
  providers: [
    {
      provide: ReconciliationService,
      inject: [TANDEM_CONFIG, TANDEM_LOGGER],
      useFactory: (config: TandemConfig, logger: Logger) =>
        new ReconciliationService(config, logger.child({ module: 'reconcile' })),
    },
  ],
})
export class ReconcileApiModule {}
