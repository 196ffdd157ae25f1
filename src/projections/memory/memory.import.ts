import { z } from 'zod';
import { basename, extname } from 'path';
import { readJsonArray, readNpy, type NpyMatrix } from '../../connectors/file-source/file-readers';
import { ConfigError, ImportValidationError } from '../../shared/errors';
import type { ImportRecord, RecipeImporter } from '../framework/define-import';
import { DEFAULT_KIND, EMBEDDING_DIMENSIONS, IMPORT_TABLE, embeddingProblem } from './memory.schemas';

/** The scope stamped on imported nodes that carry none (the seed's --user-id / --tenant-id). */
export const USER_SCOPE_VARIABLE = 'TANDEM_MEMORY_USER_ID';
export const TENANT_SCOPE_VARIABLE = 'TANDEM_MEMORY_TENANT_ID';

/**
 * A node of the file-based store's nodes.json (the seed's MemoryNode): `id` ("mem_<hash>" or any
 * string up to 255 characters) and either `content` or the Q/A pair `human_content` +
 * `assistant_content`. Optional: `user_id` / `tenant_id` (its scope), `kind`, `created_at`,
 * `updated_at`, `metadata` (an object). Every other field (intent_type, complexity, cluster_id, …) is
 * kept in metadata. The seed's ranges are checked: technical_depth 0–10, cluster_confidence 0–1.
 */
const exportedNode = z
  .object({
    id: z.string().trim().min(1, 'id is empty').max(255, 'id is longer than 255 characters'),
    content: z.string().optional(),
    human_content: z.string().optional(),
    assistant_content: z.string().optional(),
    user_id: z.guid('user_id is not a valid uuid').nullable().optional(),
    tenant_id: z.guid('tenant_id is not a valid uuid').nullable().optional(),
    kind: z.string().min(1, 'kind is empty').optional(),
    created_at: z.iso.datetime({ offset: true, local: true, message: 'created_at is not an ISO-8601 timestamp' }).nullable().optional(),
    updated_at: z.iso.datetime({ offset: true, local: true, message: 'updated_at is not an ISO-8601 timestamp' }).nullable().optional(),
    metadata: z.record(z.string(), z.unknown()).nullable().optional(),
    technical_depth: z.number().min(0, 'technical_depth must be between 0 and 10').max(10, 'technical_depth must be between 0 and 10').nullable().optional(),
    cluster_confidence: z.number().min(0, 'cluster_confidence must be between 0 and 1').max(1, 'cluster_confidence must be between 0 and 1').nullable().optional(),
  })
  .passthrough()
  .refine((node) => node.content !== undefined || node.human_content !== undefined || node.assistant_content !== undefined, {
    message: 'no content (expected content, or human_content and assistant_content)',
  });

type ExportedNode = z.infer<typeof exportedNode>;

const OWN_FIELDS = new Set(['id', 'content', 'user_id', 'tenant_id', 'kind', 'created_at', 'updated_at', 'metadata']);

export interface ImportScope {
  userId: string | null;
  tenantId: string | null;
}

/** The default scope from the environment; a malformed one is a configuration error (exit 2). */
export function scopeFromEnv(env: NodeJS.ProcessEnv): ImportScope {
  const read = (name: string) => {
    const value = env[name]?.trim();
    if (!value) return null;
    if (!z.guid().safeParse(value).success) throw new ConfigError(`${name} is not a valid uuid (expected e.g. 11111111-1111-1111-1111-111111111111)`);
    return value.toLowerCase();
  };
  const scope = { userId: read(USER_SCOPE_VARIABLE), tenantId: read(TENANT_SCOPE_VARIABLE) };
  if (scope.userId && scope.tenantId) {
    throw new ConfigError(`set ${USER_SCOPE_VARIABLE} (personal) or ${TENANT_SCOPE_VARIABLE} (enterprise), not both: a node belongs to one scope`);
  }
  return scope;
}

