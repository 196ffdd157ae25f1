import type { TandemConfig } from '../config/config.schema';
import type { Logger } from '../../shared/logger';
import { ConfigError } from '../../shared/errors';
import type { TandemResources } from '../core/tandem-resources';
import { CHANGE_TOPIC_CONFIG, ensureTopics } from '../../connectors/kafka/topic-admin';
import { TransactionalProducer } from '../../connectors/kafka/transactional-producer';
import { createProgress } from '../../shared/progress';
import { RECIPES } from '../../projections/recipes';
import { importEvent } from './import-envelope';
import { importTopic, importTransactionalId } from '../../contracts/names';

export interface ImportSummary {
  recipe: string;
  files: string[];
  records: number;
  perTable: Record<string, number>;
  dryRun: boolean;
}

/**
 * `tandem import`: reads a recipe's export files, validates every record before writing anything,
 * then appends them to the recipe's import topics in one Kafka transaction (all or nothing).
 */
export class ImportService {
  constructor(
    private readonly config: TandemConfig,
    private readonly logger: Logger,
    private readonly resources: TandemResources,
  ) {}

  async run(recipeName: string, files: string[], options: { dryRun?: boolean } = {}): Promise<ImportSummary> {
    const recipe = RECIPES[recipeName];
    if (!recipe) throw new ConfigError(`--recipe: no recipe named "${recipeName}" (recipes: ${Object.keys(RECIPES).join(', ')})`);
    if (!recipe.importer) throw new ConfigError(`--recipe: the "${recipeName}" recipe reads no export files`);
    const records = recipe.importer.read(files);
    const perTable: Record<string, number> = {};
    for (const record of records) perTable[record.table] = (perTable[record.table] ?? 0) + 1;
    const summary = { recipe: recipeName, files, records: records.length, perTable, dryRun: options.dryRun === true };
    if (options.dryRun || records.length === 0) return summary;

    const { topicPrefix, partitions, replicationFactor } = this.config.kafka;
    const kafka = this.resources.kafka;
    await ensureTopics(
      kafka,
      Object.keys(perTable).map((table) => ({ topic: importTopic(topicPrefix, table), partitions, config: CHANGE_TOPIC_CONFIG })),
      replicationFactor,
    );
    const producer = new TransactionalProducer(kafka, importTransactionalId(topicPrefix, recipeName));
    await producer.connect();
    const progress = createProgress(`import ${recipeName}`, records.length, this.logger);
    try {
      const now = Date.now();
      await producer.commit(
        records.map((record) => importEvent(topicPrefix, record, now)),
        undefined,
        (sent) => progress.increment(sent),
      );
    } finally {
      progress.stop();
      await producer.disconnect();
    }
    return summary;
  }
}
