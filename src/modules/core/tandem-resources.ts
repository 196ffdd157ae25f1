import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { Pool } from 'pg';
import type { Kafka } from 'kafkajs';
import { TANDEM_CONFIG, TANDEM_LOGGER } from '../config/config.module';
import type { TandemConfig } from '../config/config.schema';
import type { Logger } from '../../shared/logger';
import { createKafka } from '../../connectors/kafka/kafka-client';
import { sourcePool, targetPool } from './target-pool';

/**
 * The connections one Tandem process shares: the target pool, the source pool and the Kafka client,
 * each opened on first use and closed once, when the application shuts down. Services take them
 * from here and never end them.
 */
@Injectable()
export class TandemResources implements OnApplicationShutdown {
  private targetValue: Pool | null = null;
  private sourceValue: Pool | null = null;
  private kafkaValue: Kafka | null = null;

  constructor(
    @Inject(TANDEM_CONFIG) readonly config: TandemConfig,
    @Inject(TANDEM_LOGGER) private readonly logger: Logger,
  ) {}

  get target(): Pool {
    return (this.targetValue ??= targetPool(this.config, this.logger));
  }

  get source(): Pool {
    return (this.sourceValue ??= sourcePool(this.config, this.logger));
  }

  /** kafkajs's Kafka is a factory of producers, consumers and admins; whoever connects one disconnects it. */
  get kafka(): Kafka {
    return (this.kafkaValue ??= createKafka(this.config.kafka, this.config.kafka.clientId, this.logger));
  }

  async close(): Promise<void> {
    const pools = [this.targetValue, this.sourceValue];
    this.targetValue = this.sourceValue = this.kafkaValue = null;
    await Promise.all(pools.map((pool) => pool?.end()));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }
}

/**
 * Runs `work` with `shared` when the service was given the process's resources, else with resources of
 * its own, closed afterwards (a service constructed outside an application context, e.g. by a script).
 */
export async function withResources<T>(
  shared: TandemResources | undefined,
  config: TandemConfig,
  logger: Logger,
  work: (resources: TandemResources) => Promise<T>,
): Promise<T> {
  if (shared) return work(shared);
  const own = new TandemResources(config, logger);
  try {
    return await work(own);
  } finally {
    await own.close();
  }
}
