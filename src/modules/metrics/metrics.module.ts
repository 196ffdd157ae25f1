import { Module } from '@nestjs/common';
import { MetricsController } from './metrics.controller';
import { TandemMetrics } from './tandem-metrics';

@Module({
  controllers: [MetricsController],
  providers: [{ provide: TandemMetrics, useFactory: () => new TandemMetrics() }],
  exports: [TandemMetrics],
})
export class MetricsModule {}
