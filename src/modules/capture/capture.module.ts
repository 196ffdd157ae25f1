import { Module } from '@nestjs/common';
import { TANDEM_CONFIG, TANDEM_LOGGER } from '../config/config.module';
import type { TandemConfig } from '../config/config.schema';
import type { Logger } from '../../shared/logger';
import { CaptureService } from './capture.service';

@Module({
  providers: [
    {
      provide: CaptureService,
      inject: [TANDEM_CONFIG, TANDEM_LOGGER],
      useFactory: (config: TandemConfig, logger: Logger) => new CaptureService(config, logger.child({ module: 'capture' })),
    },
  ],
  exports: [CaptureService],
})
export class CaptureModule {}
