import { describeVerdict, quarantineKind, verdictOf } from '../../src/modules/reconciliation/verdict';
import { renderHtml, segmentWidths, type ReconciliationReport, type TableReport } from '../../src/modules/reconciliation/reconciliation-report';

const table = (over: Partial<TableReport> = {}): TableReport => ({
  table: 'messages',
  sourceCount: 1555,
  targetCount: 1333,
  matched: 1333,
  missing: 0,
  extra: 0,
  mismatched: 0,
  quarantined: 222,
  quarantinedByReason: { 'rejected by the target database (table messages, constraint messages_conversation_fk)': 222 },
  sample: [],
  quarantinedSample: [],
  bucketsCompared: 1024,
  scans: 2,
  rowsFetched: 0,
  reverifyRounds: 0,
  compareMs: 1,
  reverifyMs: 0,
  ...over,
});

describe('reconciliation verdict', () => {
  it('counts quarantined rows as differences: 222 of 1,555 messages quarantined is a FAIL', () => {
    const verdict = verdictOf([table()], 0.001);
    expect(verdict).toMatchObject({ verdict: 'FAIL', acceptQuarantined: false, quarantined: { total: 222 } });
    expect(verdict.mismatchRatio).toBeCloseTo(222 / 1555);
    expect(describeVerdict({ ...verdict, threshold: 0.001 })).toBe(
      'FAIL: mismatch ratio 14.2765 % (threshold 0.1000 %); 222 rows quarantined (222 rejected by the target database (table messages, constraint messages_conversation_fk)), counted as differences',
    );
  });

  it('passes quarantined rows only when the operator accepts them, and says so', () => {
    const verdict = verdictOf([table()], 0.001, true);
    expect(verdict).toMatchObject({ verdict: 'PASS', mismatchRatio: 0, acceptQuarantined: true });
    expect(describeVerdict({ ...verdict, threshold: 0.001 })).toContain('222 rows quarantined');
    expect(describeVerdict({ ...verdict, threshold: 0.001 })).toContain('accepted with --accept-quarantined');
    // accepting quarantine accepts nothing else
    expect(verdictOf([table({ missing: 5 })], 0, true).verdict).toBe('FAIL');
  });

  it('sums reasons over tables by kind', () => {
    const a = table({ quarantinedByReason: { 'invalid public.users row': 2, x: 1 }, quarantined: 3 });
    const b = table({ quarantinedByReason: { 'invalid public.users row': 4 }, quarantined: 4 });
    expect(verdictOf([a, b], 1).quarantined).toEqual({ total: 7, byReason: { 'invalid public.users row': 6, x: 1 } });
    expect(quarantineKind('invalid public.auth_users row: email: invalid e-mail address')).toBe('invalid public.auth_users row');
  });
});

describe('reconciliation chart', () => {
  it('draws 5 differences among 100,000 rows wide enough to see, and labels the bar', () => {
    const t = table({ sourceCount: 100_000, targetCount: 99_998, matched: 99_995, missing: 2, extra: 0, mismatched: 3, quarantined: 0, quarantinedByReason: {} });
    const widths = Object.fromEntries(segmentWidths(t, 470).map((s) => [s.kind, s.width]));
    expect(widths.missing).toBeGreaterThanOrEqual(8);
    expect(widths.mismatched).toBeGreaterThanOrEqual(8);
    expect(widths.matched + widths.missing + widths.mismatched).toBeCloseTo(470);
    const report: ReconciliationReport = {
      id: 1,
      projection: 'chat',
      startedAt: 'a',
      finishedAt: 'b',
      sourceLsn: '0/1',
      threshold: 0,
      ...verdictOf([t], 0),
      tables: [t],
    };
    const html = renderHtml(report);
    expect(html).toMatch(/<rect [^>]*width="8\.0"[^>]*fill="#c62828"><title>missing: 2<\/title>/);
    expect(html).toContain('2 missing, 3 mismatched');
  });
});
