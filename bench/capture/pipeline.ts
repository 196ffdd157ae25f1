/**
 * Capture's per-event code path without PostgreSQL or Kafka (not a test: nothing here asserts a
 * timing). Synthetic pgoutput messages of the capture benchmark's table (transactions of 1,000
 * INSERTs) go through the decoder, ChangeStreamProcessor and batches of 5,000 events to the producer
 * thread, which builds the framed Produce requests as it would send them. CPU seconds per million
 * events (whole process, and the main thread alone) and peak RSS do not depend on the machine's load.
 *
 *   node -r ts-node/register/transpile-only bench/capture/pipeline.ts [--events 1000000] [--tx-rows 1000]
 * or compiled (without ts-node's compiler in both threads' memory), --cpu-prof giving a profile per thread:
 *   npx tsc -p tsconfig.json --outDir .tandem/pipeline-dist && node [--cpu-prof] .tandem/pipeline-dist/bench/capture/pipeline.js
 */
import { createHash } from 'crypto';
import { readFileSync } from 'fs';
import { join } from 'path';
import { Worker } from 'worker_threads';
import { PgoutputDecoder } from '../../src/connectors/postgres-source/pgoutput-decoder';
import { TypeRegistry } from '../../src/connectors/postgres-source/pg-types';
import { ChangeStreamProcessor } from '../../src/modules/capture/change-stream-processor';
import { parseLsn } from '../../src/shared/lsn';
import type { RecordSink } from '../../src/contracts/positions';
import { PackedRecords } from '../../src/connectors/kafka/packed-records';
import { commitMessage } from '../../src/connectors/kafka/producer-thread-protocol';
import { arg } from '../cli-args';

const EVENTS = Number(arg('events', '1000000'));
const TX_ROWS = Number(arg('tx-rows', '1000'));
const BATCH = 5000;
const TABLE_OID = 16400;

function message(tag: string, body: (b: Buffer, at: number) => number, size = 4096): Buffer {
  const b = Buffer.alloc(size);
  b.write(tag, 0, 'latin1');
  return b.subarray(0, body(b, 1));
}
const cstring = (b: Buffer, at: number, s: string) => at + b.write(s + '\0', at, 'utf8');

const relation = message('R', (b, at) => {
  at = b.writeUInt32BE(TABLE_OID, at);
  at = cstring(b, at, 'public');
  at = cstring(b, at, 'bench_capture');
  at = b.writeUInt8('d'.charCodeAt(0), at);
  const columns: Array<[string, number, boolean]> = [
    ['id', 20, true],
    ['user_id', 25, false],
    ['amount', 1700, false],
    ['note', 25, false],
    ['created_at', 1184, false],
  ];
  at = b.writeInt16BE(columns.length, at);
  for (const [name, oid, key] of columns) {
    at = b.writeUInt8(key ? 1 : 0, at);
    at = cstring(b, at, name);
    at = b.writeUInt32BE(oid, at);
    at = b.writeInt32BE(-1, at);
  }
  return at;
});

/** The INSERT of the benchmark's row g (bench/capture/support.ts insertRange). */
function insert(g: number): Buffer {
  const created = new Date(Date.UTC(2026, 11, 5) - g * 1000).toISOString().replace('T', ' ').replace('Z', '+00');
  const values = [String(g), `user_${g % 10000}`, (g * 1.2345).toFixed(10), createHash('md5').update(String(g)).digest('hex'), created];
  return message('I', (b, at) => {
    at = b.writeUInt32BE(TABLE_OID, at);
    at = b.writeUInt8('N'.charCodeAt(0), at);
    at = b.writeInt16BE(values.length, at);
    for (const v of values) {
      at = b.writeUInt8(0x74, at);
      const n = Buffer.byteLength(v);
      at = b.writeUInt32BE(n, at);
      at += b.write(v, at, 'utf8');
    }
    return at;
  });
}

/** XLogData as the replication connection hands it over: 'w', start, end, time, then the message. */
function xlog(payload: Buffer): Buffer {
  const b = Buffer.alloc(25 + payload.length);
  b[0] = 0x77;
  payload.copy(b, 25);
  return b;
}
const setLsn = (chunk: Buffer, lsn: bigint) => chunk.writeBigUInt64BE(lsn, 1);

