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
export function extraOf(value: Record<string, unknown>, known: readonly string[]): Record<string, unknown> {
  const extra: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) if (!known.includes(key)) extra[key] = item;
  return extra;
}

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
  const id = (entity: string, oldId: string) => newId(entity, userId, oldId);
  const common = (entity: string, item: { id: string }, position: number, known: readonly string[]) => ({
    id: id(entity, item.id),
    user_id: userId,
    old_id: item.id,
    position,
    extra: extraOf(item, known),
    source_id: sourceId,
    version,
  });
  return {
    orgs: state.orgs.map((org, position) => ({
      ...common('org', org, position, [
        'id',
        'name',
        'website',
        'industry',
        'size',
        'description',
        'createdAt',
      ]),
      name: org.name,
      website: org.website,
      industry: org.industry,
      size: org.size,
      description: org.description,
      created_at: org.createdAt,
    })),
    personas: state.personas.map((persona, position) => ({
      ...common('persona', persona, position, [
        'id',
        'orgId',
        'name',
        'role',
        'tone',
        'description',
        'audience',
        'goals',
        'isDefault',
        'createdAt',
      ]),
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
      ...common('content', content, position, [
        'id',
        'personaId',
        'type',
        'title',
        'body',
        'status',
        'tags',
        'scheduledAt',
        'publishedAt',
        'createdAt',
        'updatedAt',
      ]),
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
      ...common('account', account, position, [
        'id',
        'provider',
        'handle',
        'displayName',
        'scopes',
        'active',
        'connectedAt',
      ]),
      provider: account.provider,
      handle: account.handle,
      display_name: account.displayName,
      scopes: account.scopes,
      active: account.active,
      connected_at: account.connectedAt,
    })),
    inbox_items: state.inboxItems.map((item, position) => ({
      ...common('inbox_item', item, position, [
        'id',
        'accountId',
        'from',
        'subject',
        'preview',
        'receivedAt',
        'read',
        'archived',
      ]),
      account_id: item.accountId === null ? null : id('account', item.accountId),
      sender: item.from,
      subject: item.subject,
      preview: item.preview,
      received_at: item.receivedAt,
      read: item.read,
      archived: item.archived,
    })),
    leads: state.leads.map((lead, position) => ({
      ...common('lead', lead, position, [
        'id',
        'name',
        'email',
        'company',
        'title',
        'status',
        'score',
        'source',
        'notes',
        'createdAt',
      ]),
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
      ...common('reference', reference, position, [
        'id',
        'title',
        'url',
        'kind',
        'excerpt',
        'tags',
        'createdAt',
      ]),
      title: reference.title,
      url: reference.url,
      kind: reference.kind,
      excerpt: reference.excerpt,
      tags: reference.tags,
      created_at: reference.createdAt,
    })),
  };
}
