import { Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from '../../../shared/logger';
import { TANDEM_CONFIG, TANDEM_LOGGER } from '../../config/config.module';
import type { TandemConfig } from '../../config/config.schema';
import { CutoverService } from '../../cutover/cutover.service';
import { CutoverController } from './cutover.controller';

/** The cutover state machine, through `tandem cutover`'s CutoverService. */
@Module({
  controllers: [CutoverController],
  providers: [
    {
      provide: CutoverService,
      inject: [TANDEM_CONFIG, TANDEM_LOGGER],
      useFactory: (config: TandemConfig, logger: Logger) =>
        new CutoverService(config, logger.child({ module: 'cutover' })),
    },
  ],
})
export class CutoverApiModule implements OnApplicationShutdown {
  constructor(@Inject(CutoverService) private readonly service: CutoverService) {}

  async onApplicationShutdown(): Promise<void> {
    await this.service.close();
  }
}
