import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'crypto';
import { z } from 'zod';
import type { ColumnPolicy } from '../../connectors/postgres-source/column-policy';
import type { KeyTuple } from '../../connectors/postgres-source/key-range';
import { tableName, type SourceTable } from '../../connectors/postgres-source/source-catalog';
import { CaptureStateError, ConfigError } from '../../shared/errors';

/** A resume point's primary-key value as stored when the key is masked: AES-256-GCM of its JSON text. */
export interface SealedKey {
  sealed: string;
}

export const sealedKeySchema = z.object({ sealed: z.string() }).strict();

/** A key value as capture's state stores it: clear (an unmasked key, or a state written before keys were sealed) or sealed. */
export type StoredKey = KeyTuple | SealedKey;

const FORMAT = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Capture's resume points (a snapshot's chunk bounds, a backfill's last key) are primary-key values,
 * and the state holding them lives in Kafka for good. For a table whose key is masked in
 * source.columns they are stored encrypted with a key derived (HKDF) from the masking key, and
 * decrypted only in capture's memory when it resumes. The table's name is authenticated with the
 * value, so a sealed key cannot be moved to another table; a short key id, derived apart from the
 * encryption key, tells a value written under another masking key from an altered one.
 */
export class ResumePointCipher {
  static readonly none = new ResumePointCipher(null, new Set(), 'TANDEM_MASK_KEY');

  private readonly key: Buffer | null;
  private readonly keyId: string | null;
  /** Sealed values by the (immutable) tuple they seal: the state is written at every commit, its bounds rarely change. */
  private readonly sealedByTuple = new WeakMap<KeyTuple, { table: string; sealed: SealedKey }>();
  /** Tables a sealed value was read for: they stay sealed (a finished backfill of a table since left out of source.tables). */
  private readonly sealedWhenRead = new Set<string>();

  constructor(
    maskKey: Buffer | null,
    /** "schema.table" of the tables whose key has a masked column. */
    private readonly sealedTables: ReadonlySet<string>,
    /** The NAME of the variable holding the masking key (source.maskKeyEnv), for errors. */
    private readonly keyEnv: string,
  ) {
    this.key = maskKey && Buffer.from(hkdfSync('sha256', maskKey, '', 'tandem capture resume point encryption', 32));
    this.keyId = maskKey && Buffer.from(hkdfSync('sha256', maskKey, '', 'tandem capture resume point key id', 6)).toString('base64url');
  }

  /** What the state stores of `table`'s key value: sealed when the table's key is masked. */
  store(table: string, tuple: KeyTuple): StoredKey {
    if (!this.key || !(this.sealedTables.has(table) || this.sealedWhenRead.has(table))) return tuple;
    const cached = this.sealedByTuple.get(tuple);
    if (cached?.table === table) return cached.sealed;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(aadOf(table));
    const body = Buffer.concat([cipher.update(JSON.stringify(tuple), 'utf8'), cipher.final()]);
    const sealed = { sealed: [FORMAT, this.keyId, iv.toString('base64url'), Buffer.concat([body, cipher.getAuthTag()]).toString('base64url')].join('.') };
    this.sealedByTuple.set(tuple, { table, sealed });
    return sealed;
  }

  /** The clear key value of what the state stored; a sealed one that does not open is refused. */
  load(table: string, stored: StoredKey): KeyTuple {
    if (Array.isArray(stored)) return stored;
    const where = `capture's resume point for ${table}`;
    const [format, keyId, iv, body] = stored.sealed.split('.');
    if (!this.key)
      throw new ConfigError(
        `${where} is encrypted (its key column is masked) but no masking key is configured: keep the mask of the key in source.columns and set ${this.keyEnv} (source.maskKeyEnv)`,
      );
    if (format !== FORMAT || !iv || !body) throw new CaptureStateError(`${where} is not a valid encrypted value: refused`);
    if (keyId !== this.keyId)
      throw new ConfigError(
        `${where} was encrypted with another masking key than the one in ${this.keyEnv} (source.maskKeyEnv): set the key it was written with, or start again with tandem capture --resnapshot`,
      );
    const sealed = Buffer.from(body, 'base64url');
    let text: string;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(aadOf(table));
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      text = Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new CaptureStateError(`${where} does not authenticate (it was altered or belongs to another table): refused`);
    }
    const tuple = JSON.parse(text) as unknown;
    if (!Array.isArray(tuple) || !tuple.every((value) => typeof value === 'string'))
      throw new CaptureStateError(`${where} does not hold a key value: refused`);
    this.sealedWhenRead.add(table);
    return tuple;
  }
}

const aadOf = (table: string) => Buffer.from(`tandem resume point ${FORMAT} ${table}`, 'utf8');

/** The cipher of capture's resume points for the captured tables under their column rules. */
export function resumePointCipherOf(columns: ColumnPolicy, tables: SourceTable[], keyEnv: string): ResumePointCipher {
  let key: Buffer | null = null;
  const sealed = new Set<string>();
  for (const table of tables) {
    const rules = columns.of(table.schema, table.table);
    key ??= rules?.key ?? null;
    if (rules && table.keyColumns.some((column) => rules.mask.has(column))) sealed.add(tableName(table));
  }
  return new ResumePointCipher(key, sealed, keyEnv);
}
