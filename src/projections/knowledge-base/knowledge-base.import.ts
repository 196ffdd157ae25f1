import { z } from 'zod';
import { basename, extname } from 'path';
import { readJsonArray, readText } from '../../connectors/file-source/file-readers';
import { ImportValidationError } from '../../shared/errors';
import type { ImportRecord, RecipeImporter } from '../framework/define-import';
import { importedDocKey, sha256Hex } from './knowledge-base.ids';
import { IMPORT_DOCS_TABLE, IMPORT_PROMPT_TABLE } from './knowledge-base.projection';

/**
 * Seed 000's knowledge-base exports:
 * - nakamoto_kb.json: `[{ title, content_text, source_uri, lang, tags, metadata }]`, root documents
 *   (content_text for small documents, source_uri for large ones: at least one of the two);
 * - nakamoto_system_prompt.txt: plain text, the root system prompt.
 * Every file is read and validated before anything is returned (so before anything is written).
 * Keys are deterministic: a hash of title + source_uri per document, a hash of the text for the
 * prompt, so the same files imported twice change nothing.
 */

const noNul = (what: string) => (value: string) =>
  !value.includes('\u0000') || `${what} contains a NUL character, which PostgreSQL text cannot hold`;
const text = (what: string) =>
  z.string({ error: `${what} must be a string` }).superRefine((value, context) => {
    const problem = noNul(what)(value);
    if (problem !== true) context.addIssue({ code: 'custom', message: problem });
  });

const exportedDoc = z
  .object({
    title: text('title')
      .transform((title) => title.trim())
      .pipe(z.string().min(1, 'title is empty')),
    content_text: text('content_text').nullable().optional(),
    source_uri: text('source_uri').trim().min(1, 'source_uri is empty').nullable().optional(),
    lang: z
      .string({ error: 'lang must be a string' })
      .trim()
      .regex(/^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$/, 'lang is not a language code (e.g. "en", "pt-BR")')
      .optional(),
    tags: z.array(text('a tag'), { error: 'tags must be an array of strings' }).optional(),
    metadata: z.record(z.string(), z.unknown(), { error: 'metadata must be a JSON object' }).optional(),
  })
  .refine((doc) => (doc.content_text ?? null) !== null || (doc.source_uri ?? null) !== null, {
    message: 'neither content_text nor source_uri: a document needs one of them',
  });

function describe(error: z.ZodError): string {
  return error.issues
    .map((issue) => (issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message))
    .join('; ');
}

/** The documents of a nakamoto_kb.json export as import records (table nakamoto_kb). */
export function readKnowledgeBaseExport(file: string, seen = new Map<string, string>()): ImportRecord[] {
  return readJsonArray(file).map((raw, index) => {
    const label = `record ${index}${typeof raw.title === 'string' && raw.title.trim() ? ` ("${raw.title.trim().slice(0, 60)}")` : ''}`;
    const parsed = exportedDoc.safeParse(raw);
    if (!parsed.success) throw new ImportValidationError(file, label, describe(parsed.error));
    const doc = parsed.data;
    const docKey = importedDocKey(doc.title, doc.source_uri);
    const first = seen.get(docKey);
    if (first !== undefined)
      throw new ImportValidationError(
        file,
        label,
        `duplicate document: same title and source_uri as ${first}`,
      );
    seen.set(docKey, `record ${index} of ${basename(file)}`);
    const tags = [...new Set((doc.tags ?? []).map((tag) => tag.trim()).filter(Boolean))];
    return {
      table: IMPORT_DOCS_TABLE,
      key: { doc_key: docKey },
      row: {
        doc_key: docKey,
        title: doc.title,
        content_text: doc.content_text ?? null,
        source_uri: doc.source_uri ?? null,
        lang: doc.lang ?? 'en',
        tags,
        metadata: doc.metadata ?? {},
      },
    };
  });
}

/** nakamoto_system_prompt.txt: the root prompt (a leading BOM and trailing white space dropped). */
export function readSystemPromptExport(file: string): ImportRecord {
  const content = readText(file)
    .replace(/^\uFEFF/, '')
    .trimEnd();
  if (content.trim() === '') throw new ImportValidationError(file, null, 'the prompt file is empty');
  if (content.includes('\uFFFD')) throw new ImportValidationError(file, null, 'not valid UTF-8 text');
  const nul = content.indexOf('\u0000');
  if (nul >= 0) {
    const line = content.slice(0, nul).split('\n').length;
    throw new ImportValidationError(
      file,
      `line ${line}`,
      'contains a NUL character, which PostgreSQL text cannot hold',
    );
  }
  const textSha256 = sha256Hex(content);
  return {
    table: IMPORT_PROMPT_TABLE,
    key: { scope: 'root', text_sha256: textSha256 },
    row: { scope: 'root', text_sha256: textSha256, prompt_text: content },
  };
}

const DOCS_EXTENSIONS = ['.json'];
const PROMPT_EXTENSIONS = ['.txt', '.md'];

export const knowledgeBaseImporter: RecipeImporter = {
  accepts: ['nakamoto_kb.json', 'nakamoto_system_prompt.txt'],
  read(files) {
    const records: ImportRecord[] = [];
    let promptFile: string | null = null;
    const seen = new Map<string, string>(); // document key -> where it was first seen, across files
    for (const file of files) {
      const extension = extname(file).toLowerCase();
      if (DOCS_EXTENSIONS.includes(extension)) {
        records.push(...readKnowledgeBaseExport(file, seen));
      } else if (PROMPT_EXTENSIONS.includes(extension)) {
        if (promptFile !== null) {
          throw new ImportValidationError(
            file,
            null,
            `a second system prompt file (after ${basename(promptFile)}): import one root prompt at a time`,
          );
        }
        promptFile = file;
        records.push(readSystemPromptExport(file));
      } else {
        throw new ImportValidationError(
          file,
          null,
          `not a knowledge-base export (expected ${knowledgeBaseImporter.accepts.join(' or ')})`,
        );
      }
    }
    return records;
  },
};
