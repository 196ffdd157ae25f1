import type { ClientBase as Client, Pool } from 'pg';
import type { Kafka } from 'kafkajs';
import { parseLsn } from '../../shared/lsn';
import { loadCheckpoints } from '../../connectors/postgres-target/checkpoint-store';
import { endOffsets } from '../../connectors/kafka/offsets';
import type { PartitionEnd } from '../../contracts/positions';
import { CutoverGateError } from '../../shared/errors';
import { describeLag, lagging } from './drain-gate';
import { slotConfirmedLsn } from './legacy-freeze';

/** How often the drained gate looks again: the freeze window waits on it, so it looks often (two small queries). */
const DRAIN_POLL_MS = 50;

export interface DrainInput {
  /** A connection to the legacy database, kept for the whole drain. */
  source: Client;
  target: Pool;
  kafka: Kafka;
  slot: string;
  /** Each projection's name and its topics. */
  projections: Array<{ name: string; topics: string[] }>;
  freezeLsn: string;
  timeoutMs: number;
}

/**
 * The drained gate: waits until capture confirmed the freeze LSN (everything up to it is in Kafka),
 * then until every projection applied every record below the end offsets its topics had at that
 * moment. Returns, per projection, the last applied offset of each partition.
 */
export async function drainToFreeze(input: DrainInput): Promise<Record<string, Record<string, string>>> {
  const deadline = Date.now() + input.timeoutMs;
  const target = parseLsn(input.freezeLsn);
  for (;;) {
    const confirmed = await slotConfirmedLsn(input.source, input.slot);
    if (confirmed !== null && parseLsn(confirmed) >= target) break;
    if (Date.now() > deadline) {
      throw new CutoverGateError(
        `drained gate: capture has not confirmed the freeze LSN ${input.freezeLsn} within ${input.timeoutMs} ms (slot ${input.slot} at ${confirmed ?? 'missing'}): is capture running?`,
      );
    }
    await sleep(DRAIN_POLL_MS);
  }
  const ends = new Map<string, PartitionEnd[]>();
  for (const projection of input.projections) ends.set(projection.name, await endOffsets(input.kafka, projection.topics));
  const offsets: Record<string, Record<string, string>> = {};
  for (;;) {
    const reasons: string[] = [];
    for (const { name } of input.projections) {
      const checkpoints = await loadCheckpoints(input.target, name);
      const behind = lagging(ends.get(name)!, checkpoints);
      if (behind.length > 0) reasons.push(describeLag(name, behind));
      offsets[name] = Object.fromEntries([...checkpoints].map(([id, c]) => [id, c.offset.toString()]));
    }
    if (reasons.length === 0) return offsets;
    if (Date.now() > deadline) {
      throw new CutoverGateError(
        `drained gate: projections still lag the freeze position after ${input.timeoutMs} ms: ${reasons.join('; ')}`,
      );
    }
    await sleep(DRAIN_POLL_MS);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
