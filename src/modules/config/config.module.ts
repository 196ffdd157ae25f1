import { Module, type DynamicModule } from '@nestjs/common';
import type { TandemConfig } from './config.schema';
import { createLogger } from '../../shared/logger';

export const TANDEM_CONFIG = Symbol('TANDEM_CONFIG');
export const TANDEM_LOGGER = Symbol('TANDEM_LOGGER');

/** The configuration, validated once at start-up (load-config.ts), and the logger, for every module. */
@Module({})
export class ConfigModule {
  static forConfig(config: TandemConfig): DynamicModule {
    return {
      module: ConfigModule,
      global: true,
      providers: [
        { provide: TANDEM_CONFIG, useValue: config },
        { provide: TANDEM_LOGGER, useValue: createLogger('tandem') },
      ],
      exports: [TANDEM_CONFIG, TANDEM_LOGGER],
    };
  }
}
