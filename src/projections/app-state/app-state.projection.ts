import { z } from 'zod';
import {
  defineProjection,
  type ProjectionEvent,
  type RowOperation,
  type WriteCondition,
} from '../framework/define-projection';
import { APP_STATE_MIGRATIONS } from './app-state.migrations';
import { appStateReconciliation } from './app-state.reconcile';
import { appStateRow, rowVersion, normalizeUpdatedAt, type AppStateRow } from './app-state.row';
import { ENTITY_TABLES, PROJECTION_NAME, explodeState, extraOf, idMapSourceId } from './app-state.explode';
import { ENTITY_LISTS } from './app-state.schema';

/**
 * Seed 002: one JSONB document per user (`user_app_state.state`) exploded into orgs, personas,
 * contents, accounts, leads, references and inbox_items. See README.md in this folder for the
 * rules; in short:
 *
 * - A user's projection is the exploded document of the winning legacy row: the greatest
 *   (updated_at, id, commit LSN) among the valid rows seen for that user, whatever order their
 *   events arrive in (duplicates sit on different partitions). An event of an older row changes
 *   nothing but the row ledger (`source_rows`) and the id map.
 * - Each event replaces the user's projection as a whole: entities that left the document are
 *   deleted, the others upserted, in the event's one target transaction (so one user's state lands
 *   whole or not at all, also when the database rejects one entity: the event is quarantined whole).
 * - Deleting a non-winning legacy row changes nothing. Deleting the winning row removes the user's
 *   entities; the user's winner stays recorded (user_states), so an older duplicate does not come
 *   back by itself; it counts again once written (a newer updated_at).
 * - New ids: deterministicUuid('app-state', entity, userId, oldId), each recorded in tandem.id_map
 *   (source id: the JSON array [userId, oldId]); the view app_state.migration_audit shows them as
 *   the seed's migration_audit.
 */

const CHILDREN_FIRST = [...ENTITY_TABLES].reverse();

/** The operations for a legacy row written (insert, update or snapshot read). Pure. */
export function upsertOperations(
  row: AppStateRow,
  event: Pick<ProjectionEvent<AppStateRow>, 'op' | 'before' | 'commitLsn'>,
): RowOperation[] {
  const userId = row.user_id;
  const version = rowVersion(row);
  const state = row.state;
  const stateBytes = Buffer.byteLength(JSON.stringify(state));
  const exploded = explodeState(state, { userId, sourceId: row.id, version });
  const operations: RowOperation[] = [
    {
      op: 'upsert',
      table: 'source_rows',
      key: ['source_id'],
      row: {
        source_id: row.id,
        user_id: userId,
        updated_at: normalizeUpdatedAt(row.updated_at),
        version,
        state_bytes: stateBytes,
        deleted: false,
      },
    },
  ];
  // An update may move the row to another user (under the default replica identity, `before` is
  // not sent, so it may have): remove what this row projected for anyone else.
  if (event.op === 'u' && (event.before === null || event.before.user_id !== userId)) {
    for (const { table } of CHILDREN_FIRST) {
      operations.push({
        op: 'deleteExcept',
        table,
        match: { source_id: row.id },
        column: 'user_id',
        keep: [userId],
      });
    }
  }
  const settings = extraOf(state, ['schemaVersion', ...ENTITY_LISTS]);
  operations.push({
    op: 'upsert',
    table: 'user_states',
    key: ['user_id'],
    version: 'version',
    row: {
      user_id: userId,
      source_id: row.id,
      source_updated_at: normalizeUpdatedAt(row.updated_at),
      version,
      schema_version: state.schemaVersion ?? null,
      settings,
      entity_counts: Object.fromEntries(ENTITY_TABLES.map(({ table }) => [table, exploded[table].length])),
      state_bytes: stateBytes,
    },
  });
  // Everything else only while this event is the user's winner (checked in the same statement).
  const when: WriteCondition = {
    table: 'user_states',
    match: { user_id: userId, version, _source_lsn: event.commitLsn.toString() },
  };
  const bound = { column: 'version', value: version };
  for (const { table } of CHILDREN_FIRST) {
    operations.push({
      op: 'deleteExcept',
      table,
      match: { user_id: userId },
      column: 'id',
      keep: exploded[table].map((r) => r.id),
      version: bound,
      when,
    });
  }
  for (const { table } of ENTITY_TABLES) {
    for (const entityRow of exploded[table])
      operations.push({ op: 'upsert', table, key: ['id'], version: 'version', when, row: entityRow });
  }
  for (const { table, entity } of ENTITY_TABLES) {
    for (const entityRow of exploded[table]) {
      operations.push({
        op: 'mapId',
        entity,
        sourceId: idMapSourceId(userId, String(entityRow.old_id)),
        targetId: String(entityRow.id),
      });
    }
  }
  return operations;
}

/** The operations for a legacy row deleted: only its key is known under the default replica identity. Pure. */
export function deleteOperations(sourceId: string): RowOperation[] {
  return [
    ...CHILDREN_FIRST.map(({ table }): RowOperation => ({
      op: 'delete',
      table,
      match: { source_id: sourceId },
    })),
    { op: 'upsert', table: 'source_rows', key: ['source_id'], row: { source_id: sourceId, deleted: true } },
  ];
}

/** A TRUNCATE of the legacy table empties the projection. */
export function truncateOperations(): RowOperation[] {
  return [...CHILDREN_FIRST.map(({ table }) => table), 'user_states', 'source_rows'].map(
    (table): RowOperation => ({ op: 'delete', table, match: {} }),
  );
}

const entityRowOutput = z.object({
  id: z.uuid(),
  user_id: z.string().min(1),
  old_id: z.string().min(1),
  source_id: z.string().min(1),
  version: z.string().min(1),
});

export function appStateProjection(sourceSchema = 'public') {
  const source = `${sourceSchema}.user_app_state`;
  return defineProjection<AppStateRow>({
    name: PROJECTION_NAME,
    migrations: APP_STATE_MIGRATIONS,
    input: { [source]: appStateRow },
    output: Object.fromEntries(ENTITY_TABLES.map(({ table }) => [table, entityRowOutput])),
    reconcile: appStateReconciliation(sourceSchema, PROJECTION_NAME),
    // Every entity write is conditioned on its event still being the user's winning version, and
    // each event replaces the user's entities as a whole: any interleaving of different rows'
    // events leaves the winner's document (the arrival-order test checks all 30 orders).
    interleaveEvents: true,
    apply(event: ProjectionEvent<AppStateRow>): RowOperation[] {
      if (event.op === 't') return truncateOperations();
      if (event.op === 'd') {
        const id = event.before?.id;
        if (id === undefined || id === null) throw new Error('delete event without the row id (before.id)');
        return deleteOperations(String(id));
      }
      return upsertOperations(event.after!, event);
    },
  });
}
