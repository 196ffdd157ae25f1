/**
 * The one rule that turns table counts into PASS or FAIL, for `tandem reconcile` and the cutover's
 * verified gate alike. Quarantined rows are rows the target does not have: they count against the
 * threshold like missing rows, unless the operator accepts them (--accept-quarantined), which the
 * report records.
 */
export interface VerdictCounts {
  sourceCount: number;
  targetCount: number;
  missing: number;
  extra: number;
  mismatched: number;
  quarantined: number;
  /** Quarantined rows per kind of reason (quarantineKind). */
  quarantinedByReason: Record<string, number>;
}

export interface Verdict {
  verdict: 'PASS' | 'FAIL';
  /** (missing + extra + mismatched [+ quarantined]) / rows. */
  mismatchRatio: number;
  acceptQuarantined: boolean;
  quarantined: { total: number; byReason: Record<string, number> };
}

export function verdictOf(tables: VerdictCounts[], threshold: number, acceptQuarantined = false): Verdict {
  const rows = tables.reduce((sum, t) => sum + Math.max(t.sourceCount, t.targetCount), 0);
  const quarantined = tables.reduce((sum, t) => sum + t.quarantined, 0);
  const different = tables.reduce((sum, t) => sum + t.missing + t.extra + t.mismatched, 0);
  const bad = different + (acceptQuarantined ? 0 : quarantined);
  const mismatchRatio = rows === 0 ? 0 : bad / rows;
  const byReason: Record<string, number> = {};
  for (const table of tables)
    for (const [reason, count] of Object.entries(table.quarantinedByReason))
      byReason[reason] = (byReason[reason] ?? 0) + count;
  return {
    verdict: mismatchRatio <= threshold ? 'PASS' : 'FAIL',
    mismatchRatio,
    acceptQuarantined,
    quarantined: { total: quarantined, byReason },
  };
}

/** The kind of a quarantine reason: its text before the first ": " (the details vary per event). */
export function quarantineKind(reason: string): string {
  const head = reason.split(': ')[0].trim();
  return head.length > 120 ? `${head.slice(0, 119)}…` : head;
}

/** One line for people: the verdict, the ratio against the threshold, and what the quarantine holds. */
export function describeVerdict(report: Verdict & { threshold: number }): string {
  const percent = (ratio: number) => `${(Number(ratio) * 100).toFixed(4)} %`;
  const parts = [`${report.verdict}: mismatch ratio ${percent(report.mismatchRatio)} (threshold ${percent(report.threshold)})`];
  // reports stored before quarantined rows counted have no such field
  const { total, byReason } = report.quarantined ?? { total: 0, byReason: {} };
  if (total > 0) {
    const reasons = Object.entries(byReason)
      .sort((a, b) => b[1] - a[1])
      .map(([reason, count]) => `${count} ${reason}`)
      .join('; ');
    parts.push(
      `${total} row${total === 1 ? '' : 's'} quarantined (${reasons}), ${
        report.acceptQuarantined ? 'accepted with --accept-quarantined' : 'counted as differences'
      }`,
    );
  }
  return parts.join('; ');
}
