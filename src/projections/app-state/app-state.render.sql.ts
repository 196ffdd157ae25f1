import { isoUtcMillis, sqlLiteral } from '../reconcile-sql';
import { ENTITY_LISTS } from './app-state.schema';

/**
 * The failback render of app-state (app-state.inverse.ts): SQL over the target that assembles, for
 * each user in `$1` (a JSON array of `{ "user_id": … }`), the whole state document the legacy
 * application reads, from user_states and the seven entity tables, as its legacy row
 * `(id, user_id, updated_at, state)`: the row that won for the user when it was projected.
 *
 * Each entity is the object explodeState (app-state.projection.ts) took apart: its old id, its
 * columns under their document keys (null ones left out, as the schema reads a missing key as null),
 * the parents' old ids as links, and `extra`, the keys the table has no column for. The document's
 * other top-level keys come back from `user_states.settings`. Lists are in `position` order (the
 * old id breaks ties the application may leave). Dates come back as ISO-8601 UTC with milliseconds
 * and ids as strings, the forms the projection normalized them to (the schema reads both).
 */

type Render = (t: string) => string;

const col = (name: string): Render => (t) => `${t}.${name}`;
const date = (name: string): Render => (t) => `CASE WHEN ${t}.${name} IS NOT NULL THEN ${isoUtcMillis(`${t}.${name}`)} END`;
const parent = (name: string, table: string): Render => (t) => `(SELECT p.old_id FROM {target}.${table} p WHERE p.id = ${t}.${name})`;

interface EntityRender {
  list: (typeof ENTITY_LISTS)[number];
  table: string;
  /** Document key → its value from the row `t`. */
  fields: Array<[key: string, value: Render]>;
}

/** The inverse of explodeState, key by key. */
const ENTITIES: EntityRender[] = [
  {
    list: 'orgs',
    table: 'orgs',
    fields: [['name', col('name')], ['website', col('website')], ['industry', col('industry')], ['size', col('size')], ['description', col('description')], ['createdAt', date('created_at')]],
  },
  {
    list: 'personas',
    table: 'personas',
    fields: [
      ['orgId', parent('org_id', 'orgs')],
      ['name', col('name')],
      ['role', col('role')],
      ['tone', col('tone')],
      ['description', col('description')],
      ['audience', col('audience')],
      ['goals', col('goals')],
      ['isDefault', col('is_default')],
      ['createdAt', date('created_at')],
    ],
  },
  {
    list: 'contents',
    table: 'contents',
    fields: [
      ['personaId', parent('persona_id', 'personas')],
      ['type', col('type')],
      ['title', col('title')],
      ['body', col('body')],
      ['status', col('status')],
      ['tags', col('tags')],
      ['scheduledAt', date('scheduled_at')],
      ['publishedAt', date('published_at')],
      ['createdAt', date('created_at')],
      ['updatedAt', date('updated_at')],
    ],
  },
  {
    list: 'accounts',
    table: 'accounts',
    fields: [['provider', col('provider')], ['handle', col('handle')], ['displayName', col('display_name')], ['scopes', col('scopes')], ['active', col('active')], ['connectedAt', date('connected_at')]],
  },
  {
    list: 'inboxItems',
    table: 'inbox_items',
    fields: [
      ['accountId', parent('account_id', 'accounts')],
      ['from', col('sender')],
      ['subject', col('subject')],
      ['preview', col('preview')],
      ['receivedAt', date('received_at')],
      ['read', col('read')],
      ['archived', col('archived')],
    ],
  },
  {
    list: 'leads',
    table: 'leads',
    fields: [
      ['name', col('name')],
      ['email', col('email')],
      ['company', col('company')],
      ['title', col('title')],
      ['status', col('status')],
      ['score', col('score')],
      ['source', col('source')],
      ['notes', col('notes')],
      ['createdAt', date('created_at')],
    ],
  },
  {
    list: 'references',
    table: '"references"',
    fields: [['title', col('title')], ['url', col('url')], ['kind', col('kind')], ['excerpt', col('excerpt')], ['tags', col('tags')], ['createdAt', date('created_at')]],
  },
];

function entityList(entity: EntityRender): string {
  const t = 't';
  const pairs = [`'id', ${t}.old_id`, ...entity.fields.map(([key, value]) => `${sqlLiteral(key)}, ${value(t)}`)];
  const object = `jsonb_strip_nulls(jsonb_build_object(${pairs.join(', ')})) || ${t}.extra`;
  return (
    `(SELECT coalesce(jsonb_agg(${object} ORDER BY ${t}.position, ${t}.old_id COLLATE "C"), '[]'::jsonb)` +
    ` FROM {target}.${entity.table} ${t} WHERE ${t}.user_id = s.user_id)`
  );
}

/** The render SQL (`{target}` is the projection's schema, quoted by the failback applier). */
export const APP_STATE_RENDER_SQL =
  `SELECT s.source_id AS id, s.user_id, s.source_updated_at AS updated_at,` +
  ` s.settings || jsonb_strip_nulls(jsonb_build_object('schemaVersion', s.schema_version))` +
  ` || jsonb_build_object(${ENTITIES.map((entity) => `${sqlLiteral(entity.list)}, ${entityList(entity)}`).join(', ')}) AS state` +
  ` FROM (SELECT DISTINCT k->>'user_id' AS user_id FROM jsonb_array_elements($1::jsonb) AS k) AS wanted` +
  ` JOIN {target}.user_states s ON s.user_id = wanted.user_id`;

/** The target tables whose changes re-render a user's document. */
export const RENDERED_TABLES = ['user_states', ...ENTITIES.map((entity) => entity.table.replace(/"/g, ''))];
