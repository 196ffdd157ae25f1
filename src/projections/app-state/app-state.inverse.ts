import type { ProjectionInverse, TargetChange } from '../framework/define-inverse';
import { APP_STATE_RENDER_SQL, RENDERED_TABLES } from './app-state.render.sql';

/**
 * Failback of app-state: any change of a user's state in the target (user_states or an entity)
 * re-renders that user's whole document into the legacy `user_app_state` row that won for the user
 * (app-state.render.sql.ts). A user whose user_states row is gone has no state any more: all its
 * legacy rows are deleted, so that no older duplicate becomes the user's state again.
 *
 * A user the application creates in the target needs a user_states row whose `source_id` is the
 * legacy row id to write (e.g. taken from the legacy table's sequence).
 */
export function appStateInverse(sourceSchema: string): ProjectionInverse {
  return {
    tables: RENDERED_TABLES,
    render: {
      table: `${sourceSchema}.user_app_state`,
      key: ['id'],
      by: ['user_id'],
      keysOf(change: TargetChange) {
        const users = new Set<string>();
        for (const row of [change.before, change.after]) {
          if (row && row.user_id !== null && row.user_id !== undefined) users.add(String(row.user_id));
        }
        return [...users].map((user_id) => ({ user_id }));
      },
      sql: APP_STATE_RENDER_SQL,
    },
  };
}
