import type { ProjectionInverse, TargetChange } from '../framework/define-inverse';

/**
 * Failback of `users.users` into the legacy `auth_users`: the source id is the legacy key, the
 * name goes back as display_name, meta as raw_user_meta_data. The password is not in the target,
 * so it is never written: a user updated in the target keeps its legacy password, a user created
 * there gets the column's default. tenant_mapping only comes from an import file: nothing to invert.
 */
export function usersInverse(sourceSchema: string): ProjectionInverse {
  const table = `${sourceSchema}.auth_users`;
  return {
    tables: ['users'],
    apply(change: TargetChange) {
      if (change.op === 'd') return [{ op: 'delete', table, match: { id: String(change.before!.source_user_id) } }];
      const user = change.after!;
      return [
        {
          op: 'upsert',
          table,
          key: ['id'],
          row: {
            id: String(user.source_user_id),
            email: user.email,
            display_name: user.name,
            instance_name: user.instance_name,
            raw_user_meta_data: typeof user.meta === 'string' ? JSON.parse(user.meta) : user.meta, // jsonb arrives as its text
            created_at: user.created_at,
          },
        },
      ];
    },
  };
}
