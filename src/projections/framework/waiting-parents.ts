import type { Pool } from 'pg';
import {
  findForeignKey,
  missingParents,
  type ForeignKey,
  type ParentLookup,
} from '../../connectors/postgres-target/foreign-keys';
import { UNAVAILABLE_VALUE } from '../../contracts/envelope';
import type { RowOperation } from '../../contracts/row-operation';

/** A foreign key's refusal as the pg driver reports it (the chat recipe's parent guards set the same fields). */
interface PgRefusal {
  code?: string;
  table?: string;
  constraint?: string;
}

/** A write the target refused: the error, its message as a reason may show it (sensitive values scrubbed), the event's operations. */
export interface Refusal {
  error: unknown;
  message: string;
  operations: RowOperation[];
}

/**
 * What each waiting event waits for, learnt from its last refusal: the parent row one of its
 * foreign keys needs. Before a retry pass, one statement asks the target which of those parents are
 * still absent, and only the other events are tried again. Without it every waiting event costs a
 * transaction after every chunk: with hundreds waiting (a snapshot's children ahead of their
 * parents, the children of a quarantined parent), a loaded machine took 10-16 s per chunk.
 * The parent check reads the target, so parents written by another projector process count too.
 * Kept in memory by position (topic#partition#offset); a restarted projector learns again.
 */
export class WaitingParents {
  private readonly foreignKeys = new Map<string, Promise<ForeignKey | null>>();
  private readonly waits = new Map<string, { lookups: ParentLookup[]; reason: string }>();

  /**
   * Remembers what the event at `position` waits for, when `refused.error` is a foreign key's refusal
   * and the event's operations hold that key's values; else forgets it (it is then tried every pass).
   * `refused.message`: the refusal as a reason may show it (sensitive values scrubbed).
   */
  async learn(pool: Pool, schema: string, position: string, refused: Refusal): Promise<void> {
    this.waits.delete(position);
    const { operations } = refused;
    const refusal = refused.error as PgRefusal;
    if (refusal.code !== '23503' || !refusal.table || !refusal.constraint) return;
    const foreignKey = await this.foreignKey(pool, schema, refusal.table, refusal.constraint);
    if (!foreignKey) return;
    const lookups: ParentLookup[] = [];
    for (const operation of operations) {
      if (operation.op !== 'upsert' || operation.table !== refusal.table) continue;
      const key = foreignKey.childColumns.map((column) => operation.row[column]);
      if (key.some((value) => value === undefined || value === null || value === UNAVAILABLE_VALUE)) return;
      lookups.push({ foreignKey, key });
    }
    if (lookups.length > 0) this.waits.set(position, { lookups, reason: refused.message });
  }

  /**
   * Of the events remembered at `positions`, those whose parent row is still missing, with the
   * reason of their last refusal. Keeps nothing about other positions (no longer waiting).
   */
  async stillMissing(pool: Pool, positions: string[]): Promise<Map<string, string>> {
    const wanted = new Set(positions);
    for (const position of this.waits.keys()) if (!wanted.has(position)) this.waits.delete(position);
    const owners: string[] = [];
    const lookups: ParentLookup[] = [];
    for (const [position, wait] of this.waits) {
      for (const lookup of wait.lookups) {
        owners.push(position);
        lookups.push(lookup);
      }
    }
    const missing = new Map<string, string>();
    if (lookups.length === 0) return missing;
    for (const index of await missingParents(pool, lookups)) missing.set(owners[index], this.waits.get(owners[index])!.reason);
    return missing;
  }

  forget(position: string): void {
    this.waits.delete(position);
  }

  private foreignKey(pool: Pool, schema: string, table: string, constraint: string): Promise<ForeignKey | null> {
    const id = `${schema}.${table}.${constraint}`;
    let found = this.foreignKeys.get(id);
    if (!found) {
      found = findForeignKey(pool, schema, table, constraint);
      found.catch(() => this.foreignKeys.delete(id)); // asked again next time
      this.foreignKeys.set(id, found);
    }
    return found;
  }
}
