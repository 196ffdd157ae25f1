import type { Client } from 'pg';
import { SeededRandom } from '../src/shared/seeded-random';

/**
 * The demo legacy database of seed 002 and a data generator of realistic shape and size, used by
 * the quickstart, the benchmarks and the tests.
 *
 * `<schema>.user_app_state (id bigserial, user_id text, updated_at timestamptz, state jsonb)` holds
 * one JSON document per user (4–20 KB: a few orgs, personas writing contents, connected accounts,
 * leads, references, inbox items, plus UI settings), with the seed's legacy problems: some users
 * have several rows (older duplicates, ids in no particular order), and a few states are invalid.
 */

export interface GenerateOptions {
  users: number;
  /** Share of users (0–1) that also have 1–3 older duplicate rows. */
  duplicateRatio: number;
  /** Share of rows (0–1) whose state is invalid (see BadKind). */
  badRatio: number;
  /** Seed of the pseudo-random generator: the same options give the same data. Default 1. */
  seed?: number;
}

/**
 * How a generated state is invalid, and what the quarantine reason names:
 * a field path of the document (rejected by the projection's schema), or a constraint of the target
 * (rejected by PostgreSQL; generated only for a user's newest row, so that it is always the row
 * being projected when it arrives).
 */
export type BadKind =
  | 'dangling-org'
  | 'score-text'
  | 'missing-body'
  | 'duplicate-id'
  | 'bad-date'
  | 'not-an-object'
  | 'duplicate-account';

export interface GeneratedRow {
  userId: string;
  /** ISO-8601 in UTC. */
  updatedAt: string;
  state: unknown;
  /** Set on invalid states: the kind and the text the quarantine reason contains. */
  bad?: { kind: BadKind; reasonContains: string };
  /** True for a user's newest row. */
  latest: boolean;
}

export interface GenerateSummary {
  users: number;
  rows: number;
  duplicates: number;
  /** The invalid rows, with their legacy ids. */
  bad: Array<{ id: string; userId: string; kind: BadKind; reasonContains: string; latest: boolean }>;
  bytes: number;
}

/** Creates `<schema>.user_app_state` (the seed's legacy table) if missing. */
export async function createLegacyAppState(client: Client, schema: string): Promise<void> {
  const table = `${quoteIdent(schema)}.user_app_state`;
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
  await client.query(`
    CREATE TABLE IF NOT EXISTS ${table} (
      id bigserial PRIMARY KEY,
      user_id text,
      updated_at timestamptz NOT NULL DEFAULT now(),
      state jsonb
    )`);
  await client.query(
    `CREATE INDEX IF NOT EXISTS user_app_state_user_id_idx ON ${table} (user_id, updated_at DESC)`,
  );
  // States are TOASTed: an update that does not touch the state (e.g. updated_at = now()) would
  // otherwise send a placeholder instead of it, and the projection needs the whole document.
  await client.query(`ALTER TABLE ${table} REPLICA IDENTITY FULL`);
}

/** Inserts generated rows into `<schema>.user_app_state`, in an order unrelated to updated_at. */
export async function generateAppStates(
  client: Client,
  schema: string,
  options: GenerateOptions,
): Promise<GenerateSummary> {
  const summary: GenerateSummary = { users: options.users, rows: 0, duplicates: 0, bad: [], bytes: 0 };
  for (const chunk of appStateChunks(options)) {
    const states = chunk.map((row) => JSON.stringify(row.state));
    summary.rows += chunk.length;
    summary.duplicates += chunk.filter((row) => !row.latest).length;
    summary.bytes += states.reduce((sum, state) => sum + Buffer.byteLength(state), 0);
    const { rows: inserted } = await client.query<{ id: string; user_id: string }>(
      `INSERT INTO ${quoteIdent(schema)}.user_app_state (user_id, updated_at, state)
       SELECT user_id, updated_at, state FROM unnest($1::text[], $2::timestamptz[], $3::jsonb[]) WITH ORDINALITY AS r(user_id, updated_at, state, n)
        ORDER BY n
       RETURNING id::text, user_id`,
      [chunk.map((row) => row.userId), chunk.map((row) => row.updatedAt), states],
    );
    inserted.forEach((row, index) => {
      const generated = chunk[index];
      if (row.user_id !== generated.userId)
        throw new Error('generateAppStates: rows were inserted out of order');
      if (generated.bad)
        summary.bad.push({
          id: row.id,
          userId: generated.userId,
          ...generated.bad,
          latest: generated.latest,
        });
    });
  }
  return summary;
}

