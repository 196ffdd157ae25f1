import { Module } from '@nestjs/common';
import { QuarantineController } from './quarantine.controller';

/** Quarantine list and re-drive, through the composition root's DeadLetterService. */
@Module({ controllers: [QuarantineController] })
export class QuarantineApiModule {}
