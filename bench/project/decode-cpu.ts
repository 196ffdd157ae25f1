/**
 * The projector's own CPU per event, without Kafka or PostgreSQL (not a test: nothing here asserts
 * a timing): app-state change events built by the demo generator, decoded, planned into statements
 * and their parameters, batch by batch, as the projector does before it writes.
 *
 *   node -r ts-node/register/transpile-only bench/project/decode-cpu.ts [--users 2000] [--batch 1000] [--rounds 3]
 *   node --cpu-prof --cpu-prof-dir=.tandem/prof -r ts-node/register/transpile-only bench/project/decode-cpu.ts
 */
import { appStateRecords } from './app-state-records';
import { RECIPES } from '../../src/projections/recipes';
import { decodeRecord } from '../../src/projections/framework/event-decoder';
import { batchOperations, type BatchItem } from '../../src/projections/framework/batch-applier';
import { planStatements } from '../../src/connectors/postgres-target/row-writer';
import { arg } from '../cli-args';

const users = Number(arg('users', '2000'));
const batch = Number(arg('batch', '1000'));
const rounds = Number(arg('rounds', '3'));
const prefix = 'bench';
const definition = RECIPES['app-state'].projection({ sourceSchema: 'public', env: process.env });
const topic = `${prefix}.public.user_app_state`;

const all = appStateRecords(users, topic);
let statements = 0;
let parameterBytes = 0;
for (let round = 0; round < rounds; round++) {
  const started = process.cpuUsage();
  for (let start = 0; start < all.length; start += batch) {
    const items: BatchItem[] = all.slice(start, start + batch).map((record) => ({
      record,
      decoded: decodeRecord(definition, prefix, record),
    }));
    const rejected = items.filter((item) => item.decoded.kind === 'reject');
    if (rejected.length > 0) throw new Error(JSON.stringify((rejected[0].decoded as { reason: string }).reason));
    const planned = planStatements(definition.name, definition.schema, batchOperations(definition, items));
    statements += planned.length;
    for (const statement of planned)
      for (const value of statement.values) parameterBytes += typeof value === 'string' ? value.length : 0;
  }
  const used = process.cpuUsage(started);
  const ms = (used.user + used.system) / 1000;
  process.stdout.write(
    `round ${round + 1}: ${all.length} events in ${ms.toFixed(0)} ms of CPU = ${((ms / all.length) * 1000).toFixed(0)} ms CPU per 1,000 events (${statements} statements, ${(parameterBytes / 2 ** 20).toFixed(0)} MiB of parameters so far)\n`,
  );
}
