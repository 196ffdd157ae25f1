import type { TableComparison } from '../framework/define-reconciliation';
import { isoUtc, isoUtcMillis, jsTrim, jsonDate, jsonText, numberText, sqlLiteral } from '../reconcile-sql';
import { ENTITY_LISTS } from './app-state.schema';

/**
 * Reconciliation of the app-state recipe, one row per user: the legacy row that wins for the user
 * against the target's `user_states`, keyed by that legacy row's id.
 *
 * Legacy side: per user (user_id not NULL, not blank), the row with the greatest (updated_at, id),
 * the recipe's winner rule (NULL updated_at first; integer ids compared as numbers). Target side:
 * `user_states` whose winner still exists for that user in the ledger (`source_rows`). Compared:
 * the user, updated_at, schemaVersion, the document's other keys (`settings`), and for each of the
 * seven entity lists a digest "<count>:<md5>" over its entities, each as the projection writes it
 * (old id, position, every column with zod's trims and defaults, dates as toISOString() gives them,
 * links as the parent's old id, the keys without a column in canonical jsonb text), built from the
 * legacy document's array elements on one side and the entity table's rows of the user on the
 * other. One changed, missing or extra entity changes its list's digest; the report names the
 * legacy row (the user) and the list.
 *
 * Validity cannot be judged in SQL, and the recipe projects the newest *valid* row. So a user whose
 * legacy winner is invalid is compared as the projection sees it: the legacy winner's key is missing
 * on the target and explained by its quarantined event (reported as quarantined), and the target
 * leaves out its user_states row for a user that has a quarantined legacy row newer than the winner
 * the target holds (the target fell back to an older valid row; that user is "the quarantined row",
 * not a difference), unless that newer row was deleted since. Not judged here: a user whose legacy
 * winner was deleted keeps no projection until its state is written again (README, "Deletes"):
 * reconciliation reports that user's legacy winner as missing, which is what the application would
 * see.
 */

const ISO_MICROS = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;

/** An entity's old id as the projection keeps it: a string trimmed, an integer as its digits. */
const oldId = (json: string) =>
  `(CASE jsonb_typeof(${json}) WHEN 'number' THEN ${numberText(`${json} #>> '{}'`)} WHEN 'string' THEN ${jsTrim(`${json} #>> '{}'`)} END)`;
const text = (key: string) => (e: string) => `${e}->>'${key}'`;
const trimmed = (key: string) => (e: string) => jsTrim(`${e}->>'${key}'`);
const orDefault = (key: string, fallback: string, trim = false) => (e: string) =>
  `coalesce(${trim ? jsTrim(`${e}->>'${key}'`) : `${e}->>'${key}'`}, ${sqlLiteral(fallback)})`;
const flag = (key: string, fallback: boolean) => (e: string) =>
  `(CASE jsonb_typeof(${e}->'${key}') WHEN 'boolean' THEN (${e}->>'${key}')::boolean ELSE ${fallback} END)::text`;
const date = (key: string) => (e: string) => jsonDate(`${e}->'${key}'`);
const strings = (key: string) => (e: string) =>
  `(CASE WHEN jsonb_typeof(${e}->'${key}') = 'array' THEN array(SELECT x FROM jsonb_array_elements_text(${e}->'${key}') WITH ORDINALITY AS l(x, i) ORDER BY i) ELSE ARRAY[]::text[] END)::text`;
const link = (key: string) => (e: string) => oldId(`${e}->'${key}'`);

const column = (name: string) => (t: string) => `${t}.${name}`;
const timeColumn = (name: string) => (t: string) => isoUtcMillis(`${t}.${name}`);
const arrayColumn = (name: string) => (t: string) => `${t}.${name}::text`;
const flagColumn = (name: string) => (t: string) => `${t}.${name}::text`;
const parentOldId = (name: string, parent: string) => (t: string) => `(SELECT p.old_id FROM {target}.${parent} p WHERE p.id = ${t}.${name})`;

type Field = [source: (e: string) => string, target: (t: string) => string];

interface EntitySpec {
  list: (typeof ENTITY_LISTS)[number];
  table: string;
  /** The document keys that have a column (the others go to `extra`). */
  known: string[];
  fields: Field[];
}

