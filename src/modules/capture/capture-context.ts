import type { Kafka } from 'kafkajs';
import type { TandemConfig } from '../config/config.schema';
import type { Logger } from '../../shared/logger';
import type { RecordCommitter } from '../../connectors/kafka/transactional-producer';
import { ColumnPolicy } from '../../connectors/postgres-source/column-policy';
import { serializeState, type CaptureState } from './capture-state';
import { ResumePointCipher } from './resume-point-cipher';
import { captureNames } from '../../contracts/names';

/** Names capture uses in Kafka for the configured slot (contracts/names.ts). */
export const captureNamesOf = (config: TandemConfig) => captureNames(config.kafka.topicPrefix, config.source.slot);

/** What the snapshot and the stream share: the config, Kafka, and the state they commit with their events. */
export class CaptureContext {
  readonly names: ReturnType<typeof captureNamesOf>;

  constructor(
    readonly config: TandemConfig,
    readonly kafka: Kafka,
    readonly producer: RecordCommitter,
    readonly logger: Logger,
    public state: CaptureState,
    /** Columns left out of Kafka or masked (source.columns). */
    readonly columns: ColumnPolicy = ColumnPolicy.none,
    /** Seals a masked key's values in the resume points of the state. */
    readonly resumePoints: ResumePointCipher = ResumePointCipher.none,
  ) {
    this.names = captureNamesOf(config);
  }

  /** Produces `records` and the new state in one Kafka transaction; the state is kept only once committed. */
  async commit(records: Parameters<RecordCommitter['commit']>[0], next: CaptureState): Promise<void> {
    await this.producer.commit(records, {
      topic: this.names.stateTopic,
      key: this.names.stateKey,
      value: serializeState(next, this.resumePoints),
      groupId: this.names.stateGroup,
    });
    this.state = next;
  }
}
