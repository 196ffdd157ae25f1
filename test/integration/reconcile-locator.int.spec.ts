import { Pool } from 'pg';
import { compareByBuckets, type ComparisonResult } from '../../src/modules/reconciliation/bucket-comparison';
import { SqlComparisonReader, type RowHash } from '../../src/modules/reconciliation/sql-reader';
import { createTargetDatabase } from '../support/target-db';

/**
 * Locating a bucket's single difference inside the first scan (single-difference-locator.ts), on the
 * real PostgreSQL: the missing, extra and changed rows are named exactly, from the first scan and one
 * read by key range; a bucket with two differences, and a key type without a locator, are compared by
 * the bucket scan as before, with the same result.
 */
describe('reconciliation: single differences located in the first scan', () => {
  let db: Awaited<ReturnType<typeof createTargetDatabase>>;
  let pool: Pool;
  const rows = 3000;
  const q = async (text: string, values: unknown[] = []) => (await pool.query(text, values)).rows;

  beforeAll(async () => {
    db = await createTargetDatabase('reclocate');
    pool = new Pool({ connectionString: db.url, max: 4 });
    const keys: Record<string, string> = {
      uuid: 'gen_random_uuid()',
      text: 'md5(g::text)',
      uuidtext: 'gen_random_uuid()::text',
      int: 'g * 7',
    };
    for (const [name, key] of Object.entries(keys)) {
      const type = name === 'uuidtext' ? 'text' : name === 'int' ? 'int' : name;
      await q(`CREATE TABLE src_${name} (id ${type} PRIMARY KEY, name text, score int)`);
      await q(`INSERT INTO src_${name} SELECT ${key}, 'user ' || g, g % 13 FROM generate_series(1, ${rows}) g`);
      // the users case: a text key on the legacy side, a uuid on the target
      const targetType = name === 'uuidtext' ? 'uuid' : type;
      await q(`CREATE TABLE tgt_${name} (id ${targetType} PRIMARY KEY, name text, score int)`);
      await q(`INSERT INTO tgt_${name} SELECT id::${targetType}, name, score FROM src_${name}`);
    }
  });

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  const side = (table: string) => ({ from: table, key: 'id', columns: { name: 'name', score: 'score' } });
  const compare = (name: string, hash: RowHash = 'hashtextextended'): Promise<ComparisonResult> =>
    compareByBuckets(
      new SqlComparisonReader(pool, side(`src_${name}`), {}, hash),
      new SqlComparisonReader(pool, side(`tgt_${name}`), {}, hash),
    );
  /** Keys of the source table, each in a first-level bucket of its own (or, `together`, all in one bucket). */
  const keysIn = async (name: string, n: number, together = false): Promise<string[]> => {
    const bucket = `hashtextextended(id::text COLLATE "C", 0) >> 54`;
    const found = together
      ? await q(`SELECT array_agg(id::text) AS keys FROM src_${name} GROUP BY ${bucket} HAVING count(*) >= $1 LIMIT 1`, [n])
      : await q(`SELECT array_agg(k) AS keys FROM (SELECT DISTINCT ON (${bucket}) id::text AS k FROM src_${name} ORDER BY ${bucket}, id LIMIT $1) d`, [n]);
    return (found[0].keys as string[]).slice(0, n);
  };
  const byKind = (result: ComparisonResult) =>
    Object.fromEntries(['missing', 'extra', 'mismatched'].map((kind) => [kind, result.differences.filter((d) => d.kind === kind).map((d) => d.key).sort()]));

  it.each([['uuid'], ['text'], ['uuidtext']])('%s keys: a missing, an extra and a changed row are located and named exactly', async (name) => {
    expect(await compare(name)).toMatchObject({ sourceCount: rows, targetCount: rows, matched: rows, differences: [], scans: 1 });
    const [missing, changed, extra] = await keysIn(name, 3);
    const idType = name === 'text' ? 'text' : 'uuid';
    await q(`DELETE FROM tgt_${name} WHERE id::text = $1`, [missing]);
    await q(`UPDATE tgt_${name} SET name = 'Mallory' WHERE id::text = $1`, [changed]);
    // the extra row: a source key moved to the target under a new key whose bucket is `extra`'s
    await q(`DELETE FROM src_${name} WHERE id::text = $1`, [extra]);
    try {
      for (const hash of ['hashtextextended', 'md5'] as const) {
        const result = await compare(name, hash);
        expect(byKind(result)).toEqual({ missing: [missing], extra: [extra], mismatched: [changed] });
        expect(result.differences.find((d) => d.kind === 'mismatched')!.columns).toEqual({ name: [expect.stringMatching(/^user /), 'Mallory'] });
        expect(result).toMatchObject({ sourceCount: rows - 1, targetCount: rows - 1, matched: rows - 3, located: 3, scans: 1 });
      }
    } finally {
      await q(`INSERT INTO src_${name} SELECT id::${name === 'uuidtext' ? 'text' : idType}, name, score FROM tgt_${name} WHERE id::text = $1`, [extra]);
      await q(`DELETE FROM tgt_${name}`);
      await q(`INSERT INTO tgt_${name} SELECT id::${name === 'uuidtext' ? 'uuid' : idType}, name, score FROM src_${name}`);
    }
  });

  it('a bucket with two differences falls back to the bucket scan, with the same exact result', async () => {
    const [missing, changed] = await keysIn('uuid', 2, true);
    const [alone] = (await keysIn('uuid', 40)).filter((k) => k !== missing && k !== changed);
    await q(`DELETE FROM tgt_uuid WHERE id = $1`, [missing]);
    await q(`UPDATE tgt_uuid SET score = -1 WHERE id = ANY($1::uuid[])`, [[changed, alone]]);
    try {
      const result = await compare('uuid');
      expect(byKind(result)).toEqual({ missing: [missing], extra: [], mismatched: [alone, changed].sort() });
      expect(result).toMatchObject({ sourceCount: rows, targetCount: rows - 1, matched: rows - 3, scans: 2 });
      // the bucket holding `alone` alone is located unless it is also the two-difference bucket
      expect(result.located).toBeLessThanOrEqual(1);
    } finally {
      await q(`INSERT INTO tgt_uuid SELECT * FROM src_uuid WHERE id = $1`, [missing]);
      await q(`UPDATE tgt_uuid t SET score = s.score FROM src_uuid s WHERE s.id = t.id`);
    }
  });

  it('a key type without a locator (int) is compared by the bucket scan, exactly', async () => {
    await q(`DELETE FROM tgt_int WHERE id = 7`);
    await q(`UPDATE tgt_int SET name = 'Mallory' WHERE id = 14`);
    await q(`INSERT INTO tgt_int VALUES (5, 'extra', 0)`);
    const result = await compare('int');
    expect(byKind(result)).toEqual({ missing: ['7'], extra: ['5'], mismatched: ['14'] });
    expect(result).toMatchObject({ sourceCount: rows, targetCount: rows, matched: rows - 2, located: 0, scans: 2 });
  });
});