/** The rows generateAppStates inserts, in insertion order. Pure and deterministic for a seed. */
export function buildAppStates(options: GenerateOptions): GeneratedRow[] {
  return [...appStateChunks(options)].flat();
}

const USERS_PER_CHUNK = 250;

/** The rows in chunks of USERS_PER_CHUNK users (shuffled within a chunk), so that memory stays bounded. */
export function* appStateChunks(options: GenerateOptions): Generator<GeneratedRow[]> {
  const rng = new SeededRandom(options.seed ?? 1);
  const epoch = Date.UTC(2025, 0, 1);
  let rows: GeneratedRow[] = [];
  for (let u = 0; u < options.users; u++) {
    const userId = rng.uuid();
    const latestAt = epoch + rng.int(0, 300 * 86_400_000);
    const state = buildState(rng, latestAt);
    const history: GeneratedRow[] = [{ userId, updatedAt: isoMicros(latestAt, rng), state, latest: true }];
    if (rng.chance(options.duplicateRatio)) {
      let at = latestAt;
      for (let d = rng.int(1, 3); d > 0; d--) {
        at -= rng.int(3_600_000, 60 * 86_400_000);
        history.push({
          userId,
          updatedAt: isoMicros(at, rng),
          state: olderVersionOf(rng, history[history.length - 1].state as AppState, at),
          latest: false,
        });
      }
    }
    for (const row of history) {
      if (rng.chance(options.badRatio)) spoil(rng, row);
    }
    rows.push(...history);
    if ((u + 1) % USERS_PER_CHUNK === 0 || u === options.users - 1) {
      yield rng.shuffle(rows);
      rows = [];
    }
  }
}

interface AppState {
  schemaVersion: number;
  orgs: Array<Record<string, unknown>>;
  personas: Array<Record<string, unknown>>;
  contents: Array<Record<string, unknown>>;
  accounts: Array<Record<string, unknown>>;
  leads: Array<Record<string, unknown>>;
  references: Array<Record<string, unknown>>;
  inboxItems: Array<Record<string, unknown>>;
  [key: string]: unknown;
}

const MIN_BYTES = 4_400;
const MAX_BYTES = 16_500; // JSON.stringify size; PostgreSQL's jsonb text adds ~10% (", " and ": ")

function buildState(rng: SeededRandom, at: number): AppState {
  const target = rng.int(MIN_BYTES, MAX_BYTES);
  const ids = new IdSource(rng);
  const orgs = Array.from({ length: rng.int(1, 3) }, () => org(rng, ids, at));
  const personas = orgs.flatMap((o) =>
    Array.from({ length: rng.int(1, 3) }, () => persona(rng, ids, String(o.id), at)),
  );
  if (personas.length < 2) personas.push(persona(rng, ids, String(orgs[0].id), at));
  personas[0].isDefault = true;
  const accounts = PROVIDERS.slice(0, rng.int(2, 5)).map((provider) => account(rng, ids, provider, at));
  const state: AppState = {
    schemaVersion: 3,
    orgs,
    personas,
    contents: Array.from({ length: 4 }, () => content(rng, ids, String(rng.pick(personas).id), at)),
    accounts,
    leads: Array.from({ length: 3 }, () => lead(rng, ids, at)),
    references: Array.from({ length: 2 }, () => reference(rng, ids, at)),
    inboxItems: Array.from({ length: 3 }, () => inboxItem(rng, ids, String(rng.pick(accounts).id), at)),
    settings: {
      theme: rng.pick(['light', 'dark', 'system']),
      locale: rng.pick(['en-US', 'en-GB', 'de-DE', 'fr-FR']),
      digest: rng.pick(['daily', 'weekly', 'off']),
    },
    ui: {
      sidebarCollapsed: rng.chance(0.3),
      lastOpenedPersona: personas[0].id,
      onboarding: { step: rng.int(1, 6), done: rng.chance(0.7) },
    },
  };
  // Grow to the target size, mostly with contents, as real states grow.
  let size = JSON.stringify(state).length;
  const add = <T>(list: T[], item: T) => {
    list.push(item);
    size += JSON.stringify(item).length + 1;
  };
  while (size < target) {
    const roll = rng.next();
    if (roll < 0.45) add(state.contents, content(rng, ids, String(rng.pick(personas).id), at));
    else if (roll < 0.65) add(state.leads, lead(rng, ids, at));
    else if (roll < 0.85) add(state.inboxItems, inboxItem(rng, ids, String(rng.pick(accounts).id), at));
    else add(state.references, reference(rng, ids, at));
  }
  return state;
}

