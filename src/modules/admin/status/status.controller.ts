import { Controller, Get, Inject } from '@nestjs/common';
import type { Pool } from 'pg';
import { loadCheckpoints } from '../../../connectors/postgres-target/checkpoint-store';
import { formatLsn } from '../../../shared/lsn';
import { TANDEM_CONFIG } from '../../config/config.module';
import type { TandemConfig } from '../../config/config.schema';
import { projectionDefinitions } from '../../projection/projection.service';
import type { PipelineStatus } from '../../status/pipeline-status';
import { TARGET_POOL } from '../http/audited-action';
import { SAMPLE_INTERVAL_MS, StatusSampler, type StatusSample } from '../../status/server-status-sampler';

@Controller('api')
export class StatusController {
  constructor(
    @Inject(StatusSampler) private readonly sampler: StatusSampler,
    @Inject(SAMPLE_INTERVAL_MS) private readonly intervalMs: number,
    @Inject(TARGET_POOL) private readonly pool: Pool,
    @Inject(TANDEM_CONFIG) private readonly config: TandemConfig,
  ) {}

  @Get('status')
  status(): Promise<PipelineStatus> {
    return this.sampler.current();
  }

  @Get('status/history')
  history(): { intervalMs: number; samples: StatusSample[] } {
    return { intervalMs: this.intervalMs, samples: this.sampler.history() };
  }

  @Get('lag')
  async lag() {
    const status = await this.sampler.current();
    return {
      readAt: status.readAt,
      source: status.source.map(({ slot, lagBytes, lagSeconds, retainedWalBytes, confirmedFlushLsn }) => ({
        slot,
        lagBytes,
        lagSeconds,
        retainedWalBytes,
        confirmedFlushLsn,
      })),
      projections: status.projections.map(({ projection, lagEvents, lagSeconds, partitions }) => ({
        projection,
        lagEvents,
        lagSeconds,
        partitions,
      })),
    };
  }

  @Get('checkpoints')
  async checkpoints() {
    const result = [];
    for (const definition of projectionDefinitions(this.config)) {
      const checkpoints = await loadCheckpoints(this.pool, definition.name);
      result.push({
        projection: definition.name,
        partitions: [...checkpoints.values()]
          .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition)
          .map((c) => ({
            topic: c.topic,
            partition: c.partition,
            offset: Number(c.offset),
            commitLsn: c.commitLsn === null ? null : formatLsn(c.commitLsn),
          })),
      });
    }
    return result;
  }
}
