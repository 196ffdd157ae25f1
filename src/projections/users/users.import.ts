import { z } from 'zod';
import { pgUuid } from '../pg-uuid';
import { basename } from 'path';
import { readCsv, readJsonArray } from '../../connectors/file-source/file-readers';
import { ImportValidationError } from '../../shared/errors';
import type { ImportRecord, RecipeImporter } from '../framework/define-import';

/** nakamoto_users.json (seed 000): the auth-users export. */
const exportedUser = z.object({
  source_user_id: pgUuid('source_user_id is not a valid uuid'),
  email: z.string().email('invalid e-mail address'),
  tenant_id: pgUuid('tenant_id is not a valid uuid').optional(),
  status: z.string().optional(),
  display_name: z.string().nullable().optional(),
  created_at: z.string().optional(),
  meta: z.record(z.string(), z.unknown()).optional(),
});

/** tenant_mapping.csv (seed 000): instance_name,tenant_id,description. */
const mappingRow = z.object({
  instance_name: z.string().min(1, 'instance_name is empty'),
  tenant_id: pgUuid('tenant_id is not a valid uuid'),
  description: z.string().optional(),
});

function fail(file: string, record: string, error: z.ZodError): never {
  throw new ImportValidationError(file, record, error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
}

export const usersImporter: RecipeImporter = {
  accepts: ['nakamoto_users.json', 'tenant_mapping.csv'],
  read(files) {
    const records: ImportRecord[] = [];
    for (const file of files) {
      if (basename(file).endsWith('.csv')) {
        readCsv(file).forEach((raw, index) => {
          const parsed = mappingRow.safeParse(raw);
          if (!parsed.success) fail(file, `line ${index + 2}`, parsed.error);
          records.push({ table: 'tenant_mapping', key: { instance_name: parsed.data.instance_name }, row: parsed.data });
        });
      } else if (basename(file).endsWith('.json')) {
        const seen = new Set<string>();
        readJsonArray(file).forEach((raw, index) => {
          const parsed = exportedUser.safeParse(raw);
          const label = `record ${index}${typeof raw.source_user_id === 'string' ? ` (${raw.source_user_id})` : ''}`;
          if (!parsed.success) fail(file, label, parsed.error);
          if (seen.has(parsed.data.source_user_id)) throw new ImportValidationError(file, label, 'duplicate source_user_id');
          seen.add(parsed.data.source_user_id);
          records.push({
            table: 'nakamoto_users',
            key: { source_user_id: parsed.data.source_user_id },
            row: { ...parsed.data, meta: JSON.stringify(parsed.data.meta ?? {}) },
          });
        });
      } else {
        throw new ImportValidationError(file, null, `not a users export (expected ${usersImporter.accepts.join(' or ')})`);
      }
    }
    return records;
  },
};
