import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext } from '@nestjs/common';
import { TandemModule } from '../../src/app/tandem.module';
import { loadConfig } from '../../src/modules/config/load-config';

/**
 * The composition root's application context for a config file, in the test's own process: the same
 * services and shared connections a CLI command gets (cli/run-in-context.ts). Close it in afterAll.
 */
export function tandemContext(configFile: string): Promise<INestApplicationContext> {
  // the file holds every address, like the child processes get it
  return NestFactory.createApplicationContext(TandemModule.forConfig(loadConfig(configFile, {})), { logger: false, abortOnError: false });
}