/** Per entity list, what explodeState (app-state.projection.ts) writes, column by column. */
const ENTITIES: EntitySpec[] = [
  {
    list: 'orgs',
    table: 'orgs',
    known: ['id', 'name', 'website', 'industry', 'size', 'description', 'createdAt'],
    fields: [
      [trimmed('name'), column('name')],
      [text('website'), column('website')],
      [text('industry'), column('industry')],
      [text('size'), column('size')],
      [text('description'), column('description')],
      [date('createdAt'), timeColumn('created_at')],
    ],
  },
  {
    list: 'personas',
    table: 'personas',
    known: ['id', 'orgId', 'name', 'role', 'tone', 'description', 'audience', 'goals', 'isDefault', 'createdAt'],
    fields: [
      [link('orgId'), parentOldId('org_id', 'orgs')],
      [trimmed('name'), column('name')],
      [text('role'), column('role')],
      [text('tone'), column('tone')],
      [text('description'), column('description')],
      [text('audience'), column('audience')],
      [strings('goals'), arrayColumn('goals')],
      [flag('isDefault', false), flagColumn('is_default')],
      [date('createdAt'), timeColumn('created_at')],
    ],
  },
  {
    list: 'contents',
    table: 'contents',
    known: ['id', 'personaId', 'type', 'title', 'body', 'status', 'tags', 'scheduledAt', 'publishedAt', 'createdAt', 'updatedAt'],
    fields: [
      [link('personaId'), parentOldId('persona_id', 'personas')],
      [orDefault('type', 'post', true), column('type')],
      [text('title'), column('title')],
      [text('body'), column('body')],
      [orDefault('status', 'draft'), column('status')],
      [strings('tags'), arrayColumn('tags')],
      [date('scheduledAt'), timeColumn('scheduled_at')],
      [date('publishedAt'), timeColumn('published_at')],
      [date('createdAt'), timeColumn('created_at')],
      [date('updatedAt'), timeColumn('updated_at')],
    ],
  },
  {
    list: 'accounts',
    table: 'accounts',
    known: ['id', 'provider', 'handle', 'displayName', 'scopes', 'active', 'connectedAt'],
    fields: [
      [(e) => `lower(${trimmed('provider')(e)})`, column('provider')],
      [trimmed('handle'), column('handle')],
      [text('displayName'), column('display_name')],
      [strings('scopes'), arrayColumn('scopes')],
      [flag('active', true), flagColumn('active')],
      [date('connectedAt'), timeColumn('connected_at')],
    ],
  },
  {
    list: 'inboxItems',
    table: 'inbox_items',
    known: ['id', 'accountId', 'from', 'subject', 'preview', 'receivedAt', 'read', 'archived'],
    fields: [
      [link('accountId'), parentOldId('account_id', 'accounts')],
      [trimmed('from'), column('sender')],
      [text('subject'), column('subject')],
      [text('preview'), column('preview')],
      [date('receivedAt'), timeColumn('received_at')],
      [flag('read', false), flagColumn('read')],
      [flag('archived', false), flagColumn('archived')],
    ],
  },
  {
    list: 'leads',
    table: 'leads',
    known: ['id', 'name', 'email', 'company', 'title', 'status', 'score', 'source', 'notes', 'createdAt'],
    fields: [
      [trimmed('name'), column('name')],
      [text('email'), column('email')],
      [text('company'), column('company')],
      [text('title'), column('title')],
      [orDefault('status', 'new'), column('status')],
      [(e) => `(CASE jsonb_typeof(${e}->'score') WHEN 'number' THEN ${numberText(`${e}->>'score'`)} END)`, (t) => numberText(`${t}.score`)],
      [text('source'), column('source')],
      [text('notes'), column('notes')],
      [date('createdAt'), timeColumn('created_at')],
    ],
  },
  {
    list: 'references',
    table: '"references"',
    known: ['id', 'title', 'url', 'kind', 'excerpt', 'tags', 'createdAt'],
    fields: [
      [trimmed('title'), column('title')],
      [text('url'), column('url')],
      [orDefault('kind', 'link'), column('kind')],
      [text('excerpt'), column('excerpt')],
      [strings('tags'), arrayColumn('tags')],
      [date('createdAt'), timeColumn('created_at')],
    ],
  },
];

const keyList = (keys: readonly string[]) => `ARRAY[${keys.map(sqlLiteral).join(', ')}]::text[]`;
const digest = (rows: string) =>
  `(SELECT count(*)::text || ':' || coalesce(md5(string_agg(x.row_text, chr(30) ORDER BY x.old_id COLLATE "C")), '') FROM (${rows}) x)`;
const rowText = (values: string[]) => `jsonb_build_array(${values.map((value) => `(${value})::text`).join(', ')})::text`;

/** The digest of one entity list of the legacy winner `s.state`. */
function sourceDigest(entity: EntitySpec): string {
  const e = 'el.e';
  const values = [oldId(`${e}->'id'`), '(el.n - 1)', ...entity.fields.map(([source]) => source(e)), jsonText(`${e} - ${keyList(entity.known)}`)];
  const list = `s.state->${sqlLiteral(entity.list)}`;
  return digest(
    `SELECT ${oldId(`${e}->'id'`)} AS old_id, ${rowText(values)} AS row_text
       FROM jsonb_array_elements(CASE WHEN jsonb_typeof(${list}) = 'array' THEN ${list} ELSE '[]'::jsonb END) WITH ORDINALITY AS el(e, n)
      WHERE jsonb_typeof(${e}) = 'object'`,
  );
}

/**
 * The digest of one entity table's rows of the user `s.user_id`. The index in the list is the row's
 * rank by position: the projection writes 0, 1, 2…, and after a cutover the application may leave
 * gaps (a persona removed) that the document, re-rendered by failback, does not have.
 */
