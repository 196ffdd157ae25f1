import { Module } from '@nestjs/common';
import { CutoverController } from './cutover.controller';

/** The cutover state machine, through the composition root's CutoverService. */
@Module({ controllers: [CutoverController] })
export class CutoverApiModule {}
