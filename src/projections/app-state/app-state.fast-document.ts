import { z } from 'zod';
import { CONTENT_STATUSES, ENTITY_LISTS, LEAD_STATUSES, REFERENCE_KINDS, type AppStateDocument } from './app-state.schema';

/**
 * The hot path of the state check: recognizes a valid document without zod and returns exactly
 * what `appStateDocument` (app-state.schema.ts, the definition of the rules) would, at about a tenth
 * of its CPU. It answers `undefined` for anything it is not sure of, invalid or just unusual, and
 * the caller then asks zod, which also words the reasons. The unit test compares both on generated
 * documents and on mutations of each field.
 */

type Json = Record<string, unknown>;
/** Returned by a field check that does not accept its value (the document goes to zod). */
const NO = Symbol('not recognized');
type Field = (value: unknown) => unknown;

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))?$/;
const EMAIL = z.regexes.email;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !Object.hasOwn(value, '__proto__');

const oldId: Field = (value) => {
  if (typeof value === 'string') {
    const trimmed = value.trim();
    return trimmed.length > 0 ? trimmed : NO;
  }
  return Number.isSafeInteger(value) ? String(value) : NO;
};
const nullish = (field: Field, otherwise: unknown): Field => (value) =>
  value === null || value === undefined ? otherwise : field(value);
const anyText: Field = (value) => (typeof value === 'string' ? value : NO);
const nonEmptyText: Field = (value) => {
  if (typeof value !== 'string') return NO;
  const trimmed = value.trim();
  return trimmed.length > 0 ? trimmed : NO;
};
const optionalText = nullish(anyText, null);
const timestamp: Field = (value) => {
  let date: Date;
  if (typeof value === 'string') {
    if (!ISO_DATE_TIME.test(value)) return NO;
    date = new Date(value.replace(' ', 'T'));
  } else if (Number.isSafeInteger(value) && (value as number) >= 0) {
    date = new Date(value as number);
  } else return NO;
  return Number.isFinite(date.getTime()) ? date.toISOString() : NO;
};
const optionalTimestamp = nullish(timestamp, null);
const stringList: Field = nullish((value) => {
  if (!Array.isArray(value)) return NO;
  for (const item of value) if (typeof item !== 'string') return NO;
  return value.slice();
}, []);
const flag = (otherwise: boolean) => nullish((value) => (typeof value === 'boolean' ? value : NO), otherwise);
const oneOf = (values: readonly string[], otherwise: string) =>
  nullish((value) => (typeof value === 'string' && values.includes(value) ? value : NO), otherwise);

/** Per entity, its fields in the schema's order (the order zod's output has them in). */
const ENTITY_FIELDS: Record<(typeof ENTITY_LISTS)[number], Array<[string, Field]>> = {
  orgs: [
    ['id', oldId],
    ['name', nonEmptyText],
    ['website', optionalText],
    ['industry', optionalText],
    ['size', optionalText],
    ['description', optionalText],
    ['createdAt', optionalTimestamp],
  ],
  personas: [
    ['id', oldId],
    ['orgId', oldId],
    ['name', nonEmptyText],
    ['role', optionalText],
    ['tone', optionalText],
    ['description', optionalText],
    ['audience', optionalText],
    ['goals', stringList],
    ['isDefault', flag(false)],
    ['createdAt', optionalTimestamp],
  ],
  contents: [
    ['id', oldId],
    ['personaId', oldId],
    ['type', nullish(nonEmptyText, 'post')],
    ['title', optionalText],
    ['body', anyText],
    ['status', oneOf(CONTENT_STATUSES, 'draft')],
    ['tags', stringList],
    ['scheduledAt', optionalTimestamp],
    ['publishedAt', optionalTimestamp],
    ['createdAt', optionalTimestamp],
    ['updatedAt', optionalTimestamp],
  ],
  accounts: [
    ['id', oldId],
    ['provider', (value) => {
      const trimmed = nonEmptyText(value);
      return trimmed === NO ? NO : (trimmed as string).toLowerCase();
    }],
    ['handle', nonEmptyText],
    ['displayName', optionalText],
    ['scopes', stringList],
    ['active', flag(true)],
    ['connectedAt', optionalTimestamp],
  ],
  leads: [
    ['id', oldId],
    ['name', nonEmptyText],
    ['email', nullish((value) => (typeof value === 'string' && EMAIL.test(value) ? value : NO), null)],
    ['company', optionalText],
    ['title', optionalText],
    ['status', oneOf(LEAD_STATUSES, 'new')],
    ['score', nullish((value) => (typeof value === 'number' && value >= 0 && value <= 100 ? value : NO), null)],
    ['source', optionalText],
    ['notes', optionalText],
    ['createdAt', optionalTimestamp],
  ],
  references: [
    ['id', oldId],
    ['title', nonEmptyText],
    ['url', optionalText],
    ['kind', oneOf(REFERENCE_KINDS, 'link')],
    ['excerpt', optionalText],
    ['tags', stringList],
    ['createdAt', optionalTimestamp],
  ],
  inboxItems: [
    ['id', oldId],
    ['accountId', nullish(oldId, null)],
    ['from', nonEmptyText],
    ['subject', optionalText],
    ['preview', optionalText],
    ['receivedAt', timestamp],
    ['read', flag(false)],
    ['archived', flag(false)],
  ],
};

