import { randomBytes } from 'crypto';
import { changeEvents, readTopics, type ReadRecord } from '../support/kafka-reader';
import { TandemProcess, writeConfig } from '../support/capture-process';
import { dropSlot, sql, testKafka, uniqueName } from '../support/services';

/**
 * The change events a user reads from Kafka for ordinary writes: every column type of the seed
 * shapes, updates, deletes with both replica identities, TOAST, ADD COLUMN and TRUNCATE.
 */
describe('capture: change events on Kafka', () => {
  const name = uniqueName('ev');
  const prefix = name;
  const typesTable = `${name}_types`;
  const fullTable = `${name}_full`;
  let capture: TandemProcess;
  const kafka = testKafka();

  const topic = (table: string) => `${prefix}.public.${table}`;
  const eventsFor = (records: ReadRecord[], table: string) => changeEvents(records).filter((r) => r.topic === topic(table));

  beforeAll(async () => {
    await sql(`CREATE TABLE public.${typesTable} (
      id bigint PRIMARY KEY, small int, big bigint, amount numeric(38,10), note text, doc jsonb, tags text[],
      counts int[], uid uuid, at timestamptz, raw bytea, flag boolean, embedding vector(3), big_text text)`);
    await sql(`CREATE TABLE public.${fullTable} (id int PRIMARY KEY, name text, score int)`);
    await sql(`ALTER TABLE public.${fullTable} REPLICA IDENTITY FULL`);
    await sql(`INSERT INTO public.${fullTable} VALUES (1, 'one', 10), (2, 'two', 20)`);
    // A batch delay no test waits for: every change below must reach Kafka because capture flushes
    // as soon as nothing is in flight, not because a timer fired.
    capture = TandemProcess.capture(
      writeConfig({ prefix, slot: name, publication: name, tables: [`public.${typesTable}`, `public.${fullTable}`], maxBatchDelayMs: 600_000 }),
    );
    await capture.waitForLog(/streaming changes/);
  });

  afterAll(async () => {
    await capture.stop();
    await dropSlot(name);
  });

  it('snapshots existing rows as op "r"', async () => {
    const records = await readTopics(kafka, [topic(fullTable)], (all) => changeEvents(all).length >= 2);
    const events = changeEvents(records);
    expect(events.map((e) => e.value.op)).toEqual(['r', 'r']);
    expect(events.map((e) => e.key).sort((a, b) => a.id - b.id)).toEqual([{ id: 1 }, { id: 2 }]);
    expect(events[0].value.source).toMatchObject({ connector: 'postgresql', name: prefix, snapshot: 'true', table: fullTable });
  });

  it('represents every seed column type without loss', async () => {
    await sql(
      `INSERT INTO public.${typesTable} (id, small, big, amount, note, doc, tags, counts, uid, at, raw, flag, embedding)
       VALUES (9223372036854775807, -32768, -9223372036854775808, 1234567890123456789012345678.0123456789, 'héllo "q"',
               '{"a": {"b": [1, 2.5, null]}}', ARRAY['x', 'y z', NULL], ARRAY[1, 2], '7c9e6679-7425-40de-944b-e07fc1f90ae7',
               '2024-05-01 12:34:56.123456+02', '\\xdeadbeef', true, '[0.5,-1,3.25]')`,
    );
    const records = await readTopics(kafka, [topic(typesTable)], (all) => eventsFor(all, typesTable).length >= 1);
    const [event] = eventsFor(records, typesTable);
    expect(event.key).toEqual({ id: '9223372036854775807' });
    expect(event.value.op).toBe('c');
    expect(event.value.before).toBeNull();
    expect(event.value.after).toEqual({
      id: '9223372036854775807',
      small: -32768,
      big: '-9223372036854775808',
      amount: '1234567890123456789012345678.0123456789',
      note: 'héllo "q"',
      doc: '{"a": {"b": [1, 2.5, null]}}',
      tags: ['x', 'y z', null],
      counts: [1, 2],
      uid: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
      at: '2024-05-01T10:34:56.123456Z',
      raw: Buffer.from('deadbeef', 'hex').toString('base64'),
      flag: true,
      embedding: [0.5, -1, 3.25],
      big_text: null,
    });
    expect(event.value.source).toMatchObject({ snapshot: 'false', schema: 'public', table: typesTable, db: 'legacy' });
    expect(typeof event.value.source.lsn).toBe('number');
    expect(typeof event.value.source.commit_lsn).toBe('number');
    expect(event.value.transaction).toMatchObject({ total_order: 1, data_collection_order: 1 });
  });

  it('produces a change once it is decoded when nothing is in flight, without waiting for maxBatchDelayMs', async () => {
    await sql(`BEGIN; INSERT INTO public.${typesTable} (id, note) VALUES (40, 'forty'); UPDATE public.${typesTable} SET note = 'forty-one' WHERE id = 40; COMMIT`);
    const forty = (all: ReadRecord[]) => eventsFor(all, typesTable).filter((e) => e.key.id === '40');
    const records = await readTopics(kafka, [topic(typesTable)], (all) => forty(all).length >= 2, { timeoutMs: 60_000 });
    expect(forty(records).map((e) => e.value.op)).toEqual(['c', 'u']);
  });

  it('keeps an unchanged TOASTed column as the documented placeholder, never null', async () => {
    const big = randomBytes(200_000).toString('base64'); // incompressible, so stored out of line
    await sql(`INSERT INTO public.${typesTable} (id, note, big_text) VALUES (2, 'before', $1)`, [big]);
    await sql(`UPDATE public.${typesTable} SET note = 'after' WHERE id = 2`);
    const records = await readTopics(kafka, [topic(typesTable)], (all) => eventsFor(all, typesTable).filter((e) => e.key.id === '2').length >= 2);
    const [insert, update] = eventsFor(records, typesTable).filter((e) => e.key.id === '2');
    expect(insert.value.after.big_text).toBe(big);
    expect(update.value.op).toBe('u');
    expect(update.value.after.note).toBe('after');
    expect(update.value.after.big_text).toBe('__debezium_unavailable_value');
  });

  it('emits deletes with the key only under the default identity, followed by a tombstone', async () => {
    await sql(`INSERT INTO public.${typesTable} (id, note) VALUES (3, 'to delete')`);
    await sql(`DELETE FROM public.${typesTable} WHERE id = 3`);
    const records = await readTopics(kafka, [topic(typesTable)], (all) => all.some((r) => r.key?.id === '3' && r.value === null));
    const forKey = records.filter((r) => r.key?.id === '3');
    expect(forKey.map((r) => r.value?.op ?? 'tombstone')).toEqual(['c', 'd', 'tombstone']);
    expect(forKey[1].value.before).toMatchObject({ id: '3', note: null });
    expect(forKey[1].value.after).toBeNull();
  });

  it('emits the whole old row for updates and deletes under REPLICA IDENTITY FULL', async () => {
    await sql(`UPDATE public.${fullTable} SET score = 11 WHERE id = 1`);
    await sql(`DELETE FROM public.${fullTable} WHERE id = 2`);
    const records = await readTopics(kafka, [topic(fullTable)], (all) => changeEvents(all).length >= 4);
    const streamed = changeEvents(records).filter((e) => e.value.op !== 'r');
    const update = streamed.find((e) => e.value.op === 'u')!;
    expect(update.value.before).toEqual({ id: 1, name: 'one', score: 10 });
    expect(update.value.after).toEqual({ id: 1, name: 'one', score: 11 });
    const del = streamed.find((e) => e.value.op === 'd')!;
    expect(del.value.before).toEqual({ id: 2, name: 'two', score: 20 });
    expect(records.some((r) => r.key?.id === 2 && r.value === null)).toBe(true);
  });

  it('carries a column added mid-stream in later events, without a restart', async () => {
    await sql(`ALTER TABLE public.${fullTable} ADD COLUMN region text DEFAULT 'eu'`);
    await sql(`INSERT INTO public.${fullTable} (id, name, score, region) VALUES (5, 'five', 50, 'us')`);
    const records = await readTopics(kafka, [topic(fullTable)], (all) => changeEvents(all).some((e) => e.key.id === 5));
    const insert = changeEvents(records).find((e) => e.key.id === 5)!;
    expect(insert.value.after).toEqual({ id: 5, name: 'five', score: 50, region: 'us' });
  });

  it('writes transaction boundaries with event counts to <prefix>.transaction', async () => {
    await sql(`BEGIN; INSERT INTO public.${typesTable} (id) VALUES (10), (11); INSERT INTO public.${fullTable} (id) VALUES (10); COMMIT;`);
    const records = await readTopics(kafka, [topic(typesTable), `${prefix}.transaction`], (all) =>
      all.some((r) => r.topic === topic(typesTable) && r.key?.id === '11'),
    );
    const event = records.find((r) => r.topic === topic(typesTable) && r.key?.id === '11')!;
    const txId = event.value.transaction.id;
    const markers = records.filter((r) => r.topic === `${prefix}.transaction` && r.value.id === txId);
    expect(markers.map((m) => m.value.status)).toEqual(['BEGIN', 'END']);
    expect(markers[1].value.event_count).toBe(3);
    expect(markers[1].value.data_collections).toEqual(
      expect.arrayContaining([
        { data_collection: `public.${typesTable}`, event_count: 2 },
        { data_collection: `public.${fullTable}`, event_count: 1 },
      ]),
    );
  });

  it('emits TRUNCATE as op "t" on every partition', async () => {
    await sql(`TRUNCATE public.${fullTable}`);
    const records = await readTopics(kafka, [topic(fullTable)], (all) => changeEvents(all).filter((e) => e.value.op === 't').length >= 3);
    const truncates = changeEvents(records).filter((e) => e.value.op === 't');
    expect(truncates.map((t) => t.partition).sort()).toEqual([0, 1, 2]);
  });
});
