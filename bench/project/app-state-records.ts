import { appStateChunks } from '../../demo/app-state';
import type { LogRecord } from '../../src/contracts/positions';

/**
 * App-state change events as capture writes them (snapshot reads, 10 % of users with older
 * duplicates), for the in-process measurements: decode-cpu.ts and apply-cpu.ts.
 */
export function appStateRecords(users: number, topic: string): LogRecord[] {
  const out: LogRecord[] = [];
  let id = 0;
  for (const chunk of appStateChunks({ users, duplicateRatio: 0.1, badRatio: 0, seed: 1 })) {
    for (const row of chunk) {
      id++;
      const after = {
        id: String(id),
        user_id: row.userId,
        updated_at: row.updatedAt.replace('T', ' ').replace('Z', '+00'),
        state: JSON.stringify(row.state),
      };
      const envelope = {
        before: null,
        after,
        op: 'r',
        ts_ms: 1_700_000_000_000,
        source: { schema: 'public', table: 'user_app_state', snapshot: 'true', lsn: 1000 + id, commit_lsn: 1000 + id, ts_ms: 1_700_000_000_000 },
        transaction: null,
      };
      out.push({ topic, partition: 0, offset: BigInt(id), key: JSON.stringify({ id: String(id) }), value: JSON.stringify(envelope) });
    }
  }
  return out;
}
