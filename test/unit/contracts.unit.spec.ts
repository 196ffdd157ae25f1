import { readFileSync } from 'fs';
import { join } from 'path';
import { TANDEM_VERSION } from '../../src/contracts/version';
import {
  captureNames,
  deadLetterTopic,
  importTopic,
  projectionGroup,
  sourceOfTopic,
  sourceTopic,
  tableTopic,
  transactionTopic,
} from '../../src/contracts/names';
import { caughtUp, recordsBehind } from '../../src/contracts/positions';
import { changeEnvelopeSchema, importChangeEvent } from '../../src/contracts/envelope';

describe('contracts', () => {
  it('carries the version of package.json', () => {
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
    expect(TANDEM_VERSION).toBe(pkg.version);
  });

  it('names topics and groups as the README documents them', () => {
    expect(tableTopic('legacy', 'public', 'users')).toBe('legacy.public.users');
    expect(sourceTopic('legacy', 'public.users')).toBe('legacy.public.users');
    expect(sourceOfTopic('legacy', 'legacy.public.users')).toBe('public.users');
    expect(transactionTopic('legacy')).toBe('legacy.transaction');
    expect(importTopic('legacy', 'nakamoto_users')).toBe('legacy.import.nakamoto_users');
    expect(deadLetterTopic('legacy', 'users')).toBe('legacy.dlq.users');
    expect(projectionGroup('legacy', 'users')).toBe('tandem-projection.legacy.users');
    expect(captureNames('legacy', 'tandem_slot')).toEqual({
      stateTopic: '__tandem_capture_state',
      stateKey: 'legacy/tandem_slot',
      stateGroup: 'tandem-capture-position.legacy.tandem_slot',
      transactionalId: 'tandem-capture.legacy.tandem_slot',
      heartbeatTopic: '__tandem_heartbeat.legacy',
    });
  });

  it('counts a reader caught up once it applied the record before the final commit marker', () => {
    expect(recordsBehind(0n, 102n, 100n)).toBe(0); // 101 is the marker
    expect(caughtUp(0n, 102n, 100n)).toBe(true);
    expect(recordsBehind(0n, 102n, 90n)).toBe(10);
    expect(caughtUp(0n, 102n, 99n)).toBe(false);
    expect(recordsBehind(5n, 102n, null)).toBe(97);
    expect(caughtUp(7n, 7n, null)).toBe(true); // nothing (left) in the partition
  });

  it('writes an imported record as a snapshot read with commit_lsn 0, which projectors accept', () => {
    const event = importChangeEvent('legacy', 'nakamoto_users', { email: 'a@b.co' }, 1_700_000_000_000);
    expect(JSON.stringify(event)).toBe(
      '{"before":null,"after":{"email":"a@b.co"},"source":{"version":"0.1.0","connector":"tandem-import","name":"legacy",' +
        '"ts_ms":1700000000000,"snapshot":"true","db":"import","sequence":null,"schema":"import","table":"nakamoto_users",' +
        '"txId":null,"lsn":null,"commit_lsn":0,"xmin":null},"op":"r","ts_ms":1700000000000,"transaction":null}',
    );
    expect(changeEnvelopeSchema.safeParse(event).success).toBe(true);
  });
});
