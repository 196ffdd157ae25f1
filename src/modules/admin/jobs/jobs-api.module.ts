import { Module } from '@nestjs/common';
import { JobsController } from './jobs.controller';

/** Polling of long operations (the registry itself is shared through AdminCoreModule). */
@Module({ controllers: [JobsController] })
export class JobsApiModule {}
