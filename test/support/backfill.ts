import { BackfillRequests, type BackfillListing } from '../../src/modules/capture/backfill/backfill-requests';
import type { TandemConfig } from '../../src/modules/config/config.schema';
import { validateConfig } from '../../src/modules/config/load-config';
import { CaptureService } from '../../src/modules/capture/capture.service';
import { createLogger } from '../../src/shared/logger';
import { env, eventually } from './services';

export function captureConfig(name: string, tables: string[], extra: { chunkSize?: number; mode?: 'initial' | 'never' } = {}): TandemConfig {
  return validateConfig(
    {
      source: {
        url: env.sourceUrl(),
        publication: name,
        slot: name,
        tables,
        snapshot: { mode: extra.mode ?? 'initial', chunkSize: extra.chunkSize ?? 1000 },
        heartbeatIntervalMs: 500,
      },
      kafka: { brokers: env.brokers(), topicPrefix: name, partitions: 3 },
      capture: { maxBatchEvents: 2000, maxBatchDelayMs: 50, statusIntervalMs: 60_000 },
    },
    'test',
  );
}

/** A capture running in this process, until stop(). */
export class InProcessCapture {
  readonly service: CaptureService;
  readonly running: Promise<void>;

  constructor(config: TandemConfig) {
    this.service = new CaptureService(config, createLogger('capture-test', 'silent'));
    this.running = this.service.run();
  }

  async streaming(): Promise<void> {
    await eventually(async () => {
      const role = this.service.status().role;
      if (role === 'stopped') await this.running;
      return role === 'streaming';
    }, 120_000, 'capture to stream');
  }

  async stop(): Promise<void> {
    await this.service.stop();
    await this.running;
  }
}

export async function listBackfills(config: TandemConfig): Promise<BackfillListing[]> {
  const requests = await BackfillRequests.open(config);
  try {
    return await requests.list();
  } finally {
    await requests.close();
  }
}

export async function requestBackfill(config: TandemConfig, table: string, where: string | null = null, chunkSize: number | null = null): Promise<string> {
  const requests = await BackfillRequests.open(config);
  try {
    return await requests.request(table, where, chunkSize);
  } finally {
    await requests.close();
  }
}

export async function waitForBackfill(config: TandemConfig, match: (b: BackfillListing) => boolean, until: (b: BackfillListing) => boolean, timeoutMs = 180_000): Promise<BackfillListing> {
  return eventually(async () => {
    const found = (await listBackfills(config)).find(match);
    return found && until(found) ? found : undefined;
  }, timeoutMs, 'the backfill');
}

interface CounterEvent {
  key: { id: number };
  value: { op: string; after: { id: number; counter: number } | null; source: { snapshot: string } };
}

/**
 * Folds the events of a table whose rows existed before capture streamed it (so an update or delete
 * may come for a key never seen), with a backfill's reads (op r) among them. Checks what a consumer
 * relies on: a read never disagrees with what the stream already told of that key (it is the row's
 * state where it sits in the log: no stale read), updates go up by exactly one from a known value,
 * and each key is read at most `maxReads` times.
 */
export function foldBackfilledCounters(events: CounterEvent[], maxReads = 1): { state: Map<number, number>; violations: string[]; reads: number } {
  const state = new Map<number, number>();
  const readsByKey = new Map<number, number>();
  const violations: string[] = [];
  let reads = 0;
  for (const event of events) {
    const id = event.key.id;
    const { op, after } = event.value;
    const known = state.get(id);
    if (op === 'd') state.delete(id);
    else if (op === 'c') {
      if (known !== undefined) violations.push(`insert of ${id} which exists (counter ${known})`);
      state.set(id, after!.counter);
    } else if (op === 'u') {
      if (known !== undefined && after!.counter !== known + 1) violations.push(`update of ${id} from ${known} to ${after!.counter}`);
      state.set(id, after!.counter);
    } else if (op === 'r') {
      reads += 1;
      if (event.value.source.snapshot !== 'incremental') violations.push(`read of ${id} with source.snapshot ${event.value.source.snapshot}`);
      const count = (readsByKey.get(id) ?? 0) + 1;
      readsByKey.set(id, count);
      if (count > maxReads) violations.push(`read of ${id} ${count} times`);
      if (known !== undefined && known !== after!.counter) violations.push(`read of ${id} at ${after!.counter} after the stream said ${known}`);
      state.set(id, after!.counter);
    }
  }
  return { state, violations, reads };
}