const KNOWN_FIELDS = Object.fromEntries(
  ENTITY_LISTS.map((list) => [list, new Set(ENTITY_FIELDS[list].map(([name]) => name))]),
) as Record<(typeof ENTITY_LISTS)[number], Set<string>>;

/** An entity as zod's loose object gives it: the schema's fields, then the others as they came. */
function entity(value: unknown, fields: Array<[string, Field]>, known: Set<string>): Json | undefined {
  if (!isObject(value)) return undefined;
  const out: Json = {};
  for (const [name, check] of fields) {
    const checked = check(value[name]);
    if (checked === NO) return undefined;
    out[name] = checked;
  }
  for (const key of Object.keys(value)) if (!known.has(key)) out[key] = value[key];
  return out;
}

function entityList(value: unknown, list: (typeof ENTITY_LISTS)[number]): Json[] | undefined {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value)) return undefined;
  const out: Json[] = new Array(value.length);
  const ids = new Set<string>();
  for (let index = 0; index < value.length; index++) {
    const checked = entity(value[index], ENTITY_FIELDS[list], KNOWN_FIELDS[list]);
    if (checked === undefined || ids.has(checked.id as string)) return undefined;
    ids.add(checked.id as string);
    out[index] = checked;
  }
  return out;
}

const DOCUMENT_KEYS = new Set<string>(['schemaVersion', ...ENTITY_LISTS]);

/** The document zod would return for `value`, or undefined when zod must decide. */
export function recognizeValidDocument(value: unknown): AppStateDocument | undefined {
  if (!isObject(value)) return undefined;
  const out: Json = {};
  const schemaVersion = value.schemaVersion;
  if (schemaVersion !== null && schemaVersion !== undefined && !Number.isSafeInteger(schemaVersion)) return undefined;
  if (Object.hasOwn(value, 'schemaVersion')) out.schemaVersion = schemaVersion;
  for (const list of ENTITY_LISTS) {
    const checked = entityList(value[list], list);
    if (checked === undefined) return undefined;
    out[list] = checked;
  }
  for (const key of Object.keys(value)) if (!DOCUMENT_KEYS.has(key)) out[key] = value[key];
  const document = out as AppStateDocument;
  return linksResolve(document) ? document : undefined;
}

/** persona → org, content → persona, inbox item → account: each refers to an entity of the document. */
function linksResolve(document: AppStateDocument): boolean {
  const ids = (list: Array<{ id: string }>) => new Set(list.map((item) => item.id));
  const orgs = ids(document.orgs);
  const personas = ids(document.personas);
  const accounts = ids(document.accounts);
  return (
    document.personas.every((persona) => orgs.has(persona.orgId)) &&
    document.contents.every((content) => personas.has(content.personaId)) &&
    document.inboxItems.every((item) => item.accountId === null || accounts.has(item.accountId))
  );
}
