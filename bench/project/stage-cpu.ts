/**
 * The app-state projector's CPU stage by stage, in-process and warm (not a test: nothing here
 * asserts a timing): each stage run alone over the same events, so the shares of decode (envelope,
 * the state's JSON, the document check), explode, operations, interleaving and statement planning
 * can be compared. CPU ms per 1,000 events, the mean of five runs after three warm-up runs.
 *
 *   node -r ts-node/register/transpile-only bench/project/stage-cpu.ts [--users 500]
 */
import { appStateRecords } from './app-state-records';
import { RECIPES } from '../../src/projections/recipes';
import { decodeRecord } from '../../src/projections/framework/event-decoder';
import { changeEnvelopeSchema } from '../../src/contracts/envelope';
import { appStateRow } from '../../src/projections/app-state/app-state.row';
import { upsertOperations } from '../../src/projections/app-state/app-state.projection';
import { recognizeValidDocument } from '../../src/projections/app-state/app-state.fast-document';
import { explodeState } from '../../src/projections/app-state/app-state.explode';
import { batchOperations, type BatchItem } from '../../src/projections/framework/batch-applier';
import { planStatements } from '../../src/connectors/postgres-target/row-writer';
import { chunkByTransaction, MAX_CHUNK_BYTES } from '../../src/projections/pipeline/chunker';
import { arg } from '../cli-args';

const users = Number(arg('users', '500'));
const prefix = 'bench';
const definition = RECIPES['app-state'].projection({ sourceSchema: 'public', env: process.env });
const topic = `${prefix}.public.user_app_state`;
const records = appStateRecords(users, topic);
const n = records.length;
function time(name: string, fn: () => void): void {
  for (let i = 0; i < 3; i++) fn();
  const reps = 5;
  const s = process.cpuUsage();
  for (let i = 0; i < reps; i++) fn();
  const u = process.cpuUsage(s);
  process.stdout.write(`${name.padEnd(40)} ${(((u.user + u.system) / 1000 / reps / n) * 1000).toFixed(0)} ms / 1k events\n`);
}
const envelopes = records.map((r) => JSON.parse(r.value!) as { after: { state: string } & Record<string, unknown> });
const afters = envelopes.map((e) => e.after);
const states = afters.map((a) => JSON.parse(a.state));
const rows = afters.map((a) => appStateRow.parse(a));
const items: BatchItem[] = records.map((record) => ({ record, decoded: decodeRecord(definition, prefix, record) }));
const chunks = [...chunkByTransaction(items, 2000, MAX_CHUNK_BYTES)];
const ops = chunks.map((c) => batchOperations(definition, c));
process.stdout.write(`${n} events, ${chunks.length} chunks, mean value ${(records.reduce((a, r) => a + r.value!.length, 0) / n).toFixed(0)} chars\n`);
time('decodeRecord (all)', () => { for (const r of records) decodeRecord(definition, prefix, r); });
time('JSON.parse envelope', () => { for (const r of records) JSON.parse(r.value!); });
time('changeEnvelopeSchema.safeParse', () => { for (const e of envelopes) changeEnvelopeSchema.safeParse(e); });
time('JSON.parse state', () => { for (const a of afters) JSON.parse(a.state); });
time('recognizeValidDocument', () => { for (const s of states) recognizeValidDocument(s); });
time('appStateRow.safeParse (incl. parse+recognize)', () => { for (const a of afters) appStateRow.safeParse(a); });
time('JSON.stringify state (state_bytes)', () => { for (const r of rows) Buffer.byteLength(JSON.stringify(r.state)); });
time('explodeState', () => { for (const r of rows) explodeState(r.state, { userId: r.user_id, sourceId: r.id, version: 'v' }); });
time('upsertOperations', () => { for (const r of rows) upsertOperations(r, { op: 'r', before: null, commitLsn: 1n }); });
time('batchOperations', () => { for (const c of chunks) batchOperations(definition, c); });
time('planStatements', () => { for (const o of ops) planStatements(definition.name, definition.schema, o); });
const upserts = rows.map((r) => upsertOperations(r, { op: 'r', before: null, commitLsn: 1n }));
time('output zod checks', () => { for (const list of upserts) for (const o of list) if (o.op === 'upsert') definition.output?.[o.table]?.safeParse(o.row); });
