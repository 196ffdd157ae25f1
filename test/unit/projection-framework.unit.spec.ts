import { z } from 'zod';
import { decodeRecord } from '../../src/projections/framework/event-decoder';
import { defineProjection, deterministicUuid } from '../../src/projections/framework/define-projection';
import { defineReconciliation, type TableComparison } from '../../src/projections/framework/define-reconciliation';
import { RECIPES } from '../../src/projections/recipes';
import { chunkByTransaction, recordBytes, writeInChunks } from '../../src/projections/pipeline/chunker';
import { batchOperations, planAhead, type BatchItem } from '../../src/projections/framework/batch-applier';
import { planStatements } from '../../src/connectors/postgres-target/row-writer';
import { TimeSlicer } from '../../src/projections/pipeline/time-slicer';
import type { LogRecord } from '../../src/contracts/positions';

const projection = defineProjection<{ id: number; name: string }>({
  name: 'people',
  migrations: [],
  input: { 'public.people': z.object({ id: z.number(), name: z.string().min(1, 'name is empty') }) },
  apply: (event) =>
    event.op === 'd'
      ? [{ op: 'delete', table: 'people', match: { id: event.before!.id } }]
      : [{ op: 'upsert', table: 'people', key: ['id'], row: { id: event.after!.id, name: event.after!.name.toUpperCase() } }],
});

const envelope = (op: string, after: unknown, before: unknown = null, transaction: string | null = 'tx1') =>
  JSON.stringify({
    before,
    after,
    op,
    ts_ms: 1,
    source: { schema: 'public', table: 'people', commit_lsn: 4096, ts_ms: 1 },
    transaction: transaction && { id: transaction, total_order: 1, data_collection_order: 1 },
  });

const record = (value: string | null, offset = 0n) => ({ topic: 'legacy.public.people', partition: 0, offset, key: '{"id":1}', value });

describe('decodeRecord', () => {
  it('validates the new row and hands apply a typed event with its position', () => {
    const decoded = decodeRecord(projection, 'legacy', record(envelope('c', { id: 1, name: 'ada' }), 7n));
    expect(decoded).toMatchObject({
      kind: 'apply',
      event: { source: 'public.people', op: 'c', commitLsn: 4096n, transactionId: 'tx1', position: { offset: 7n } },
      operations: [{ op: 'upsert', table: 'people', row: { id: 1, name: 'ADA' } }],
    });
  });

  it('passes a key-only old row of a delete through without validating it', () => {
    const decoded = decodeRecord(projection, 'legacy', record(envelope('d', null, { id: 1, name: null })));
    expect(decoded).toMatchObject({ kind: 'apply', operations: [{ op: 'delete', match: { id: 1 } }] });
  });

  it('rejects, with the field path, what the input schema refuses, and what is not an event', () => {
    expect(decodeRecord(projection, 'legacy', record(envelope('c', { id: 1, name: '' })))).toMatchObject({
      kind: 'reject',
      reason: 'invalid public.people row: name: name is empty',
    });
    expect(decodeRecord(projection, 'legacy', record('{oops'))).toMatchObject({ kind: 'reject', reason: 'the event is not valid JSON' });
    expect(decodeRecord(projection, 'legacy', record('{"op":"x"}'))).toMatchObject({ kind: 'reject', reason: expect.stringMatching(/^not a change event/) });
    expect(decodeRecord(projection, 'legacy', { ...record(envelope('c', { id: 1, name: 'a' })), topic: 'legacy.public.other' })).toMatchObject({
      kind: 'reject',
      reason: 'the projection does not read public.other',
    });
  });

  it('skips tombstones', () => {
    expect(decodeRecord(projection, 'legacy', record(null))).toEqual({ kind: 'skip' });
  });
});

