import { Inject, Module, type OnModuleDestroy } from '@nestjs/common';
import { TANDEM_CONFIG, TANDEM_LOGGER } from '../config/config.module';
import type { TandemConfig } from '../config/config.schema';
import type { Logger } from '../../shared/logger';
import { StatusService } from './status.service';

/** Provides one StatusService per application (it keeps the samples rates and charts come from). */
@Module({
  providers: [
    {
      provide: StatusService,
      inject: [TANDEM_CONFIG, TANDEM_LOGGER],
      useFactory: (config: TandemConfig, logger: Logger) =>
        new StatusService(config, logger.child({ module: 'status' })),
    },
  ],
  exports: [StatusService],
})
export class StatusModule implements OnModuleDestroy {
  constructor(@Inject(StatusService) private readonly status: StatusService) {}

  async onModuleDestroy(): Promise<void> {
    await this.status.close();
  }
}
