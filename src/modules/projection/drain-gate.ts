// The drain gate's pieces, with the projections (the cutover's drained gate and reconciliation's settling use them).
import type { Checkpoint } from '../../connectors/postgres-target/checkpoint-store';
import { partitionId } from '../../connectors/postgres-target/checkpoint-store';
import { caughtUp, type PartitionEnd } from '../../contracts/positions';

export interface PartitionLag {
  topic: string;
  partition: number;
  end: bigint;
  /** The projection's last applied offset, null when it applied nothing from this partition. */
  applied: bigint | null;
}

/** The partitions whose records a projection has not all applied (caught up: contracts/positions.ts). */
export function lagging(ends: PartitionEnd[], checkpoints: Map<string, Checkpoint>): PartitionLag[] {
  const behind: PartitionLag[] = [];
  for (const { topic, partition, low, end } of ends) {
    const applied = checkpoints.get(partitionId(topic, partition))?.offset ?? null;
    if (caughtUp(low, end, applied)) continue;
    behind.push({ topic, partition, end, applied });
  }
  return behind;
}

export function describeLag(projection: string, behind: PartitionLag[]): string {
  return behind
    .map((p) => `${projection}: ${p.topic}#${p.partition} applied ${p.applied === null ? 'nothing' : `up to offset ${p.applied}`}, end offset ${p.end}`)
    .join('; ');
}
