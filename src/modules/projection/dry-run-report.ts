import { planStatements } from '../../connectors/postgres-target/row-writer';
import {
  batchOperations,
  sourcedOperations,
  type BatchItem,
} from '../../projections/framework/batch-applier';
import type { ProjectionDefinition } from '../../projections/framework/define-projection';
import { scrubSecrets, sensitiveValuesOfRecord } from '../../projections/framework/sensitive-fields';

export interface DryRunSummary {
  events: number;
  rows: Record<string, { upserts: number; deletes: number }>;
  idMappings: number;
  quarantined: Array<{ topic: string; partition: number; offset: string; reason: string }>;
}

const MAX_PARAMETER_CHARS = 400;

/** What `tandem project --dry-run` prints: the SQL it would run with its parameters, the id mappings, a summary. */
export class DryRunReport {
  readonly summary: DryRunSummary = { events: 0, rows: {}, idMappings: 0, quarantined: [] };

  constructor(private readonly write: (line: string) => void) {}

  add(definition: ProjectionDefinition<unknown>, items: BatchItem[]): void {
    this.summary.events += items.length;
    // The projection's sensitive source values never print, in a reason or a parameter.
    const secrets = items.flatMap((item) => sensitiveValuesOfRecord(definition, item.record));
    for (const item of items) {
      if (item.decoded.kind === 'reject') {
        const { topic, partition, offset } = item.record;
        const reason = scrubSecrets(item.decoded.reason, secrets);
        this.summary.quarantined.push({ topic, partition, offset: offset.toString(), reason });
        this.write(`-- would quarantine ${topic}[${partition}]@${offset}: ${reason}`);
        continue;
      }
      for (const { operation } of sourcedOperations(item)) {
        if (operation.op === 'mapId') {
          this.summary.idMappings += 1;
          this.write(`-- id map ${operation.entity}: ${operation.sourceId} -> ${operation.targetId}`);
          continue;
        }
        const counts = (this.summary.rows[`${definition.schema}.${operation.table}`] ??= {
          upserts: 0,
          deletes: 0,
        });
        if (operation.op === 'upsert') counts.upserts += 1;
        else counts.deletes += 1;
      }
    }
    for (const statement of planStatements(
      definition.name,
      definition.schema,
      batchOperations(definition, items),
    )) {
      this.write(`${statement.text.replace(/\s+/g, ' ')};`);
      statement.values.forEach((value, index) => {
        const text = scrubSecrets(typeof value === 'string' ? value : JSON.stringify(value), secrets);
        this.write(
          `--   $${index + 1} = ${text.length > MAX_PARAMETER_CHARS ? `${text.slice(0, MAX_PARAMETER_CHARS)}… (${text.length} chars)` : text}`,
        );
      });
    }
  }

  render(): string {
    const lines = [`dry run: ${this.summary.events} events read, nothing written`];
    for (const [table, counts] of Object.entries(this.summary.rows)) {
      lines.push(
        `  ${table.padEnd(40)} ${String(counts.upserts).padStart(8)} upserts ${String(counts.deletes).padStart(8)} deletes`,
      );
    }
    lines.push(`  id mappings: ${this.summary.idMappings}`);
    lines.push(`  quarantined: ${this.summary.quarantined.length}`);
    for (const entry of this.summary.quarantined.slice(0, 20))
      lines.push(`    ${entry.topic}[${entry.partition}]@${entry.offset}: ${entry.reason}`);
    return lines.join('\n');
  }
}