const begin = xlog(Buffer.alloc(21));
begin[25] = 'B'.charCodeAt(0);
const commit = xlog(Buffer.alloc(26));
commit[25] = 'C'.charCodeAt(0);
const rows = Array.from({ length: TX_ROWS }, (_, i) => xlog(insert(i + 1)));

function startWorker(): Worker {
  if (__filename.endsWith('.js')) return new Worker(join(__dirname, 'pipeline-worker.js'));
  const project = join(__dirname, '..', '..', 'tsconfig.json');
  const source = join(__dirname, 'pipeline-worker.ts');
  return new Worker(
    `require(${JSON.stringify(require.resolve('ts-node'))}).register({ transpileOnly: true, project: ${JSON.stringify(project)} }); require(${JSON.stringify(source)});`,
    { eval: true },
  );
}

function threadCpuSeconds(tid: number): number {
  const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Minor page faults of the whole process (fresh memory touched for the first time). */
function minorFaults(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[7]);
}

const peakRssMb = () => Number(/^VmHWM:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;

async function main(): Promise<void> {
  const worker = startWorker();
  let nextId = 1;
  const waiting = new Map<number, () => void>();
  worker.on('message', (reply: { id: number; bytes: number }) => waiting.get(reply.id)?.());
  const send = (records: PackedRecords) =>
    new Promise<void>((resolve) => {
      const id = nextId++;
      waiting.set(id, resolve);
      const { request, transfer } = commitMessage(id, records, { topic: 'state', key: 'k', value: '{"stream":{}}', groupId: 'g' });
      worker.postMessage(request, transfer);
    });
  await send(PackedRecords.of([{ topic: 'warm', key: '{"id":1}', value: 'x' }])); // the worker has loaded its modules

  const types = new TypeRegistry();
  const decoder = new PgoutputDecoder(types);
  const processor = new ChangeStreamProcessor(
    { topicPrefix: 'bench', database: 'tandem', partitions: 3, types, keyColumns: new Map(), now: Date.now },
    { lastCommitLsn: null, ackLsn: null, partial: null },
  );
  const handle = async (chunk: Buffer, out: RecordSink) => {
    const lsn = chunk.readUInt32BE(1).toString(16).toUpperCase() + '/' + chunk.readUInt32BE(5).toString(16).toUpperCase();
    processor.handle(decoder.decode(chunk.subarray(25)), parseLsn(lsn), out);
  };
  let batch = new PackedRecords();
  let inflight: Promise<void> = Promise.resolve();
  const flush = async () => {
    await inflight;
    const records = batch;
    batch = new PackedRecords(records.byteLength, records.length);
    inflight = send(records);
  };
  await handle(xlog(relation), batch);

  const cpu0 = process.cpuUsage();
  const main0 = threadCpuSeconds(process.pid);
  const faults0 = minorFaults();
  const t0 = Date.now();
  let lsn = 0x1000000n;
  for (let done = 0, tx = 1; done < EVENTS; tx++) {
    setLsn(begin, lsn);
    begin.writeBigUInt64BE(lsn + 100_000n, 26);
    begin.writeUInt32BE(tx, 42);
    await handle(begin, batch);
    for (const row of rows) {
      setLsn(row, (lsn += 100n));
      await handle(row, batch);
      if (batch.length >= BATCH) await flush();
    }
    setLsn(commit, lsn);
    commit.writeBigUInt64BE(lsn + 100_000n, 27);
    commit.writeBigUInt64BE(lsn + 100_001n, 35);
    await handle(commit, batch);
    lsn += 100_002n;
    done += rows.length;
  }
  await flush();
  await inflight;
  const cpu = process.cpuUsage(cpu0);
  const mainCpu = threadCpuSeconds(process.pid) - main0;
  const wallS = (Date.now() - t0) / 1000;
  const total = (cpu.user + cpu.system) / 1e6;
  const perMillion = (s: number) => ((s / EVENTS) * 1e6).toFixed(1);
  process.stdout.write(
    `${EVENTS} events in ${wallS.toFixed(1)} s: CPU s per million events ${perMillion(total)} (main thread ${perMillion(mainCpu)}, ` +
      `other threads ${perMillion(total - mainCpu)}); peak RSS ${peakRssMb().toFixed(0)} MiB; ` +
      `${(((minorFaults() - faults0) / EVENTS) * 1000).toFixed(0)} minor page faults per 1,000 events\n`,
  );
  await worker.terminate();
}

void main();