/** An older state of the same user: fewer contents and leads, maybe a persona removed since. */
function olderVersionOf(rng: SeededRandom, newer: AppState, at: number): AppState {
  const older: AppState = JSON.parse(JSON.stringify(newer));
  const ids = new IdSource(rng);
  older.contents = older.contents.slice(0, Math.max(1, older.contents.length - rng.int(1, 6)));
  older.leads = older.leads.slice(0, Math.max(1, older.leads.length - rng.int(0, 4)));
  older.inboxItems = older.inboxItems.slice(0, Math.max(1, older.inboxItems.length - rng.int(0, 5)));
  if (rng.chance(0.5)) {
    const gone = persona(rng, ids, String(older.orgs[0].id), at);
    older.personas.push(gone);
    older.contents.push(content(rng, ids, String(gone.id), at), content(rng, ids, String(gone.id), at));
  }
  (older.ui as Record<string, unknown>).onboarding = { step: 1, done: false };
  let size = JSON.stringify(older).length;
  while (size < MIN_BYTES) {
    const added = reference(rng, ids, at);
    older.references.push(added);
    size += JSON.stringify(added).length + 1;
  }
  while (size > MAX_BYTES && older.contents.length > 1)
    size -= JSON.stringify(older.contents.pop()).length + 1;
  return older;
}

function spoil(rng: SeededRandom, row: GeneratedRow): void {
  const state = row.state as AppState;
  const kinds: BadKind[] = [
    'dangling-org',
    'score-text',
    'missing-body',
    'duplicate-id',
    'bad-date',
    'not-an-object',
  ];
  if (row.latest) kinds.push('duplicate-account', 'duplicate-account');
  const kind = rng.pick(kinds);
  const at = (list: keyof AppState) => rng.int(0, (state[list] as unknown[]).length - 1);
  switch (kind) {
    case 'dangling-org': {
      const index = at('personas');
      state.personas[index].orgId = 'org_deleted_1234';
      row.bad = { kind, reasonContains: `state.personas.${index}.orgId` };
      break;
    }
    case 'score-text': {
      const index = at('leads');
      state.leads[index].score = rng.pick(['high', 'hot', '80%']);
      row.bad = { kind, reasonContains: `state.leads.${index}.score` };
      break;
    }
    case 'missing-body': {
      const index = at('contents');
      delete state.contents[index].body;
      row.bad = { kind, reasonContains: `state.contents.${index}.body` };
      break;
    }
    case 'duplicate-id': {
      if (state.leads.length < 2) state.leads.push({ ...state.leads[0], id: 'lead_copy' });
      const index = state.leads.length - 1;
      state.leads[index].id = state.leads[0].id;
      row.bad = { kind, reasonContains: `state.leads.${index}.id` };
      break;
    }
    case 'bad-date': {
      const index = at('inboxItems');
      state.inboxItems[index].receivedAt = rng.pick(['last tuesday', '2025-13-01T10:00:00Z', '12/03/2025']);
      row.bad = { kind, reasonContains: `state.inboxItems.${index}.receivedAt` };
      break;
    }
    case 'not-an-object':
      row.state = [state];
      row.bad = { kind, reasonContains: 'state: Invalid input: expected object' };
      break;
    case 'duplicate-account': {
      const [first, second] = state.accounts;
      second.provider = first.provider;
      second.handle = first.handle;
      row.bad = { kind, reasonContains: 'accounts_provider_handle_key' };
      break;
    }
  }
}

// --- entities ---------------------------------------------------------------------------------

