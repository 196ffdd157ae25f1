import type { TandemConfig } from '../../config/config.schema';
import type { Logger } from '../../../shared/logger';
import { TandemResources } from '../../core/tandem-resources';
import { KafkaTopicOffsetsReader } from '../../status/kafka-offsets-reader';
import type { StatusReaders, TopicOffsetsReader } from '../../status/status-readers';
import type { PartitionEnd } from '../../../contracts/positions';
import { StatusService, statusReaders } from '../../status/status.service';

/**
 * Topic end offsets over a Kafka connection opened for each read and closed after it. kafkajs 2.2.4
 * keeps every open connection in a 1 ms timer loop (tulios/kafkajs#1556, #1704): an admin connection
 * held between reads cost the idle server about 4 % of a core; one per read every 2 s costs a few ms.
 */
class ConnectPerReadOffsets implements TopicOffsetsReader {
  constructor(private readonly open: () => KafkaTopicOffsetsReader) {}

  async endOffsets(topics: string[]): Promise<PartitionEnd[]> {
    const reader = this.open();
    try {
      return await reader.endOffsets(topics);
    } finally {
      await reader.close();
    }
  }

  async close(): Promise<void> {}
}

/**
 * The window the server's rates are measured over: a few samples, like the 2 s of `tandem status`.
 * Over the minute StatusService uses by default, a projection that applied 1,000 events and then
 * went idle showed 16.7 events/s on the status page for a minute while the CLI said 0.
 */
export function serverRateWindowMs(sampleIntervalMs: number): number {
  return Math.max(5000, 2.5 * sampleIntervalMs);
}

/** The StatusService `tandem serve` samples, over the process's pools, holding no Kafka connection between samples. */
export function statusServiceForServer(config: TandemConfig, logger: Logger, readersOrResources: StatusReaders | TandemResources): StatusService {
  const readers =
    readersOrResources instanceof TandemResources
      ? statusReaders(config, readersOrResources, new ConnectPerReadOffsets(() => new KafkaTopicOffsetsReader(readersOrResources.kafkaFailFast)))
      : readersOrResources;
  return new StatusService(config, logger, readers, { rateWindowMs: serverRateWindowMs(config.admin.sampleIntervalMs) });
}
