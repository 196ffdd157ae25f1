import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext } from '@nestjs/common';
import type { TandemConfig } from '../modules/config/config.schema';
import { TandemModule } from '../app/tandem.module';

/**
 * Runs a command inside an application context of the composition root (TandemModule): the command
 * takes its services from `app`, and every pool and client the services opened is closed afterwards,
 * whether the command succeeded or threw.
 */
export async function runInContext<T>(config: TandemConfig, work: (app: INestApplicationContext) => Promise<T>): Promise<T> {
  const app = await NestFactory.createApplicationContext(TandemModule.forConfig(config), { logger: false, abortOnError: false });
  try {
    return await work(app);
  } finally {
    await app.close();
  }
}