const PROVIDERS = ['linkedin', 'twitter', 'gmail', 'outlook', 'hubspot'];
const FIRST = [
  'Ann',
  'Ben',
  'Chloé',
  'Dev',
  'Elena',
  'Farid',
  'Grace',
  'Hiro',
  'Ines',
  'Jonas',
  'Kemi',
  'Lucas',
  'Maya',
  'Noah',
  'Olga',
  'Priya',
  'Quinn',
  'Rafael',
  'Sara',
  'Tomás',
];
const LAST = [
  'Lee',
  'Okafor',
  'Schmidt',
  'García',
  'Nguyen',
  'Rossi',
  'Kowalski',
  'Tanaka',
  'Dubois',
  'Hansen',
  'Patel',
  'Silva',
  "O'Brien",
  'Müller',
];
const COMPANY = [
  'Acme',
  'Globex',
  'Initech',
  'Umbrella',
  'Stark',
  'Wayne',
  'Hooli',
  'Vandelay',
  'Pied Piper',
  'Soylent',
  'Tyrell',
  'Cyberdyne',
];
const SUFFIX = ['Labs', 'Inc.', 'GmbH', 'Analytics', 'Cloud', 'Health', 'Capital', 'Robotics'];
const INDUSTRY = [
  'SaaS',
  'Fintech',
  'Healthcare',
  'E-commerce',
  'Logistics',
  'Education',
  'Manufacturing',
  'Media',
];
const ROLES = [
  'Founder',
  'Head of Growth',
  'Sales lead',
  'Recruiter',
  'Product marketer',
  'CTO',
  'Community manager',
];
const TONES = ['direct', 'friendly', 'witty', 'formal', 'inspirational', 'analytical'];
const WORDS = (
  'we ship faster when teams own outcomes not tickets pipeline quarter launch customers feedback churn onboarding ' +
  'pricing experiment roadmap hiring culture remote async meetings focus metrics growth retention story lesson ' +
  'mistake learned today simple boring reliable scale infrastructure data privacy trust community partners ' +
  'webinar demo case study template playbook outreach reply warm intro follow up calendar budget renewal'
).split(' ');
const TAGS = ['growth', 'hiring', 'product', 'sales', 'ai', 'leadership', 'remote', 'b2b', 'launch', 'story'];

class IdSource {
  constructor(private readonly rng: SeededRandom) {}
  next(prefix: string): string | number {
    // Legacy ids come in several styles: prefixed random strings, uuids, and Date.now() integers.
    const style = this.rng.int(0, 9);
    if (style < 6) return `${prefix}_${this.rng.hex(10)}`;
    if (style < 9) return this.rng.uuid();
    return 1_700_000_000_000 + this.rng.int(0, 99_999_999);
  }
}

function sentence(rng: SeededRandom, min: number, max: number): string {
  const words = Array.from({ length: rng.int(min, max) }, () => rng.pick(WORDS));
  const text = words.join(' ');
  return text.charAt(0).toUpperCase() + text.slice(1) + '.';
}

function paragraph(rng: SeededRandom, sentences: number): string {
  return Array.from({ length: sentences }, () => sentence(rng, 6, 16)).join(' ');
}

const before = (rng: SeededRandom, at: number, maxDays: number) =>
  new Date(at - rng.int(0, maxDays * 86_400_000)).toISOString();

function org(rng: SeededRandom, ids: IdSource, at: number): Record<string, unknown> {
  const name = `${rng.pick(COMPANY)} ${rng.pick(SUFFIX)}`;
  return {
    id: ids.next('org'),
    name,
    website: `https://${name.toLowerCase().replace(/[^a-z]+/g, '')}.example.com`,
    industry: rng.pick(INDUSTRY),
    size: rng.pick(['1-10', '11-50', '51-200', '201-1000', '1000+']),
    description: sentence(rng, 8, 20),
    createdAt: before(rng, at, 400),
  };
}

function persona(rng: SeededRandom, ids: IdSource, orgId: string, at: number): Record<string, unknown> {
  return {
    id: ids.next('persona'),
    orgId,
    name: `${rng.pick(FIRST)} (${rng.pick(ROLES)})`,
    role: rng.pick(ROLES),
    tone: rng.pick(TONES),
    description: sentence(rng, 10, 24),
    audience: `${rng.pick(INDUSTRY)} ${rng.pick(['founders', 'engineers', 'buyers', 'marketers'])}`,
    goals: rng.sample(
      ['grow followers', 'book demos', 'hire engineers', 'build authority', 'launch product'],
      rng.int(1, 3),
    ),
    isDefault: false,
    createdAt: before(rng, at, 300),
  };
}