describe('chunkByTransaction', () => {
  const item = (transactionId: string | null): BatchItem =>
    ({ record: record(''), decoded: { kind: 'apply', event: { transactionId }, operations: [] } }) as unknown as BatchItem;

  it('never ends a chunk inside a source transaction', () => {
    const items = ['a', 'a', 'b', 'b', 'b', 'c', null, null].map(item);
    const chunks = chunkByTransaction(items, 2);
    expect(chunks.map((chunk) => chunk.map((i) => (i.decoded as any).event.transactionId))).toEqual([
      ['a', 'a'],
      ['b', 'b', 'b'],
      ['c', null],
      [null],
    ]);
  });

  it('also ends a chunk at the byte limit, but not inside a source transaction', () => {
    const sized = (transactionId: string | null, bytes: number): BatchItem =>
      ({ record: record('x'.repeat(bytes - 8)), decoded: { kind: 'apply', event: { transactionId }, operations: [] } }) as unknown as BatchItem;
    const items = [sized(null, 60), sized(null, 60), sized('t', 60), sized('t', 60), sized(null, 10)];
    const chunks = chunkByTransaction(items, 100, 100);
    expect(chunks.map((chunk) => chunk.length)).toEqual([1, 1, 2, 1]);
  });
});

describe('writeInChunks', () => {
  const people = (n: number) =>
    Array.from({ length: n }, (_, i) => record(envelope('c', { id: i, name: `p${i}` }, null, `tx${i}`), BigInt(i)));
  const decode = (r: LogRecord) => ({ record: r, decoded: decodeRecord(projection, 'legacy', r) });

  it('writes every chunk once, in order, one at a time', async () => {
    const written: bigint[][] = [];
    let writing = 0;
    await writeInChunks(people(25), decode, { maxEvents: 10 }, async (chunk) => {
      expect(++writing).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 5));
      written.push(chunk.map((item) => item.record.offset));
      writing--;
    });
    expect(written.map((chunk) => chunk.length)).toEqual([10, 10, 5]);
    expect(written.flat()).toEqual(Array.from({ length: 25 }, (_, i) => BigInt(i)));
  });

  it('decodes the next chunk beside the one being written only within maxDecodedBytes', async () => {
    const records = people(60);
    const bytes = recordBytes(records[0]);
    let held = 0;
    let peak = 0;
    const counted = (r: LogRecord) => {
      held += recordBytes(r);
      peak = Math.max(peak, held);
      return decode(r);
    };
    const limits = { maxEvents: 100, maxBytes: 3 * bytes, maxDecodedBytes: 4 * bytes };
    await writeInChunks(records, counted, limits, async (chunk) => {
      await new Promise((resolve) => setTimeout(resolve, 2));
      held -= chunk.reduce((sum, item) => sum + recordBytes(item.record), 0);
    });
    expect(peak).toBeGreaterThan(3 * bytes); // it does decode ahead
    expect(peak).toBeLessThanOrEqual(4 * bytes);
  });

  it('does not decode beside a chunk stretched over a source transaction larger than maxDecodedBytes', async () => {
    const inOne = (r: LogRecord, i: number) => (i >= 5 && i < 25 ? { ...r, value: r.value!.replace(/"tx\d+"/, '"big"') } : r);
    const records = people(40).map(inOne);
    const bytes = recordBytes(records[0]);
    let writingBig = false;
    const decodedDuringBig: bigint[] = [];
    const watched = (r: LogRecord) => {
      if (writingBig) decodedDuringBig.push(r.offset);
      return decode(r);
    };
    const sizes: number[] = [];
    await writeInChunks(records, watched, { maxEvents: 5, maxBytes: 100 * bytes, maxDecodedBytes: 10 * bytes }, async (chunk) => {
      writingBig = chunk.length > 5;
      await new Promise((resolve) => setTimeout(resolve, 5));
      sizes.push(chunk.length);
      writingBig = false;
    });
    expect(sizes).toEqual([5, 20, 5, 5, 5]);
    expect(decodedDuringBig).toEqual([]);
  });

  it("hands each chunk's write what was prepared for it, preparing the next chunk while one is written", async () => {
    const events: string[] = [];
    const prepare = async (chunk: BatchItem[]) => {
      events.push(`prepare ${chunk[0].record.offset}`);
      return chunk.map((item) => item.record.offset);
    };
    const written: bigint[][] = [];
    await writeInChunks<bigint[]>(
      people(30),
      decode,
      { maxEvents: 10 },
      async (chunk, prepared) => {
        events.push(`write ${chunk[0].record.offset}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
        expect(prepared).toEqual(chunk.map((item) => item.record.offset));
        written.push(prepared!);
        events.push(`written ${chunk[0].record.offset}`);
      },
      prepare,
    );
    expect(written.flat()).toEqual(Array.from({ length: 30 }, (_, i) => BigInt(i)));
    // chunk 10's preparation runs between chunk 0's write starting and ending
    expect(events.indexOf('prepare 10')).toBeGreaterThan(events.indexOf('write 0'));
    expect(events.indexOf('prepare 10')).toBeLessThan(events.indexOf('written 0'));
  });

  it('stops at the first chunk that fails to write', async () => {
    const written: number[] = [];
    const failing = writeInChunks(people(30), decode, { maxEvents: 10 }, async (chunk) => {
      if (written.length === 1) throw new Error('write failed');
      written.push(chunk.length);
    });
    await expect(failing).rejects.toThrow('write failed');
    expect(written).toEqual([10]);
  });
});

describe('planAhead', () => {
  it("plans a chunk's applicable events as applyBatch would, and nothing for a projection that reads the target first", async () => {
    const items = [
      record(envelope('c', { id: 1, name: 'ada' }), 0n),
      record(envelope('c', { id: 2, name: '' }), 1n), // rejected: not planned
      record(envelope('d', null, { id: 3, name: 'x' }), 2n),
    ].map((r) => ({ record: r, decoded: decodeRecord(projection, 'legacy', r) }));
    const planned = await planAhead(projection, items, new TimeSlicer(0));
    const applicable = items.filter((item) => item.decoded.kind === 'apply');
    expect(planned).toEqual(planStatements(projection.name, projection.schema, batchOperations(projection, applicable)));
    expect(planned!.map((statement) => statement.text).join('\n')).toMatch(/DELETE/);
    const readsFirst = { ...projection, beforeWrite: async () => [] };
    expect(await planAhead(readsFirst, items, new TimeSlicer(0))).toBeNull();
  });
});

describe('deterministicUuid', () => {
  it('gives the same version-5-shaped UUID for the same inputs, and another for others', () => {
    const id = deterministicUuid('users', '42');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(deterministicUuid('users', '42')).toBe(id);
    expect(deterministicUuid('users', '43')).not.toBe(id);
  });

  it('keeps giving the ids earlier versions wrote (a replay must find the same rows and id_map entries)', () => {
    expect(deterministicUuid('users', '42')).toBe('4884c875-1bc6-5097-b683-d2cf9c5d10ac');
    expect(deterministicUuid('app-state', 'org', 'user-1', 'org_1')).toBe('1373bbf0-5ddc-5af1-be91-4e2cccef0b78');
    expect(deterministicUuid('x', 'ab', '')).toBe('abbc400b-8aeb-5a10-9d92-84643bc41ac1');
  });
});

describe('defineReconciliation', () => {
  const comparison = (name: string, targetColumns: Record<string, string> = { email: 'email', name: 'name' }): TableComparison => ({
    name,
    source: { from: '{source}.users', key: 'id', columns: { email: 'lower(email)', name: 'name' } },
    target: { from: '{target}.users', key: 'source_id', columns: targetColumns },
  });

  it('returns the comparisons it checked', () => {
    const comparisons = [comparison('users'), comparison('admins')];
    expect(defineReconciliation(comparisons)).toBe(comparisons);
  });

  it('refuses two comparisons of one name, and sides that list different columns or orders', () => {
    expect(() => defineReconciliation([comparison('users'), comparison('users')])).toThrow('defineReconciliation: two comparisons are named "users"');
    expect(() => defineReconciliation([comparison('users', { name: 'name', email: 'email' })])).toThrow(
      'defineReconciliation: comparison "users" lists columns email, name on the source side but name, email on the target side (same names, same order)',
    );
    expect(() => defineReconciliation([comparison(' ')])).toThrow('defineReconciliation: a comparison has an empty name');
  });

  it('accepts the reconciliation of every built-in recipe', () => {
    const env = { TANDEM_TOKEN_KEY: '0'.repeat(64) };
    for (const recipe of Object.values(RECIPES)) {
      const definition = recipe.projection({ sourceSchema: 'legacy', env });
      expect(definition.reconcile?.length).toBeGreaterThan(0);
      expect(defineReconciliation(definition.reconcile!)).toBe(definition.reconcile);
    }
  });
});
