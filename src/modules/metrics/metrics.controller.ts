import { Controller, Get, Inject, Res } from '@nestjs/common';
import { StatusSampler } from '../status/server-status-sampler';
import { TandemMetrics } from './tandem-metrics';

interface TextResponse {
  setHeader(name: string, value: string): void;
  send(body: string): void;
}

/** GET /metrics (viewer token, like every data route): the status gauges, read at most once per sample interval. */
@Controller('metrics')
export class MetricsController {
  constructor(
    @Inject(TandemMetrics) private readonly metrics: TandemMetrics,
    @Inject(StatusSampler) private readonly sampler: StatusSampler,
  ) {}

  @Get()
  async scrape(@Res() response: TextResponse): Promise<void> {
    this.metrics.observe(await this.sampler.current());
    response.setHeader('Content-Type', this.metrics.registry.contentType);
    response.send(await this.metrics.registry.metrics());
  }
}