function targetDigest(entity: EntitySpec): string {
  const t = 't';
  const values = [`${t}.old_id`, `${t}.list_index`, ...entity.fields.map(([, target]) => target(t)), jsonText(`${t}.extra`)];
  const ranked = `(SELECT e.*, row_number() OVER (ORDER BY e.position, e.old_id COLLATE "C") - 1 AS list_index FROM {target}.${entity.table} e WHERE e.user_id = s.user_id)`;
  return digest(`SELECT ${t}.old_id, ${rowText(values)} AS row_text FROM ${ranked} ${t}`);
}

/** The (updated_at, id) version text of a legacy row in a quarantined event (rowVersion in app-state.schema.ts). */
function eventVersion(after: string): string {
  const updatedAt = `${after}->>'updated_at'`;
  const id = `${after}->>'id'`;
  const time =
    `CASE WHEN ${updatedAt} IS NULL THEN '0000-00-00T00:00:00.000000Z'` +
    ` WHEN ${updatedAt} ~ '^[0-9]+-[0-9][0-9]-[0-9][0-9][T ][0-9][0-9]:[0-9][0-9]:[0-9][0-9](\\.[0-9]+)?(Z|[+-][0-9][0-9](:[0-9][0-9])?)$'` +
    ` THEN to_char((${updatedAt})::timestamptz AT TIME ZONE 'UTC', ${ISO_MICROS})` +
    ` WHEN ${updatedAt} ~ '^[0-9]+-[0-9][0-9]-[0-9][0-9][T ][0-9][0-9]:[0-9][0-9]:[0-9][0-9](\\.[0-9]+)?$'` +
    ` THEN to_char((${updatedAt})::timestamp, ${ISO_MICROS}) END`;
  return `((${time}) || '|' || CASE WHEN ${id} ~ '^[0-9]+$' AND length(${id}) < 20 THEN lpad(${id}, 20, '0') ELSE ${id} END) COLLATE "C"`;
}

export function appStateReconciliation(sourceSchema: string, projection = 'app-state'): TableComparison[] {
  const sourceTable = `${sourceSchema}.user_app_state`;
  const settingsKeys = keyList(['schemaVersion', ...ENTITY_LISTS]);
  const idOrder = `(CASE WHEN w.id::text ~ '^[0-9]+$' AND length(w.id::text) < 20 THEN lpad(w.id::text, 20, '0') ELSE w.id::text END) COLLATE "C"`;
  const winners =
    `(SELECT DISTINCT ON (w.user_id::text) w.id::text AS id, w.user_id::text AS user_id, w.updated_at, (w.state)::jsonb AS state` +
    ` FROM {source}.user_app_state w WHERE w.user_id IS NOT NULL AND ${jsTrim('w.user_id::text')} <> ''` +
    ` ORDER BY w.user_id::text, w.updated_at DESC NULLS LAST, ${idOrder} DESC) s`;
  const after = `q.event->'after'`;
  const fellBack =
    `EXISTS (SELECT 1 FROM tandem.quarantine q WHERE q.projection = ${sqlLiteral(projection)} AND q.status = 'quarantined'` +
    ` AND right(q.topic, ${sourceTable.length + 1}) = ${sqlLiteral(`.${sourceTable}`)}` +
    ` AND ${after}->>'user_id' = s.user_id AND ${eventVersion(after)} > s.version` +
    ` AND NOT EXISTS (SELECT 1 FROM {target}.source_rows d WHERE d.source_id = ${after}->>'id' AND d.deleted))`;

  const sourceColumns: Record<string, string> = {
    user_id: 's.user_id',
    updated_at: isoUtc('s.updated_at'),
    schema_version: `(CASE jsonb_typeof(s.state->'schemaVersion') WHEN 'number' THEN ${numberText(`s.state->>'schemaVersion'`)} END)`,
    settings: jsonText(`CASE WHEN jsonb_typeof(s.state) = 'object' THEN s.state - ${settingsKeys} END`),
  };
  const targetColumns: Record<string, string> = {
    user_id: 's.user_id',
    updated_at: isoUtc('s.source_updated_at'),
    schema_version: 's.schema_version::text',
    settings: jsonText('s.settings'),
  };
  for (const entity of ENTITIES) {
    const name = entity.table.replace(/"/g, '');
    sourceColumns[name] = sourceDigest(entity);
    targetColumns[name] = targetDigest(entity);
  }
  return [
    {
      name: 'user_states',
      sourceTable,
      source: { from: winners, key: 's.id', columns: sourceColumns },
      target: {
        from: `{target}.user_states s JOIN {target}.source_rows r ON r.source_id = s.source_id AND r.user_id = s.user_id AND NOT r.deleted`,
        key: 's.source_id',
        columns: targetColumns,
        where: `NOT ${fellBack}`,
      },
      quarantineKey: (key) => (key.id === undefined || key.id === null ? null : String(key.id)),
    },
  ];
}
