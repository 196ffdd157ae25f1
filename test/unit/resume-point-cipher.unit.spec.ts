import { deserializeState, serializeState, type CaptureState } from '../../src/modules/capture/capture-state';
import { ResumePointCipher, resumePointCipherOf } from '../../src/modules/capture/resume-point-cipher';
import { columnPolicyOf } from '../../src/modules/config/column-policy';
import type { SourceTable } from '../../src/connectors/postgres-source/source-catalog';
import type { Backfill } from '../../src/modules/capture/backfill/backfill-state';
import { CaptureStateError, ConfigError } from '../../src/shared/errors';

const KEY = Buffer.from('mask-key-for-tests-0123456789abcdef');
const OTHER_KEY = Buffer.from('another-mask-key-for-tests-0123456789');
const cipherWith = (key: Buffer | null) => new ResumePointCipher(key, new Set(['public.users']), 'MY_MASK_KEY');

const backfill = (lastKey: string[] | null): Backfill => ({
  id: 'b1',
  table: 'public.users',
  where: null,
  chunkSize: 100,
  origin: 'command',
  status: 'running',
  lastKey,
  rowsRead: 100,
  rowsEmitted: 100,
  chunksDone: 1,
  estimatedRows: 300,
  requestedAtMs: 1,
  startedAtMs: 2,
  updatedAtMs: 3,
});

/** A state with a masked-key table (public.users, keyed by e-mail) and a clear-key one (public.orders). */
const state: CaptureState = {
  slot: 's',
  stream: { lastCommitLsn: 0x20n, partial: null, ackLsn: 0x28n },
  backfills: [backfill(['carol@secret.test'])],
  capturedTables: ['public.users', 'public.orders'],
  snapshot: {
    status: 'running',
    consistentLsn: 0x10n,
    tables: {
      'public.users': {
        keyColumns: ['email'],
        keyKinds: ['text'],
        chunks: [
          { lower: null, upper: ['ann@secret.test'], doneAtLsn: 0x10n },
          { lower: ['ann@secret.test'], upper: ['bob@secret.test'], doneAtLsn: null },
          { lower: ['bob@secret.test'], upper: null, doneAtLsn: null },
        ],
      },
      'public.orders': { keyColumns: ['id'], keyKinds: ['integer'], chunks: [{ lower: null, upper: ['5'], doneAtLsn: null }, { lower: ['5'], upper: null, doneAtLsn: null }] },
    },
  },
};

describe("capture's resume points of a masked key", () => {
  it('are stored only encrypted, and read back whole with the same key', () => {
    const stored = serializeState(state, cipherWith(KEY));
    expect(stored).not.toContain('secret.test');
    expect(stored).toContain('"upper":["5"]'); // a key that is not masked stays readable
    expect(deserializeState(stored, cipherWith(KEY))).toEqual(state);
  });

  it('resume from a state written in clear by an earlier version, and seal it on the next write', () => {
    const clear = serializeState(state);
    expect(clear).toContain('bob@secret.test');
    const resumed = deserializeState(clear, cipherWith(KEY));
    expect(resumed).toEqual(state);
    expect(serializeState(resumed, cipherWith(KEY))).not.toContain('secret.test');
  });

  it('seal the same value differently each time it is first written (random nonce), and each value once per process', () => {
    const one = cipherWith(KEY);
    const tuple = ['ann@secret.test'];
    expect(one.store('public.users', tuple)).toBe(one.store('public.users', tuple));
    expect(one.store('public.users', tuple)).not.toEqual(cipherWith(KEY).store('public.users', ['ann@secret.test']));
  });

  it('refuse another masking key with an error naming the variable and source.maskKeyEnv', () => {
    const stored = serializeState(state, cipherWith(KEY));
    const read = () => deserializeState(stored, cipherWith(OTHER_KEY));
    expect(read).toThrow(ConfigError);
    expect(read).toThrow(/public\.users was encrypted with another masking key than the one in MY_MASK_KEY \(source\.maskKeyEnv\)/);
  });

  it('refuse to resume without a masking key, naming source.maskKeyEnv', () => {
    const stored = serializeState(state, cipherWith(KEY));
    expect(() => deserializeState(stored, ResumePointCipher.none)).toThrow(/is encrypted .* no masking key is configured.*source\.maskKeyEnv/);
  });

  it('refuse an altered value, and one moved to another table', () => {
    const cipher = cipherWith(KEY);
    const sealed = cipher.store('public.users', ['ann@secret.test']) as { sealed: string };
    const bytes = Buffer.from(sealed.sealed.split('.')[3], 'base64url');
    bytes[0] ^= 1;
    const parts = sealed.sealed.split('.');
    const altered = { sealed: [...parts.slice(0, 3), bytes.toString('base64url')].join('.') };
    expect(() => cipher.load('public.users', altered)).toThrow(CaptureStateError);
    expect(() => cipher.load('public.users', altered)).toThrow(/does not authenticate .* refused/);
    const both = new ResumePointCipher(KEY, new Set(['public.users', 'public.admins']), 'MY_MASK_KEY');
    expect(() => both.load('public.admins', both.store('public.users', ['ann@secret.test']))).toThrow(/does not authenticate/);
    expect(() => cipher.load('public.users', { sealed: 'garbage' })).toThrow(/not a valid encrypted value/);
    expect(cipher.load('public.users', cipher.store('public.users', ['ann@secret.test']))).toEqual(['ann@secret.test']);
  });

  it('stay sealed for a table no longer captured (a finished backfill kept in the state)', () => {
    const stored = serializeState(state, cipherWith(KEY));
    const without = new ResumePointCipher(KEY, new Set(), 'MY_MASK_KEY');
    expect(serializeState(deserializeState(stored, without), without)).not.toContain('secret.test');
  });

  it('are sealed for the tables whose key has a masked column, under the key of source.maskKeyEnv', () => {
    const config = {
      source: {
        tables: ['public.users', 'public.orders'],
        maskKeyEnv: 'MY_MASK_KEY',
        columns: { 'public.users': { exclude: [], mask: ['email'] }, 'public.orders': { exclude: [], mask: ['note'] } },
      },
    } as unknown as Parameters<typeof columnPolicyOf>[0];
    const policy = columnPolicyOf(config, { MY_MASK_KEY: KEY.toString() });
    const table = (name: string, keyColumns: string[]) => ({ schema: 'public', table: name, keyColumns }) as unknown as SourceTable;
    const cipher = resumePointCipherOf(policy, [table('users', ['email']), table('orders', ['id'])], 'MY_MASK_KEY');
    expect(cipher.store('public.orders', ['5'])).toEqual(['5']);
    const sealed = cipher.store('public.users', ['ann@secret.test']);
    expect(JSON.stringify(sealed)).not.toContain('secret.test');
    expect(cipherWith(KEY).load('public.users', sealed)).toEqual(['ann@secret.test']);
  });
});
