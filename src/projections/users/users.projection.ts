import { z } from 'zod';
import { defineProjection, deterministicUuid, type ProjectionEvent, type RowOperation } from '../framework/define-projection';
import { toastable, isUnavailable } from '../toastable';
import { USERS_MIGRATIONS } from './users.migrations';

/**
 * Seeds 000 and 003: legacy auth users (plus the tenant mapping CSV, imported through the same log)
 * become `users` and the `user_migration_map` view. No password is copied: every user is marked for
 * a magic-link invite. Name = display name, else the e-mail's local part.
 */
export const ROOT_TENANT = '00000000-0000-0000-0000-000000000000';

const legacyUser = z.object({
  id: z.string().uuid('source user id is not a valid uuid'),
  email: z.string().email('invalid e-mail address'),
  display_name: z.string().nullable().optional(),
  instance_name: z.string().nullable().optional(),
  raw_user_meta_data: toastable(z.string().nullable()).optional(),
  created_at: z.string(),
  encrypted_password: z.unknown().optional(),
});

const tenantMapping = z.object({
  instance_name: z.string().min(1),
  tenant_id: z.string().uuid('tenant_id is not a valid uuid'),
  description: z.string().nullable().optional(),
});

export type UsersSourceRow = z.infer<typeof legacyUser> | z.infer<typeof tenantMapping>;

export function displayName(user: { email: string; display_name?: string | null }): string {
  const name = user.display_name?.trim();
  return name ? name : user.email.split('@')[0];
}

export function usersProjection(sourceSchema = 'public') {
  const usersTable = `${sourceSchema}.auth_users`;
  const mappingTable = 'import.tenant_mapping';
  const isUser = (source: string) => source === usersTable;

  return defineProjection<UsersSourceRow>({
    name: 'users',
    migrations: USERS_MIGRATIONS,
    input: { [usersTable]: legacyUser, [mappingTable]: tenantMapping },
    apply(event: ProjectionEvent<UsersSourceRow>): RowOperation[] {
      if (event.op === 't') return [{ op: 'delete', table: isUser(event.source) ? 'users' : 'tenant_mapping', match: {} }];
      if (!isUser(event.source)) {
        if (event.op === 'd') return [{ op: 'delete', table: 'tenant_mapping', match: { instance_name: event.before!.instance_name } }];
        const mapping = event.after as z.infer<typeof tenantMapping>;
        return [{ op: 'upsert', table: 'tenant_mapping', key: ['instance_name'], row: { ...mapping, description: mapping.description ?? null } }];
      }
      if (event.op === 'd') {
        return [{ op: 'delete', table: 'users', match: { id: deterministicUuid('users', String(event.before!.id)) } }];
      }
      const user = event.after as z.infer<typeof legacyUser>;
      const id = deterministicUuid('users', user.id);
      const row: Record<string, unknown> = {
        id,
        source_user_id: user.id,
        email: user.email.toLowerCase(),
        name: displayName(user),
        instance_name: user.instance_name ?? 'root',
        status: 'invite_pending',
        created_at: user.created_at,
      };
      if (isUnavailable(user.raw_user_meta_data)) row.meta = user.raw_user_meta_data;
      else row.meta = user.raw_user_meta_data ?? '{}';
      return [
        { op: 'upsert', table: 'users', key: ['id'], row },
        { op: 'mapId', entity: 'user', sourceId: user.id, targetId: id },
      ];
    },
  });
}
