import type { LogRecord } from '../../contracts/positions';
import type { PlannedStatements, Quarantined } from '../framework/batch-applier';
import type { ProjectionDefinition } from '../framework/define-projection';
import { MAX_CHUNK_BYTES, writeInChunks } from './chunker';
import { decodeItem } from './decoder';
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
 * The one projection pipeline: decode the records, chunk them by source transaction (and size), and
 * hand each chunk to the sink, decoding (and, for a sink that plans ahead, planning) the next chunk while the sink writes the current one. `afterChunk` runs after each chunk (the runner's heartbeat and status).
 */
export async function runPipeline(
  pipeline: Pipeline,
  records: LogRecord[],
  afterChunk?: (result: ChunkResult) => Promise<void>,
): Promise<PipelineTotals> {
  const totals: PipelineTotals = { applied: 0, quarantined: [] };
  const { sink } = pipeline;
  // the next chunk is decoded and planned while the sink writes this one (chunker.ts)
  await writeInChunks<PlannedStatements>(
    records,
    (record) => decodeItem(pipeline.definition, pipeline.topicPrefix, record),
    { maxEvents: pipeline.maxBatchEvents, maxBytes: MAX_CHUNK_BYTES },
    async (chunk, planned) => {
      const result = await sink.write(chunk, planned);
      totals.applied += result.applied;
      for (const entry of result.quarantined) totals.quarantined.push(entry);
      await afterChunk?.(result);
    },
    sink.planAhead?.bind(sink),
  );
  return totals;
}
