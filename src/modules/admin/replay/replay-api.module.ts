import { Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from '../../../shared/logger';
import { TANDEM_CONFIG, TANDEM_LOGGER } from '../../config/config.module';
import type { TandemConfig } from '../../config/config.schema';
import { ReplayService } from '../../replay/replay.service';
import { ReplayController } from './replay.controller';

/** Replay and backups, through `tandem replay`/`tandem backup`'s ReplayService. */
@Module({
  controllers: [ReplayController],
  providers: [
    {
      provide: ReplayService,
      inject: [TANDEM_CONFIG, TANDEM_LOGGER],
      useFactory: (config: TandemConfig, logger: Logger) =>
        new ReplayService(config, logger.child({ module: 'replay' })),
    },
  ],
})
export class ReplayApiModule implements OnApplicationShutdown {
  constructor(@Inject(ReplayService) private readonly service: ReplayService) {}

  async onApplicationShutdown(): Promise<void> {
    await this.service.close();
  }
}