function content(rng: SeededRandom, ids: IdSource, personaId: string, at: number): Record<string, unknown> {
  const status = rng.pick(['draft', 'draft', 'scheduled', 'published', 'published', 'archived']);
  const created = at - rng.int(0, 120 * 86_400_000);
  return {
    id: ids.next('content'),
    personaId,
    type: rng.pick(['post', 'post', 'article', 'thread', 'email', 'comment']),
    title: rng.chance(0.6) ? sentence(rng, 3, 8) : null,
    body: paragraph(rng, rng.int(1, 5)),
    status,
    tags: rng.sample(TAGS, rng.int(0, 3)),
    ...(status === 'scheduled'
      ? { scheduledAt: new Date(at + rng.int(1, 14) * 86_400_000).toISOString() }
      : {}),
    ...(status === 'published'
      ? {
          publishedAt: new Date(created + 3_600_000).toISOString(),
          metrics: { likes: rng.int(0, 900), comments: rng.int(0, 80) },
        }
      : {}),
    createdAt: new Date(created).toISOString(),
    updatedAt: new Date(created + rng.int(0, 86_400_000)).toISOString(),
  };
}

function account(rng: SeededRandom, ids: IdSource, provider: string, at: number): Record<string, unknown> {
  const first = rng.pick(FIRST);
  const last = rng.pick(LAST);
  return {
    id: ids.next('acct'),
    provider,
    handle:
      provider === 'gmail' || provider === 'outlook'
        ? `${first}.${last}@example.com`.toLowerCase()
        : `${first}-${last}-${rng.hex(4)}`.toLowerCase(),
    displayName: `${first} ${last}`,
    scopes: rng.sample(['read', 'write', 'messages', 'profile'], rng.int(1, 3)),
    active: rng.chance(0.9),
    connectedAt: before(rng, at, 200),
  };
}

function lead(rng: SeededRandom, ids: IdSource, at: number): Record<string, unknown> {
  const first = rng.pick(FIRST);
  const last = rng.pick(LAST);
  const company = rng.pick(COMPANY);
  return {
    id: ids.next('lead'),
    name: `${first} ${last}`,
    email: rng.chance(0.8)
      ? `${first}.${last.replace(/[^A-Za-z]/g, '')}@${company.toLowerCase().replace(/ /g, '')}.example.com`
          .toLowerCase()
          .normalize('NFD')
          .replace(/[^\x20-\x7e]/g, '')
      : null,
    company,
    title: rng.pick(['CEO', 'VP Sales', 'Head of Ops', 'Engineer', 'Buyer', 'CMO']),
    status: rng.pick(['new', 'contacted', 'replied', 'qualified', 'won', 'lost']),
    score: rng.chance(0.85) ? rng.int(0, 100) : null,
    source: rng.pick(['linkedin', 'webinar', 'referral', 'inbound', 'event']),
    notes: rng.chance(0.5) ? sentence(rng, 6, 18) : null,
    createdAt: before(rng, at, 180),
  };
}

function reference(rng: SeededRandom, ids: IdSource, at: number): Record<string, unknown> {
  const kind = rng.pick(['link', 'link', 'file', 'note', 'quote']);
  return {
    id: ids.next('ref'),
    title: sentence(rng, 2, 6),
    url: kind === 'link' ? `https://blog.example.com/${rng.hex(8)}` : null,
    kind,
    excerpt: paragraph(rng, rng.int(1, 2)),
    tags: rng.sample(TAGS, rng.int(0, 2)),
    createdAt: before(rng, at, 365),
  };
}

function inboxItem(rng: SeededRandom, ids: IdSource, accountId: string, at: number): Record<string, unknown> {
  const received = at - rng.int(0, 30 * 86_400_000);
  return {
    id: ids.next('msg'),
    accountId: rng.chance(0.9) ? accountId : null,
    from: `${rng.pick(FIRST)} ${rng.pick(LAST)}`,
    subject: rng.chance(0.8) ? `Re: ${sentence(rng, 2, 6)}` : null,
    preview: sentence(rng, 8, 20),
    // legacy clients stored this one as epoch milliseconds
    receivedAt: rng.chance(0.5) ? received : new Date(received).toISOString(),
    read: rng.chance(0.6),
    archived: rng.chance(0.1),
    ...(rng.chance(0.2) ? { labels: rng.sample(['important', 'follow-up', 'later'], rng.int(1, 2)) } : {}),
  };
}

function isoMicros(at: number, rng: SeededRandom): string {
  return `${new Date(at).toISOString().slice(0, 19)}.${String(rng.int(0, 999_999)).padStart(6, '0')}Z`;
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

