import { z } from 'zod';

/**
 * The legacy `user_app_state` row and the JSONB document in its `state` column (seed 002).
 *
 * The document is the application's whole client state for one user:
 *
 * ```json
 * { "schemaVersion": 3,
 *   "orgs":       [{ "id": "org_1", "name": "Acme", "website": "https://acme.io", "industry": "SaaS", "size": "11-50" }],
 *   "personas":   [{ "id": "p_1", "orgId": "org_1", "name": "Founder voice", "tone": "direct", "goals": ["hire"] }],
 *   "contents":   [{ "id": "c_1", "personaId": "p_1", "type": "post", "title": "…", "body": "…", "status": "draft", "tags": [] }],
 *   "accounts":   [{ "id": "a_1", "provider": "linkedin", "handle": "jane-doe", "connectedAt": "2025-01-02T10:00:00Z" }],
 *   "leads":      [{ "id": "l_1", "name": "Ann Lee", "email": "ann@corp.com", "status": "contacted", "score": 72 }],
 *   "references": [{ "id": "r_1", "title": "Pricing page", "url": "https://…", "kind": "link" }],
 *   "inboxItems": [{ "id": "i_1", "accountId": "a_1", "from": "Ann Lee", "subject": "Re: …", "receivedAt": 1735812000000, "read": false }],
 *   "settings": { … }, "ui": { … } }
 * ```
 *
 * Validation reports every problem with its path inside the row, e.g.
 * `state.personas.2.orgId: refers to org "org_9", which is not in the state`. What it checks: the
 * shape and types, ids present and unique per list, dates, enumerations, and the links
 * persona → org, content → persona, inbox item → account. Unknown keys are kept (entity `extra`,
 * the document's other top-level keys in `user_states.settings`), so nothing is dropped silently.
 * Uniqueness across entities (an account's provider + handle per user) is the target database's
 * constraint: a state that breaks it is quarantined whole with PostgreSQL's reason.
 */

/** An id of the legacy document: a non-empty string or an integer (e.g. Date.now()), kept as text. */
const oldId = z
  .union([z.string().trim().min(1, 'must not be empty'), z.number().int('must be a string or an integer')], {
    error: 'must be a string or an integer id',
  })
  .transform(String);

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))?$/;

/** A date in the document: ISO-8601 (a date, or a date-time with its zone) or epoch milliseconds; normalized to ISO in UTC. */
const timestamp = z
  .union(
    [
      z.string().regex(ISO_DATE_TIME, 'must be an ISO-8601 date or date-time with a time zone'),
      z.number().int().nonnegative(),
    ],
    {
      error: 'must be an ISO-8601 date-time or epoch milliseconds',
    },
  )
  .refine(
    (value) =>
      Number.isFinite(new Date(typeof value === 'string' ? value.replace(' ', 'T') : value).getTime()),
    'is not a valid date',
  )
  .transform((value) => new Date(typeof value === 'string' ? value.replace(' ', 'T') : value).toISOString());

const text = z.string();
const optionalText = text.nullish().transform((value) => value ?? null);
const optionalTimestamp = timestamp.nullish().transform((value) => value ?? null);
const stringList = z
  .array(z.string())
  .nullish()
  .transform((value) => value ?? []);

export const CONTENT_STATUSES = ['draft', 'scheduled', 'published', 'archived'] as const;
export const LEAD_STATUSES = ['new', 'contacted', 'replied', 'qualified', 'won', 'lost'] as const;
export const REFERENCE_KINDS = ['link', 'file', 'note', 'quote'] as const;

const orgSchema = z.looseObject({
  id: oldId,
  name: text.trim().min(1, 'must not be empty'),
  website: optionalText,
  industry: optionalText,
  size: optionalText,
  description: optionalText,
  createdAt: optionalTimestamp,
});

const personaSchema = z.looseObject({
  id: oldId,
  orgId: oldId,
  name: text.trim().min(1, 'must not be empty'),
  role: optionalText,
  tone: optionalText,
  description: optionalText,
  audience: optionalText,
  goals: stringList,
  isDefault: z
    .boolean()
    .nullish()
    .transform((value) => value ?? false),
  createdAt: optionalTimestamp,
});

