import { mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import {
  insert,
  projectionSpec,
  read,
  remove,
  truncate,
  update,
  type TestChangeEvent,
} from '../../src/testing';
import { deterministicUuid } from '../../src/projections/framework/define-projection';
import { planStatements } from '../../src/connectors/postgres-target/row-writer';
import { ImportValidationError } from '../../src/shared/errors';
import { knowledgeBaseRecipe } from '../../src/projections/knowledge-base';
import { knowledgeBaseProjection } from '../../src/projections/knowledge-base/knowledge-base.projection';
import { knowledgeBaseImporter } from '../../src/projections/knowledge-base/knowledge-base.import';
import {
  corpusId,
  importedDocId,
  importedDocKey,
  ROOT_CORPUS_ID,
  ROOT_TENANT,
  sha256Hex,
} from '../../src/projections/knowledge-base/knowledge-base.ids';
import { demoUuid } from '../../demo/knowledge-base';

const UNAVAILABLE = '__debezium_unavailable_value';
const TENANT = '6f1c2a3b-0000-4000-8000-00000000000a';
const DOC_ID = '0a8e4c1d-1111-4111-8111-000000000001';
const projection = knowledgeBaseProjection('legacy_app');

// Events as capture writes them, in one source transaction at commit LSN 4096.
const spec = projectionSpec(projection);
const AT = { commitLsn: 4096, transactionId: '77:4096' };
const decode = (event: TestChangeEvent) => spec.when(event).outcomes()[0];
const operationsOf = (event: TestChangeEvent) => spec.when(event).operations();

const legacyDoc = (overrides: Record<string, unknown> = {}) => ({
  id: DOC_ID,
  tenant_id: TENANT,
  title: 'Wallet backups: FAQ',
  content: 'Back up the seed phrase on paper.',
  source_uri: null,
  lang: 'en',
  tags: ['wallet', null, 'security'],
  metadata: '{"author": "a.tanaka"}',
  is_active: true,
  created_at: '2024-05-01T10:00:00Z',
  updated_at: '2024-05-02T10:00:00Z',
  ...overrides,
});

describe('knowledge-base projection', () => {
  it('is the registered recipe, reading the legacy tables and the two import tables', () => {
    const definition = knowledgeBaseRecipe.projection({ sourceSchema: 'legacy_app', env: {} });
    expect(definition.schema).toBe('knowledge_base');
    expect(Object.keys(definition.input).sort()).toEqual([
      'import.nakamoto_kb',
      'import.nakamoto_system_prompt',
      'legacy_app.kb_documents',
      'legacy_app.system_prompts',
    ]);
    expect(knowledgeBaseRecipe.importer).toBeDefined();
  });

  it('projects a tenant document with its corpus, parsed metadata and tags, keeping the legacy uuid', () => {
    expect(operationsOf(insert('legacy_app.kb_documents', legacyDoc(), AT))).toEqual([
      {
        op: 'upsert',
        table: 'docs',
        key: ['id'],
        row: {
          id: DOC_ID,
          origin: 'legacy_app.kb_documents',
          source_id: DOC_ID,
          corpus_id: corpusId(TENANT),
          scope: 'tenant',
          tenant_id: TENANT,
          title: 'Wallet backups: FAQ',
          content_text: 'Back up the seed phrase on paper.',
          source_uri: null,
          lang: 'en',
          tags: ['wallet', 'security'],
          metadata: { author: 'a.tanaka' },
          is_active: true,
          created_at: '2024-05-01T10:00:00Z',
          updated_at: '2024-05-02T10:00:00Z',
        },
      },
    ]);
  });

  it('treats a NULL or all-zero tenant as the root scope, and fills defaults', () => {
    for (const tenant of [null, ROOT_TENANT]) {
      const [upsert] = operationsOf(
        read(
          'legacy_app.kb_documents',
          legacyDoc({ tenant_id: tenant, lang: null, tags: null, metadata: null, is_active: null }),
          AT,
        ),
      );
      expect(upsert).toMatchObject({
        row: {
          scope: 'root',
          tenant_id: null,
          corpus_id: ROOT_CORPUS_ID,
          lang: 'en',
          tags: [],
          metadata: {},
          is_active: true,
        },
      });
    }
    expect(corpusId(TENANT)).not.toBe(ROOT_CORPUS_ID);
  });

  it('remaps a non-uuid legacy id to a deterministic uuid and records it in id_map', () => {
    const operations = operationsOf(insert('legacy_app.kb_documents', legacyDoc({ id: 42 }), AT));
    const id = deterministicUuid('knowledge-base', 'kb_doc', 'legacy_app.kb_documents', '42');
    expect(operations).toEqual([
      expect.objectContaining({ op: 'upsert', row: expect.objectContaining({ id, source_id: '42' }) }),
      { op: 'mapId', entity: 'kb_doc', sourceId: '42', targetId: id },
    ]);
    const [del] = operationsOf(remove('legacy_app.kb_documents', { id: 42, title: null }, AT));
    expect(del).toEqual({ op: 'delete', table: 'docs', match: { id } });
  });

  it('keeps unchanged TOASTed content, tags and metadata: the columns are left out of the SQL', () => {
    const operations = operationsOf(
      update(
        'legacy_app.kb_documents',
        legacyDoc({ title: 'Renamed', content: UNAVAILABLE, metadata: UNAVAILABLE, tags: UNAVAILABLE }),
        AT,
      ),
    );
    expect(operations[0]).toMatchObject({
      row: { title: 'Renamed', content_text: UNAVAILABLE, metadata: UNAVAILABLE, tags: UNAVAILABLE },
    });
    const [statement] = planStatements(
      'knowledge-base',
      'knowledge_base',
      operations.map((operation) => ({ operation, sourceKey: 'k', lsn: 5n })),
    );
    expect(statement.text).toContain('"title"');
    expect(statement.text).not.toContain('content_text');
    expect(statement.text).not.toContain('metadata');
    expect(statement.text).not.toContain('"tags"');
    expect(statement.text).not.toContain(UNAVAILABLE);
  });

  it('deletes by target id, and a truncate empties only what came from that source table', () => {
    expect(operationsOf(remove('legacy_app.kb_documents', { id: DOC_ID }, AT))).toEqual([
      { op: 'delete', table: 'docs', match: { id: DOC_ID } },
    ]);
    expect(operationsOf(truncate('legacy_app.kb_documents', AT))).toEqual([
      { op: 'delete', table: 'docs', match: { origin: 'legacy_app.kb_documents' } },
    ]);
    expect(operationsOf(truncate('legacy_app.system_prompts', AT))).toEqual([
      { op: 'delete', table: 'prompt_versions', match: { origin: 'legacy_app.system_prompts' } },
    ]);
  });

  it('quarantines rows it cannot store, naming the column', () => {
    expect(decode(insert('legacy_app.kb_documents', legacyDoc({ tenant_id: 'tenant-7' }), AT))).toMatchObject(
      {
        kind: 'reject',
        reason: expect.stringContaining('tenant_id: tenant_id is not a valid uuid'),
      },
    );
    expect(decode(insert('legacy_app.kb_documents', legacyDoc({ metadata: '[1, 2]' }), AT))).toMatchObject({
      kind: 'reject',
      reason: expect.stringContaining('metadata: expected a JSON object'),
    });
    expect(decode(insert('legacy_app.kb_documents', legacyDoc({ title: '  ' }), AT))).toMatchObject({
      kind: 'reject',
      reason: expect.stringContaining('title: title is empty'),
    });
    expect(
      decode(
        insert('legacy_app.system_prompts', { id: 'p', content: 'x', version: 1.5, is_active: true }, AT),
      ),
    ).toMatchObject({
      kind: 'reject',
      reason: expect.stringContaining('version'),
    });
  });

  it('writes a prompt version, and moves the active pointer of its scope only when the version is active', () => {
    const prompt = {
      id: 'b1b2c3d4-0000-4000-8000-000000000001',
      tenant_id: TENANT,
      content: 'Be formal.',
      version: 2,
      is_active: true,
      updated_at: '2024-01-01T00:00:00Z',
    };
    const active = operationsOf(update('legacy_app.system_prompts', prompt, AT));
    expect(active).toEqual([
      {
        op: 'upsert',
        table: 'prompt_versions',
        key: ['id'],
        row: {
          id: prompt.id,
          origin: 'legacy_app.system_prompts',
          source_id: prompt.id,
          scope: 'tenant',
          tenant_id: TENANT,
          version: 2,
          prompt_text: 'Be formal.',
          source_active: true,
          created_at: null,
          updated_at: '2024-01-01T00:00:00Z',
        },
      },
      {
        op: 'deleteExcept',
        table: 'active_prompts',
        match: { prompt_id: prompt.id },
        column: 'tenant_key',
        keep: [TENANT],
      },
      {
        op: 'upsert',
        table: 'active_prompts',
        key: ['tenant_key'],
        row: {
          tenant_key: TENANT,
          scope: 'tenant',
          tenant_id: TENANT,
          prompt_id: prompt.id,
          origin: 'legacy_app.system_prompts',
        },
      },
    ]);
    const inactive = operationsOf(
      update(
        'legacy_app.system_prompts',
        {
          ...prompt,
          tenant_id: null,
          is_active: false,
          content: UNAVAILABLE,
        },
        AT,
      ),
    );
    expect(inactive).toHaveLength(2);
    expect(inactive[0]).toMatchObject({
      row: { scope: 'root', tenant_id: null, prompt_text: UNAVAILABLE, source_active: false },
    });
    expect(inactive[1]).toEqual({
      op: 'deleteExcept',
      table: 'active_prompts',
      match: { prompt_id: prompt.id },
      column: 'tenant_key',
      keep: [],
    });
  });

  it('gives an imported root prompt no version (the target numbers it) and an id derived from its text', () => {
    const text = 'You are Aigent Nakamoto.';
    const operations = operationsOf(
      read(
        'import.nakamoto_system_prompt',
        {
          scope: 'root',
          text_sha256: sha256Hex(text),
          prompt_text: text,
        },
        AT,
      ),
    );
    expect(operations[0]).toMatchObject({
      table: 'prompt_versions',
      row: { scope: 'root', tenant_id: null, prompt_text: text, origin: 'import.nakamoto_system_prompt' },
    });
    const version = operations[0].op === 'upsert' ? operations[0].row : {};
    expect('version' in version).toBe(false);
    expect(operations[2]).toMatchObject({
      table: 'active_prompts',
      row: { tenant_key: ROOT_TENANT, scope: 'root', prompt_id: version.id },
    });
  });

  it('projects an imported document as a root document keyed by its title and source_uri', () => {
    const key = importedDocKey('Fees', null);
    const [upsert] = operationsOf(
      read(
        'import.nakamoto_kb',
        {
          doc_key: key,
          title: 'Fees',
          content_text: 'Fees depend on size.',
          source_uri: null,
          lang: 'en',
          tags: ['fees'],
          metadata: { a: 1 },
        },
        AT,
      ),
    );
    expect(upsert).toMatchObject({
      row: {
        id: importedDocId(key),
        scope: 'root',
        tenant_id: null,
        corpus_id: ROOT_CORPUS_ID,
        metadata: { a: 1 },
        is_active: true,
      },
    });
  });
});

describe('knowledge-base import', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kb-import-'));
  const write = (name: string, content: string) => {
    const file = join(dir, name);
    writeFileSync(file, content);
    return file;
  };
  const docs = [
    {
      title: 'Wallet backups',
      content_text: 'Write the seed phrase down.',
      lang: 'en',
      tags: ['wallet', ' security ', 'wallet'],
      metadata: { author: 'x' },
    },
    {
      title: 'Lightning whitepaper',
      source_uri: 'storage://nakamoto-kb/root/lightning.pdf',
      tags: [],
      metadata: {},
    },
    {
      title: 'Wallet backups',
      content_text: 'Same title, other file.',
      source_uri: 'storage://nakamoto-kb/root/backups.pdf',
    },
  ];
  const kb = write('nakamoto_kb.json', JSON.stringify(docs));
  const prompt = write('nakamoto_system_prompt.txt', '\uFEFFYou are Aigent Nakamoto.\nBe precise.\n\n');

  const failure = (files: string[]): ImportValidationError => {
    try {
      knowledgeBaseImporter.read(files);
    } catch (error) {
      if (error instanceof ImportValidationError) return error;
      throw error;
    }
    throw new Error('expected an ImportValidationError');
  };

  it('reads the documents and the root prompt, with deterministic keys', () => {
    const records = knowledgeBaseImporter.read([kb, prompt]);
    expect(records).toHaveLength(4);
    expect(records[0]).toEqual({
      table: 'nakamoto_kb',
      key: { doc_key: importedDocKey('Wallet backups', null) },
      row: {
        doc_key: importedDocKey('Wallet backups', null),
        title: 'Wallet backups',
        content_text: 'Write the seed phrase down.',
        source_uri: null,
        lang: 'en',
        tags: ['wallet', 'security'],
        metadata: { author: 'x' },
      },
    });
    expect(records[1].row).toMatchObject({
      content_text: null,
      source_uri: 'storage://nakamoto-kb/root/lightning.pdf',
      lang: 'en',
    });
    expect(records[2].key).not.toEqual(records[0].key); // same title, different source_uri
    expect(records[3]).toEqual({
      table: 'nakamoto_system_prompt',
      key: { scope: 'root', text_sha256: sha256Hex('You are Aigent Nakamoto.\nBe precise.') },
      row: {
        scope: 'root',
        text_sha256: sha256Hex('You are Aigent Nakamoto.\nBe precise.'),
        prompt_text: 'You are Aigent Nakamoto.\nBe precise.',
      },
    });
    expect(knowledgeBaseImporter.read([kb, prompt])).toEqual(records);
  });

  it('names the file, the record and the reason of the first problem', () => {
    const bad = (name: string, records: unknown[]) => failure([write(name, JSON.stringify(records))]);
    expect(bad('no_title.json', [docs[0], { content_text: 'x' }]).message).toBe(
      'no_title.json, record 1: title: title must be a string',
    );
    expect(bad('empty_title.json', [{ title: ' ', content_text: 'x' }]).message).toBe(
      'empty_title.json, record 0: title: title is empty',
    );
    expect(bad('no_content.json', [docs[0], docs[1], { title: 'Orphan' }]).message).toBe(
      'no_content.json, record 2 ("Orphan"): neither content_text nor source_uri: a document needs one of them',
    );
    expect(bad('tags.json', [{ title: 'T', content_text: 'x', tags: 'wallet' }]).message).toBe(
      'tags.json, record 0 ("T"): tags: tags must be an array of strings',
    );
    expect(bad('meta.json', [{ title: 'T', content_text: 'x', metadata: [1] }]).message).toBe(
      'meta.json, record 0 ("T"): metadata: metadata must be a JSON object',
    );
    expect(bad('lang.json', [{ title: 'T', content_text: 'x', lang: 'English please' }]).message).toContain(
      'lang: lang is not a language code',
    );
    expect(bad('nul.json', [{ title: 'T', content_text: 'a\u0000b' }]).message).toContain(
      'content_text: content_text contains a NUL character',
    );
    expect(bad('dup.json', [docs[0], docs[1], docs[0]]).message).toBe(
      'dup.json, record 2 ("Wallet backups"): duplicate document: same title and source_uri as record 0 of dup.json',
    );
    const other = write('more_kb.json', JSON.stringify([docs[1]]));
    expect(failure([kb, other]).message).toBe(
      'more_kb.json, record 0 ("Lightning whitepaper"): duplicate document: same title and source_uri as record 1 of nakamoto_kb.json',
    );
    expect(failure([write('broken.json', '[{"title": ')]).message).toMatch(/^broken\.json: not valid JSON/);
    expect(failure([write('object.json', '{"title": "x"}')]).message).toBe(
      'object.json: expected a JSON array of records',
    );
  });

  it('refuses an empty prompt, two prompt files, a NUL character and unknown files', () => {
    expect(failure([write('empty_prompt.txt', ' \n\n')]).message).toBe(
      'empty_prompt.txt: the prompt file is empty',
    );
    expect(failure([prompt, write('second.txt', 'Other.')]).message).toBe(
      'second.txt: a second system prompt file (after nakamoto_system_prompt.txt): import one root prompt at a time',
    );
    expect(failure([write('nul_prompt.txt', 'line one\nline\u0000two')]).message).toBe(
      'nul_prompt.txt, line 2: contains a NUL character, which PostgreSQL text cannot hold',
    );
    expect(failure([write('users.csv', 'a,b\n1,2\n')]).message).toBe(
      'users.csv: not a knowledge-base export (expected nakamoto_kb.json or nakamoto_system_prompt.txt)',
    );
    expect(failure([join(dir, 'missing.json')]).message).toBe('missing.json: cannot read the file (ENOENT)');
  });
});

describe('knowledge-base demo ids', () => {
  it('match PostgreSQL md5(text)::uuid', () => {
    // SELECT md5('kb-tenant:1:1')::uuid
    expect(demoUuid('kb-tenant:1:1')).toBe('78b9b271-0184-8bc8-fca9-9fe994a2b1e3');
    expect(demoUuid('kb-tenant:1:1')).not.toBe(demoUuid('kb-tenant:2:1'));
  });
});
