import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import type { Kafka } from 'kafkajs';
import { TANDEM_CONFIG, TANDEM_LOGGER } from '../config/config.module';
import type { TandemConfig } from '../config/config.schema';
import type { Logger } from '../../shared/logger';
import { createKafka } from '../../connectors/kafka/kafka-client';
import { sourcePool, targetPool } from './target-pool';

/** Retries of `kafkaFailFast`: a reader that reports an unreachable Kafka answers in a second, not after a minute. */
const FAIL_FAST_RETRIES = 1;

/**
 * The connections one Tandem process shares: the target pool, the source pool and the Kafka client,
 * each opened on first use and closed once, by the composition root (TandemModule) after the
 * services that use them have stopped. Services take them from here and never end them.
 */
@Injectable()
export class TandemResources {
  private targetValue: Pool | null = null;
  private sourceValue: Pool | null = null;
  private kafkaValue: Kafka | null = null;
  private kafkaFailFastValue: Kafka | null = null;

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

  /**
   * The same client with one retry, for readers whose job includes saying that Kafka is unreachable
   * (status): kafkajs takes its connection retries from the client, not from the admin.
   */
  get kafkaFailFast(): Kafka {
    return (this.kafkaFailFastValue ??= createKafka(this.config.kafka, this.config.kafka.clientId, this.logger, FAIL_FAST_RETRIES));
  }

  async close(): Promise<void> {
    const pools = [this.targetValue, this.sourceValue];
    this.targetValue = this.sourceValue = this.kafkaValue = this.kafkaFailFastValue = null;
    await Promise.all(pools.map((pool) => pool?.end()));
  }
}

/**
 * The resources of a service: the process's when given (the application context closes them), else
 * a set of its own for a service constructed outside an application context (a test, a bench, a
 * script), which `closeOwn()` closes.
 */
export function sharedOrOwnResources(
  shared: TandemResources | undefined,
  config: TandemConfig,
  logger: Logger,
): { resources: TandemResources; closeOwn: () => Promise<void> } {
  if (shared) return { resources: shared, closeOwn: async () => undefined };
  const own = new TandemResources(config, logger);
  return { resources: own, closeOwn: () => own.close() };
}

/** Runs `work` with `shared` when given, else with resources of its own, closed afterwards. */
export async function withResources<T>(
  shared: TandemResources | undefined,
  config: TandemConfig,
  logger: Logger,
  work: (resources: TandemResources) => Promise<T>,
): Promise<T> {
  const { resources, closeOwn } = sharedOrOwnResources(shared, config, logger);
  try {
    return await work(resources);
  } finally {
    await closeOwn();
  }
}

/**
 * A capability's service over the process's connections: `resources` are the application context's
 * when given, else the service's own (constructed outside an application context: a test, a bench, a
 * script), which `closeOwnResources()` closes.
 */
export abstract class TandemService {
  readonly resources: TandemResources;
  private readonly closeOwn: () => Promise<void>;

  constructor(
    protected readonly config: TandemConfig,
    protected readonly logger: Logger,
    resources?: TandemResources,
  ) {
    ({ resources: this.resources, closeOwn: this.closeOwn } = sharedOrOwnResources(resources, config, logger));
  }

  /** Closes the connections the service opened itself; the process's close with the application. */
  protected async closeOwnResources(): Promise<void> {
    await this.closeOwn();
  }
}
