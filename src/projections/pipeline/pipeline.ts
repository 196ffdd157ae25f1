import type { LogRecord } from '../../contracts/positions';
import type { Quarantined } from '../framework/batch-applier';
import type { ProjectionDefinition } from '../framework/define-projection';
import { chunkByTransaction } from './chunker';
import { decodeRecords } from './decoder';
import type { ChunkResult, ProjectionSink } from './sink';

export interface Pipeline {
  definition: ProjectionDefinition<unknown>;
  topicPrefix: string;
  /** Events per target transaction at most (a source transaction is kept whole, see chunker.ts). */
  maxBatchEvents: number;
  sink: ProjectionSink;
}

export interface PipelineTotals {
  applied: number;
  quarantined: Quarantined[];
}

/**
 * The one projection pipeline: decode the records, chunk them by source transaction, and hand each
 * chunk to the sink. `afterChunk` runs after each chunk (the runner's heartbeat and status).
 */
export async function runPipeline(
  pipeline: Pipeline,
  records: LogRecord[],
  afterChunk?: (result: ChunkResult) => Promise<void>,
): Promise<PipelineTotals> {
  const items = decodeRecords(pipeline.definition, pipeline.topicPrefix, records);
  const totals: PipelineTotals = { applied: 0, quarantined: [] };
  for (const chunk of chunkByTransaction(items, pipeline.maxBatchEvents)) {
    const result = await pipeline.sink.write(chunk);
    totals.applied += result.applied;
    for (const entry of result.quarantined) totals.quarantined.push(entry);
    await afterChunk?.(result);
  }
  return totals;
}
