import { Module } from '@nestjs/common';
import { ReplayController } from './replay.controller';

/** Replay and backups, through the composition root's ReplayService. */
@Module({ controllers: [ReplayController] })
export class ReplayApiModule {}