function describe(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.length > 0 ? `${issue.path.join('.')}: ` : ''}${issue.message}`).join('; ');
}

const recordLabel = (index: number, raw: Record<string, unknown>) =>
  `record ${index}${typeof raw.id === 'string' && raw.id.length <= 80 ? ` (${raw.id})` : ''}`;

function contentOf(node: ExportedNode): string {
  if (node.content !== undefined) return node.content;
  return [node.human_content, node.assistant_content].filter((part) => part !== undefined).join('\n\n');
}

function metadataOf(node: ExportedNode): Record<string, unknown> {
  const extra = Object.fromEntries(Object.entries(node).filter(([field, value]) => !OWN_FIELDS.has(field) && value !== undefined));
  return { ...extra, ...(node.metadata ?? {}) };
}

/** One nodes.json with its nodes.npy. */
interface FilePair {
  json: string;
  npy: string;
}

/**
 * Pairs each nodes file with its embeddings: by name (a.json with a.npy), or, with one of each,
 * whatever their names.
 */
export function pairFiles(files: string[]): FilePair[] {
  const jsons: string[] = [];
  const npys: string[] = [];
  for (const file of files) {
    const extension = extname(file).toLowerCase();
    if (extension === '.json') jsons.push(file);
    else if (extension === '.npy') npys.push(file);
    else throw new ImportValidationError(file, null, 'not a memory export (expected nodes.json and nodes.npy)');
  }
  if (jsons.length === 0) throw new ImportValidationError(npys[0] ?? '(no files)', null, 'no nodes file: pass the nodes.json that goes with the embeddings');
  if (jsons.length === 1 && npys.length === 1) return [{ json: jsons[0], npy: npys[0] }];
  const stem = (file: string) => basename(file).replace(/\.[^.]+$/, '');
  const pairs = jsons.map((json) => {
    const npy = npys.find((candidate) => stem(candidate) === stem(json));
    if (!npy) throw new ImportValidationError(json, null, `no embeddings file: pass ${stem(json)}.npy with it`);
    return { json, npy };
  });
  const unpaired = npys.find((npy) => !pairs.some((pair) => pair.npy === npy));
  if (unpaired) throw new ImportValidationError(unpaired, null, `no nodes file: pass ${stem(unpaired)}.json with it`);
  return pairs;
}

/**
 * Seed 004's file-based store: nodes.json (an array of nodes) and nodes.npy (float32 or float64,
 * shape (nodes, 1024): row i is the embedding of node i). Everything is validated before anything
 * is written: the node count equals the embedding rows, 1024 dimensions, finite float32 values,
 * valid uuids, unique ids, and every node ends up in exactly one scope — its own user_id/tenant_id,
 * else the one given by TANDEM_MEMORY_USER_ID or TANDEM_MEMORY_TENANT_ID. Records are keyed by node
 * id, so importing the same files again writes the same rows.
 */
export function createMemoryImporter(env: NodeJS.ProcessEnv = process.env): RecipeImporter {
  return {
    accepts: ['nodes.json', 'nodes.npy'],
    read(files) {
      const defaultScope = scopeFromEnv(env);
      const records: ImportRecord[] = [];
      const seen = new Map<string, string>();
      for (const { json, npy } of pairFiles(files)) {
        const raws = readJsonArray(json);
        const nodes = raws.map((raw, index) => {
          const label = recordLabel(index, raw);
          const parsed = exportedNode.safeParse(raw);
          if (!parsed.success) throw new ImportValidationError(json, label, describe(parsed.error));
          const node = parsed.data;
          const previous = seen.get(node.id);
          if (previous !== undefined) throw new ImportValidationError(json, label, `duplicate id ${node.id} (also ${previous})`);
          seen.set(node.id, `${basename(json)}, record ${index}`);
          if (node.user_id && node.tenant_id) {
            throw new ImportValidationError(json, label, 'both user_id and tenant_id are set: a node belongs to exactly one scope');
          }
          const own = node.user_id || node.tenant_id;
          const scope: ImportScope = own ? { userId: node.user_id ?? null, tenantId: node.tenant_id ?? null } : defaultScope;
          if (!scope.userId && !scope.tenantId) {
            throw new ImportValidationError(
              json,
              label,
              `no scope: the node has no user_id or tenant_id; set ${USER_SCOPE_VARIABLE} (personal) or ${TENANT_SCOPE_VARIABLE} (enterprise) to stamp the import`,
            );
          }
          return { node, scope };
        });
        const matrix: NpyMatrix = readNpy(npy);
        if (matrix.columns !== EMBEDDING_DIMENSIONS) {
          throw new ImportValidationError(npy, null, `dimension mismatch: embeddings have ${matrix.columns} dimensions, expected ${EMBEDDING_DIMENSIONS}`);
        }
        if (matrix.rows !== nodes.length) {
          throw new ImportValidationError(
            npy,
            null,
            `node count mismatch: ${basename(json)} has ${nodes.length} nodes, ${basename(npy)} has ${matrix.rows} embedding rows`,
          );
        }
        nodes.forEach(({ node, scope }, index) => {
          const embedding = Array.from(matrix.data.subarray(index * matrix.columns, (index + 1) * matrix.columns));
          const problem = embeddingProblem(embedding);
          if (problem) throw new ImportValidationError(npy, `row ${index} (node ${node.id})`, `embedding ${problem}`);
          records.push({
            table: IMPORT_TABLE,
            key: { id: node.id },
            row: {
              id: node.id,
              user_id: scope.userId ? scope.userId.toLowerCase() : null,
              tenant_id: scope.tenantId ? scope.tenantId.toLowerCase() : null,
              kind: node.kind ?? DEFAULT_KIND,
              content: contentOf(node),
              metadata: JSON.stringify(metadataOf(node)),
              embedding,
              created_at: node.created_at ?? null,
              updated_at: node.updated_at ?? null,
            },
          });
        });
      }
      return records;
    },
  };
}

export const memoryImporter: RecipeImporter = createMemoryImporter();
