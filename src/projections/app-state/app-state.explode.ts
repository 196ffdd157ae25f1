import { deterministicUuid } from '../framework/define-projection';
import { ENTITY_LISTS, type AppStateDocument } from './app-state.schema';

/**
 * The app-state document exploded into the rows of its entity tables (see app-state.projection.ts
 * for the rules): the tables, the new ids and the rows of one document.
 */

export const PROJECTION_NAME = 'app-state';

/** The target tables of the entities, parents before children (upsert order; deletes go the other way). */
export const ENTITY_TABLES = [
  { list: 'orgs', table: 'orgs', entity: 'org' },
  { list: 'personas', table: 'personas', entity: 'persona' },
  { list: 'contents', table: 'contents', entity: 'content' },
  { list: 'accounts', table: 'accounts', entity: 'account' },
  { list: 'inboxItems', table: 'inbox_items', entity: 'inbox_item' },
  { list: 'leads', table: 'leads', entity: 'lead' },
  { list: 'references', table: 'references', entity: 'reference' },
] as const satisfies ReadonlyArray<{ list: (typeof ENTITY_LISTS)[number]; table: string; entity: string }>;

export type EntityTable = (typeof ENTITY_TABLES)[number]['table'];

/** The new id of an entity of the document. */
export const newId = (entity: string, userId: string, oldId: string) =>
  deterministicUuid(PROJECTION_NAME, entity, userId, oldId);

/** The id_map source id of an entity: its user and old id. */
export const idMapSourceId = (userId: string, oldId: string) => JSON.stringify([userId, oldId]);

/** Keys of `value` that are not in `known`, as an object (kept in the row's `extra` column). */
export function extraOf(value: Record<string, unknown>, known: readonly string[] | ReadonlySet<string>): Record<string, unknown> {
  const extra: Record<string, unknown> = {};
  if (Array.isArray(known)) {
    for (const key of Object.keys(value)) if (!known.includes(key)) extra[key] = value[key];
  } else {
    for (const key of Object.keys(value)) if (!(known as ReadonlySet<string>).has(key)) extra[key] = value[key];
  }
  return extra;
}

/** The document keys each entity maps to columns (the others go to `extra`). */
const KNOWN = {
  org: new Set(['id', 'name', 'website', 'industry', 'size', 'description', 'createdAt']),
  persona: new Set(['id', 'orgId', 'name', 'role', 'tone', 'description', 'audience', 'goals', 'isDefault', 'createdAt']),
  content: new Set(['id', 'personaId', 'type', 'title', 'body', 'status', 'tags', 'scheduledAt', 'publishedAt', 'createdAt', 'updatedAt']),
  account: new Set(['id', 'provider', 'handle', 'displayName', 'scopes', 'active', 'connectedAt']),
  inbox_item: new Set(['id', 'accountId', 'from', 'subject', 'preview', 'receivedAt', 'read', 'archived']),
  lead: new Set(['id', 'name', 'email', 'company', 'title', 'status', 'score', 'source', 'notes', 'createdAt']),
  reference: new Set(['id', 'title', 'url', 'kind', 'excerpt', 'tags', 'createdAt']),
};

interface ExplodeContext {
  userId: string;
  sourceId: string;
  version: string;
}

/** The rows of each entity table for one document. Pure. */
export function explodeState(
  state: AppStateDocument,
  context: ExplodeContext,
): Record<EntityTable, Array<Record<string, unknown>>> {
  const { userId, sourceId, version } = context;
  // a parent's id is asked for again by each of its children: hashed once per document
  const ids = new Map<string, string>();
  const id = (entity: string, oldId: string) => {
    const memo = `${entity}\u0000${oldId}`;
    let value = ids.get(memo);
    if (value === undefined) ids.set(memo, (value = newId(entity, userId, oldId)));
    return value;
  };
  // rows are written out field by field (no spreads): a document has about 50 of them
  return {
    orgs: state.orgs.map((org, position) => ({
      id: id('org', org.id),
      user_id: userId,
      old_id: org.id,
      position,
      extra: extraOf(org, KNOWN.org),
      source_id: sourceId,
      version,
      name: org.name,
      website: org.website,
      industry: org.industry,
      size: org.size,
      description: org.description,
      created_at: org.createdAt,
    })),
    personas: state.personas.map((persona, position) => ({
      id: id('persona', persona.id),
      user_id: userId,
      old_id: persona.id,
      position,
      extra: extraOf(persona, KNOWN.persona),
      source_id: sourceId,
      version,
      org_id: id('org', persona.orgId),
      name: persona.name,
      role: persona.role,
      tone: persona.tone,
      description: persona.description,
      audience: persona.audience,
      goals: persona.goals,
      is_default: persona.isDefault,
      created_at: persona.createdAt,
    })),
    contents: state.contents.map((content, position) => ({
      id: id('content', content.id),
      user_id: userId,
      old_id: content.id,
      position,
      extra: extraOf(content, KNOWN.content),
      source_id: sourceId,
      version,
      persona_id: id('persona', content.personaId),
      type: content.type,
      title: content.title,
      body: content.body,
      status: content.status,
      tags: content.tags,
      scheduled_at: content.scheduledAt,
      published_at: content.publishedAt,
      created_at: content.createdAt,
      updated_at: content.updatedAt,
    })),
    accounts: state.accounts.map((account, position) => ({
      id: id('account', account.id),
      user_id: userId,
      old_id: account.id,
      position,
      extra: extraOf(account, KNOWN.account),
      source_id: sourceId,
      version,
      provider: account.provider,
      handle: account.handle,
      display_name: account.displayName,
      scopes: account.scopes,
      active: account.active,
      connected_at: account.connectedAt,
    })),
    inbox_items: state.inboxItems.map((item, position) => ({
      id: id('inbox_item', item.id),
      user_id: userId,
      old_id: item.id,
      position,
      extra: extraOf(item, KNOWN.inbox_item),
      source_id: sourceId,
      version,
      account_id: item.accountId === null ? null : id('account', item.accountId),
      sender: item.from,
      subject: item.subject,
      preview: item.preview,
      received_at: item.receivedAt,
      read: item.read,
      archived: item.archived,
    })),
    leads: state.leads.map((lead, position) => ({
      id: id('lead', lead.id),
      user_id: userId,
      old_id: lead.id,
      position,
      extra: extraOf(lead, KNOWN.lead),
      source_id: sourceId,
      version,
      name: lead.name,
      email: lead.email,
      company: lead.company,
      title: lead.title,
      status: lead.status,
      score: lead.score,
      source: lead.source,
      notes: lead.notes,
      created_at: lead.createdAt,
    })),
    references: state.references.map((reference, position) => ({
      id: id('reference', reference.id),
      user_id: userId,
      old_id: reference.id,
      position,
      extra: extraOf(reference, KNOWN.reference),
      source_id: sourceId,
      version,
      title: reference.title,
      url: reference.url,
      kind: reference.kind,
      excerpt: reference.excerpt,
      tags: reference.tags,
      created_at: reference.createdAt,
    })),
  };
}
