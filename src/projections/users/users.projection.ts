import { z } from 'zod';
import { pgUuid } from '../pg-uuid';
import { defineProjection, deterministicUuid, type ProjectionEvent, type RowOperation } from '../framework/define-projection';
import { isUnavailable, toastable } from '../toastable';
import { USERS_MIGRATIONS } from './users.migrations';
import { usersInverse } from './users.inverse';

/**
 * Seeds 000 and 003: legacy auth users (plus the tenant mapping CSV, imported through the same log)
 * become `users` and the `user_migration_map` view. No password is copied: every user is marked for
 * a magic-link invite. Name = display name, else the e-mail's local part.
 */
export const ROOT_TENANT = '00000000-0000-0000-0000-000000000000';

const legacyUser = z.object({
  id: pgUuid('source user id is not a valid uuid'),
  email: z.string().email('invalid e-mail address'),
  display_name: z.string().nullable().optional(),
  instance_name: z.string().nullable().optional(),
  raw_user_meta_data: toastable(z.string().nullable()).optional(),
  created_at: z.string(),
  encrypted_password: z.unknown().optional(),
});

/** A record of nakamoto_users.json, imported through the log (see users.import.ts). */
const importedUser = z.object({
  source_user_id: pgUuid('source_user_id is not a valid uuid'),
  email: z.string().email('invalid e-mail address'),
  tenant_id: pgUuid().optional(),
  display_name: z.string().nullable().optional(),
  created_at: z.string().optional(),
  meta: z.string().optional(),
});

const tenantMapping = z.object({
  instance_name: z.string().min(1),
  tenant_id: pgUuid('tenant_id is not a valid uuid'),
  description: z.string().nullable().optional(),
});

export type UsersSourceRow = z.infer<typeof legacyUser> | z.infer<typeof importedUser> | z.infer<typeof tenantMapping>;

export function displayName(user: { email: string; display_name?: string | null }): string {
  const name = user.display_name?.trim();
  return name ? name : user.email.split('@')[0];
}

export function usersProjection(sourceSchema = 'public') {
  const usersTable = `${sourceSchema}.auth_users`;
  const mappingTable = 'import.tenant_mapping';
  const importedTable = 'import.nakamoto_users';
  const isUser = (source: string) => source === usersTable || source === importedTable;

  return defineProjection<UsersSourceRow>({
    name: 'users',
    migrations: USERS_MIGRATIONS,
    invert: usersInverse(sourceSchema),
    input: { [usersTable]: legacyUser, [importedTable]: importedUser, [mappingTable]: tenantMapping },
    sensitive: { [usersTable]: ['encrypted_password'] },
    reconcile: [
      {
        name: 'users',
        sourceTable: usersTable,
        source: {
          from: '{source}.auth_users',
          key: 'id',
          columns: {
            email: 'lower(email)',
            name: "coalesce(nullif(btrim(display_name), ''), split_part(email, '@', 1))",
            instance_name: "coalesce(instance_name, 'root')",
          },
        },
        target: {
          from: '{target}.users',
          key: 'source_user_id',
          columns: { email: 'email', name: 'name', instance_name: 'instance_name' },
          where: "_source_key NOT LIKE 'import.%'", // imported users have no legacy row; the application's do
        },
        quarantineKey: (key) => (key.id === undefined ? null : String(key.id)),
      },
    ],
    apply(event: ProjectionEvent<UsersSourceRow>): RowOperation[] {
      if (event.op === 't') return [{ op: 'delete', table: isUser(event.source) ? 'users' : 'tenant_mapping', match: {} }];
      if (!isUser(event.source)) {
        if (event.op === 'd') return [{ op: 'delete', table: 'tenant_mapping', match: { instance_name: event.before!.instance_name } }];
        const mapping = event.after as z.infer<typeof tenantMapping>;
        return [{ op: 'upsert', table: 'tenant_mapping', key: ['instance_name'], row: { ...mapping, description: mapping.description ?? null } }];
      }
      if (event.op === 'd') {
        const sourceId = String(event.before!.id ?? event.before!.source_user_id);
        return [{ op: 'delete', table: 'users', match: { id: deterministicUuid('users', sourceId) } }];
      }
      const user = normalize(event.after as z.infer<typeof legacyUser> | z.infer<typeof importedUser>);
      const id = deterministicUuid('users', user.sourceId);
      return [
        {
          op: 'upsert',
          table: 'users',
          key: ['id'],
          row: {
            id,
            source_user_id: user.sourceId,
            email: user.email.toLowerCase(),
            name: displayName({ email: user.email, display_name: user.displayName }),
            instance_name: user.instanceName,
            tenant_id: user.tenantId,
            status: 'invite_pending',
            meta: user.meta,
            created_at: user.createdAt,
          },
        },
        { op: 'mapId', entity: 'user', sourceId: user.sourceId, targetId: id },
      ];
    },
  });
}

interface NormalizedUser {
  sourceId: string;
  email: string;
  displayName: string | null;
  instanceName: string;
  tenantId: string | null;
  /** The document itself (a jsonb column arrives as text), or the unchanged-TOAST placeholder. */
  meta: unknown;
  createdAt: string;
}

/** A captured legacy row or an imported export record, in one shape. */
function normalize(user: z.infer<typeof legacyUser> | z.infer<typeof importedUser>): NormalizedUser {
  if ('source_user_id' in user) {
    return {
      sourceId: user.source_user_id,
      email: user.email,
      displayName: user.display_name ?? null,
      instanceName: 'root',
      tenantId: user.tenant_id ?? null,
      meta: user.meta === undefined ? {} : JSON.parse(user.meta),
      createdAt: user.created_at ?? new Date(0).toISOString(),
    };
  }
  return {
    sourceId: user.id,
    email: user.email,
    displayName: user.display_name ?? null,
    instanceName: user.instance_name ?? 'root',
    tenantId: null,
    // an unchanged TOASTed value keeps the stored one (the row writer leaves the column out)
    meta: jsonDocument(user.raw_user_meta_data),
    createdAt: user.created_at,
  };
}

/** Stored as jsonb, a jsonb column's text must be the document, not a JSON string holding it. */
function jsonDocument(text: string | null | undefined): unknown {
  if (text === null || text === undefined) return {};
  return isUnavailable(text) ? text : JSON.parse(text);
}
