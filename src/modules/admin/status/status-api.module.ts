import { Module } from '@nestjs/common';
import { StatusController } from './status.controller';

/** GET status, lag, checkpoints and the sample history. */
@Module({ controllers: [StatusController] })
export class StatusApiModule {}
