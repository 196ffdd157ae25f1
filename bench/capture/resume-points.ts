/**
 * CPU cost of sealed resume points (no services needed):
 *   node -r ts-node/register/transpile-only bench/capture/resume-points.ts [SRC_ROOT]
 * - the state capture writes at each commit, with a snapshot of 1,000 chunks: clear vs. sealed;
 * - the stream processor's CPU per event after a snapshot (its filter consulted on every event), for
 *   A/B against another checkout's src (SRC_ROOT, default this one's).
 */
import { resolve } from 'path';
import { pgoutput } from '../../test/support/pgoutput-builder';

const root = resolve(process.argv[2] ?? resolve(__dirname, '..', '..', 'src'));
/* eslint-disable @typescript-eslint/no-require-imports */
const { PgoutputDecoder } = require(`${root}/connectors/postgres-source/pgoutput-decoder`);
const { ChangeStreamProcessor } = require(`${root}/modules/capture/change-stream-processor`);
const { serializeState } = require(`${root}/modules/capture/capture-state`);
const cipherModule = (() => {
  try {
    return require(`${root}/modules/capture/resume-point-cipher`);
  } catch {
    return null;
  }
})();
/* eslint-enable @typescript-eslint/no-require-imports */

function cpuMs(work: () => void): number {
  const start = process.cpuUsage();
  work();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

function stateWithChunks(chunks: number) {
  const bounds = Array.from({ length: chunks - 1 }, (_, i) => [`u${String(i * 1000).padStart(7, '0')}@example.com`]);
  return {
    slot: 's',
    stream: { lastCommitLsn: 0x20n, partial: null, ackLsn: 0x28n },
    backfills: [],
    capturedTables: ['public.users'],
    snapshot: {
      status: 'running',
      consistentLsn: 0x10n,
      tables: {
        'public.users': {
          keyColumns: ['email'],
          keyKinds: ['text'],
          chunks: [null, ...bounds].map((lower, i) => ({ lower, upper: bounds[i] ?? null, doneAtLsn: null })),
        },
      },
    },
  };
}

function stateCommits(): void {
  if (!cipherModule) return;
  const state = stateWithChunks(1000);
  const sealed = new cipherModule.ResumePointCipher(Buffer.from('k'.repeat(32)), new Set(['public.users']), 'TANDEM_MASK_KEY');
  const first = cpuMs(() => serializeState(state, sealed));
  const commits = 200;
  const clearMs = cpuMs(() => {
    for (let i = 0; i < commits; i++) serializeState(state);
  });
  const sealedMs = cpuMs(() => {
    for (let i = 0; i < commits; i++) serializeState(state, sealed);
  });
  console.log(
    `state of 1,000 chunks: ${(clearMs / commits).toFixed(2)} ms clear, ${(sealedMs / commits).toFixed(2)} ms sealed per commit ` +
      `(first commit, sealing every bound: ${first.toFixed(1)} ms)`,
  );
}

function processorEvents(): void {
  const decoder = new PgoutputDecoder();
  const snapshot = { status: 'done', consistentLsn: 0x10n, tables: {} };
  const columns = [{ name: 'id', typeOid: 23, key: true }, { name: 'counter', typeOid: 23 }, { name: 'note', typeOid: 25 }];
  const relation = decoder.decode(pgoutput.relation(16384, 'public', 't', 'd', columns));
  const perTransaction = 100;
  const transactions = Array.from({ length: 1000 }, (_, t) => {
    const lsn = BigInt(0x1000 + t * 0x100);
    return [
      pgoutput.begin(lsn, 700 + t),
      ...Array.from({ length: perTransaction }, (_, i) => pgoutput.insert(16384, [String(t * perTransaction + i), '0', 'some text'])),
      pgoutput.commit(lsn, lsn + 0x30n),
    ].map((message) => decoder.decode(message));
  });
  const events = transactions.length * perTransaction;
  const samples: number[] = [];
  for (let i = 0; i < 7; i++) {
    const processor = new ChangeStreamProcessor(
      { topicPrefix: 'p', database: 'd', partitions: 3, types: decoder.types, keyColumns: new Map([['public.t', ['id']]]), now: () => 0 },
      { lastCommitLsn: null, partial: null, ackLsn: null },
      snapshot,
    );
    processor.handle(relation, 0n, []);
    samples.push(
      cpuMs(() => {
        for (const messages of transactions) {
          const out: unknown[] = [];
          for (const message of messages) processor.handle(message, 0x1000n, out);
        }
      }),
    );
  }
  const kept = samples.slice(2).sort((a, b) => a - b); // the first two warm the JIT
  console.log(
    `stream processor (${root}): median ${((kept[2] * 1000) / events).toFixed(2)} µs CPU per event over ${events} events, ` +
      `samples ${kept.map((s) => s.toFixed(0)).join('/')} ms`,
  );
}

stateCommits();
processorEvents();