const contentSchema = z.looseObject({
  id: oldId,
  personaId: oldId,
  type: text
    .trim()
    .min(1)
    .nullish()
    .transform((value) => value ?? 'post'),
  title: optionalText,
  body: text,
  status: z
    .enum(CONTENT_STATUSES)
    .nullish()
    .transform((value) => value ?? 'draft'),
  tags: stringList,
  scheduledAt: optionalTimestamp,
  publishedAt: optionalTimestamp,
  createdAt: optionalTimestamp,
  updatedAt: optionalTimestamp,
});

const accountSchema = z.looseObject({
  id: oldId,
  provider: text
    .trim()
    .min(1, 'must not be empty')
    .transform((value) => value.toLowerCase()),
  handle: text.trim().min(1, 'must not be empty'),
  displayName: optionalText,
  scopes: stringList,
  active: z
    .boolean()
    .nullish()
    .transform((value) => value ?? true),
  connectedAt: optionalTimestamp,
});

const leadSchema = z.looseObject({
  id: oldId,
  name: text.trim().min(1, 'must not be empty'),
  email: z
    .email('is not a valid e-mail address')
    .nullish()
    .transform((value) => value ?? null),
  company: optionalText,
  title: optionalText,
  status: z
    .enum(LEAD_STATUSES)
    .nullish()
    .transform((value) => value ?? 'new'),
  score: z
    .number('must be a number from 0 to 100')
    .min(0)
    .max(100)
    .nullish()
    .transform((value) => value ?? null),
  source: optionalText,
  notes: optionalText,
  createdAt: optionalTimestamp,
});

const referenceSchema = z.looseObject({
  id: oldId,
  title: text.trim().min(1, 'must not be empty'),
  url: optionalText,
  kind: z
    .enum(REFERENCE_KINDS)
    .nullish()
    .transform((value) => value ?? 'link'),
  excerpt: optionalText,
  tags: stringList,
  createdAt: optionalTimestamp,
});

const inboxItemSchema = z.looseObject({
  id: oldId,
  accountId: oldId.nullish().transform((value) => value ?? null),
  from: text.trim().min(1, 'must not be empty'),
  subject: optionalText,
  preview: optionalText,
  receivedAt: timestamp,
  read: z
    .boolean()
    .nullish()
    .transform((value) => value ?? false),
  archived: z
    .boolean()
    .nullish()
    .transform((value) => value ?? false),
});

const list = <T extends z.ZodType>(item: T) =>
  z
    .array(item)
    .nullish()
    .transform((value) => value ?? []);

/** The seven entity lists of the document, by their key in the JSON. */
export const ENTITY_LISTS = [
  'orgs',
  'personas',
  'contents',
  'accounts',
  'leads',
  'references',
  'inboxItems',
] as const;
export type EntityList = (typeof ENTITY_LISTS)[number];

export const appStateDocument = z
  .looseObject({
    schemaVersion: z.number().int().nullish(),
    orgs: list(orgSchema),
    personas: list(personaSchema),
    contents: list(contentSchema),
    accounts: list(accountSchema),
    leads: list(leadSchema),
    references: list(referenceSchema),
    inboxItems: list(inboxItemSchema),
  })
  .superRefine((state, ctx) => {
    const ids = {} as Record<EntityList, Set<string>>;
    for (const key of ENTITY_LISTS) {
      ids[key] = new Set();
      state[key].forEach((entity: { id: string }, index: number) => {
        if (ids[key].has(entity.id))
          ctx.addIssue({ code: 'custom', path: [key, index, 'id'], message: `duplicate id "${entity.id}"` });
        ids[key].add(entity.id);
      });
    }
    const link = (key: EntityList, index: number, field: string, target: EntityList, id: string | null) => {
      if (id !== null && !ids[target].has(id)) {
        ctx.addIssue({
          code: 'custom',
          path: [key, index, field],
          message: `refers to ${target.replace(/s$/, '')} "${id}", which is not in the state`,
        });
      }
    };
    state.personas.forEach((persona, index) => link('personas', index, 'orgId', 'orgs', persona.orgId));
    state.contents.forEach((content, index) =>
      link('contents', index, 'personaId', 'personas', content.personaId),
    );
    state.inboxItems.forEach((item, index) =>
      link('inboxItems', index, 'accountId', 'accounts', item.accountId),
    );
  });

export type AppStateDocument = z.infer<typeof appStateDocument>;
