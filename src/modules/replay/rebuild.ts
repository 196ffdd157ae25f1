import type { Kafka } from 'kafkajs';
import type { Logger } from '../../shared/logger';
import { createProgress } from '../../shared/progress';
import { endOffsets } from '../../connectors/kafka/offsets';
import { replayGroupPrefix } from '../../contracts/names';
import { topicsOf, type ProjectionDefinition } from '../../projections/framework/define-projection';
import { runPipeline } from '../../projections/pipeline/pipeline';
import type { ProjectionSink } from '../../projections/pipeline/sink';
import type { ExportFile } from './export-file';
import { readToCut, type CutReadResult } from './log-reader';
import type { Cut } from './position';

export interface RebuildRequest {
  kafka: Kafka;
  logger: Logger;
  definition: ProjectionDefinition<unknown>;
  topicPrefix: string;
  maxBatchEvents: number;
  cut: Cut;
  /** The shadow schema (shadow-sink.ts), or a plan for a dry run (plan-sink.ts). */
  sink: ProjectionSink;
  /** Rollback: the events after the cut go here. */
  exportFile: ExportFile | null;
  /** For the progress line: 'replay' or 'rollback'. */
  kind: string;
}

export interface Rebuilt {
  read: CutReadResult;
  applied: number;
  quarantined: number;
}

/** Reads the projection's log from its start to the cut and puts it through the projection pipeline into the sink. */
export async function rebuildToCut(request: RebuildRequest): Promise<Rebuilt> {
  const { kafka, definition, topicPrefix, exportFile } = request;
  const topics = topicsOf(definition, topicPrefix);
  // The whole log as the total (a cut before its end finishes early; transaction markers count too).
  const logSize = (await endOffsets(kafka, topics)).reduce((sum, p) => sum + Number(p.end - p.low), 0);
  const progress = createProgress(`${request.kind} ${definition.name}`, logSize, request.logger);
  const pipeline = { definition, topicPrefix, maxBatchEvents: request.maxBatchEvents, sink: request.sink };
  let applied = 0;
  let quarantined = 0;
  const read = await readToCut({
    kafka,
    groupPrefix: replayGroupPrefix(topicPrefix, definition.name),
    topics,
    cut: request.cut,
    inside: async (records) => {
      progress.increment(records.length);
      const totals = await runPipeline(pipeline, records);
      applied += totals.applied;
      quarantined += totals.quarantined.length;
    },
    after: exportFile
      ? (records) => {
          progress.increment(records.length);
          return exportFile.write(definition.name, records);
        }
      : undefined,
  });
  progress.stop();
  if (exportFile) await exportFile.close();
  return { read, applied, quarantined };
}
