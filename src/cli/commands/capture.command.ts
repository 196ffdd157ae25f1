import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Command } from 'commander';
import { loadConfig } from '../../modules/config/load-config';
import { ConfigModule, TANDEM_LOGGER } from '../../modules/config/config.module';
import { CaptureModule } from '../../modules/capture/capture.module';
import { CaptureService } from '../../modules/capture/capture.service';
import type { Logger } from '../../shared/logger';

export function registerCaptureCommand(program: Command): void {
  program
    .command('capture')
    .description('stream every committed change of the source tables into Kafka until SIGTERM/SIGINT')
    .requiredOption('-c, --config <file>', 'tandem.yaml')
    .option('--resnapshot', 'drop the slot and the stored position, and snapshot every table again')
    .action(async (options: { config: string; resnapshot?: boolean }) => {
      const config = loadConfig(options.config);
      @Module({ imports: [ConfigModule.forConfig(config), CaptureModule] })
      class CaptureApp {}
      const app = await NestFactory.createApplicationContext(CaptureApp, { logger: false });
      const capture = app.get(CaptureService);
      const logger = app.get<Logger>(TANDEM_LOGGER);
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, 'stopping: flushing and acknowledging');
        void capture.stop();
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
      try {
        await capture.run({ resnapshot: options.resnapshot });
        logger.info(capture.status(), 'capture stopped');
      } finally {
        await app.close();
      }
    });
}
