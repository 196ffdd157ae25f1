import { Module } from '@nestjs/common';
import { ReconcileController } from './reconcile.controller';

/** Reconciliation runs and stored reports, through the composition root's ReconciliationService. */
@Module({ controllers: [ReconcileController] })
export class ReconcileApiModule {}
