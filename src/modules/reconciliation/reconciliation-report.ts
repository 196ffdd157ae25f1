import { cspHash } from '../../shared/csp';
import { escapeHtml, markdownCode, markdownText } from '../../shared/escape';
import type { Difference } from './bucket-comparison';
import { describeVerdict, type Verdict } from './verdict';

export interface TableReport {
  table: string;
  sourceCount: number;
  targetCount: number;
  matched: number;
  missing: number;
  extra: number;
  mismatched: number;
  quarantined: number;
  /** Quarantined rows per kind of reason (verdict.ts, quarantineKind). */
  quarantinedByReason: Record<string, number>;
  /** A sample of the differences, mismatched rows with their column-level diffs. */
  sample: Difference[];
  quarantinedSample: Array<{ key: string; reason: string }>;
  /** Key-hash bucket summaries compared, scans of each side's rows, rows fetched from both sides. */
  bucketsCompared: number;
  scans: number;
  rowsFetched: number;
  /** Re-checks by key of the differences found (each one lookup per side). */
  reverifyRounds: number;
  /** Wall time of the comparison, and of the re-checks after it (waits included). */
  compareMs: number;
  reverifyMs: number;
  /** Columns not compared because capture excludes or masks what they are computed from (source.columns). */
  notCompared?: Array<{ column: string; reason: string }>;
}

export interface ReconciliationReport extends Verdict {
  id: number | null;
  projection: string;
  /** forward: legacy → target (counts: source = legacy); failback: target → legacy (source = target). */
  direction?: 'forward' | 'failback';
  startedAt: string;
  finishedAt: string;
  /** The origin side's LSN the comparison is valid at (taken before it started): legacy's, or the target's in failback. */
  sourceLsn: string;
  threshold: number;
  tables: TableReport[];
  /** What was compared (incremental-verify.ts, specFingerprint): a later verification builds only on the same specs. */
  specFingerprint?: string;
  /** Per "topic#partition", the last offset the projection had applied when this full comparison began. */
  checkpoints?: Record<string, string>;
  /** Only the rows changed since that clean full reconciliation were compared (counts cover those rows). */
  verifiedSince?: { reconciliationId: number; changedKeys: number };
}

export function renderMarkdown(report: ReconciliationReport): string {
  const lines = [
    `# Reconciliation of ${markdownCode(report.projection)}${report.direction === 'failback' ? ' (failback: target → legacy)' : ''}: ${markdownText(report.verdict)}`,
    '',
    `Valid at ${report.direction === 'failback' ? 'target' : 'source'} LSN ${markdownCode(report.sourceLsn)}, ${markdownText(report.startedAt)} → ${markdownText(report.finishedAt)}. ${markdownText(describeVerdict(report))}.`,
    '',
    '| table | source | target | matched | missing | extra | mismatched | quarantined |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...report.tables.map(
      (t) =>
        `| ${[t.table, t.sourceCount, t.targetCount, t.matched, t.missing, t.extra, t.mismatched, t.quarantined].map(markdownText).join(' | ')} |`,
    ),
  ];
  for (const table of report.tables) {
    if (table.sample.length === 0 && table.quarantinedSample.length === 0) continue;
    lines.push('', `## ${markdownText(table.table)}`, '');
    for (const difference of table.sample) {
      const columns = difference.columns
        ? `: ${Object.entries(difference.columns)
            .map(([column, [source, target]]) => `${markdownText(column)} ${markdownCode(source)} → ${markdownCode(target)}`)
            .join(', ')}`
        : '';
      lines.push(`- ${markdownText(difference.kind)} ${markdownCode(difference.key)}${columns}`);
    }
    for (const entry of table.quarantinedSample)
      lines.push(`- quarantined ${markdownCode(entry.key)}: ${markdownText(entry.reason)}`);
  }
  for (const table of report.tables) {
    for (const { column, reason } of table.notCompared ?? [])
      lines.push('', `${markdownText(table.table)}.${markdownText(column)} not compared: ${markdownText(reason)}`);
  }
  return `${lines.join('\n')}\n`;
}

const OUTCOME_COLORS = {
  matched: '#2e7d32',
  missing: '#c62828',
  extra: '#ef6c00',
  mismatched: '#6a1b9a',
  quarantined: '#546e7a',
} as const;

/** The report page's only style sheet (no style attributes: the CSP allows this sheet by its hash). */
const REPORT_STYLE =
  'body{font-family:system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}.PASS{color:#2e7d32}.FAIL{color:#c62828}.key{display:inline-block;margin-right:12px}.swatch{display:inline-block;width:10px;height:10px}' +
  Object.entries(OUTCOME_COLORS)
    .map(([kind, color]) => `.swatch.${kind}{background:${color}}`)
    .join('');

/** CSP source allowing the report's style sheet (the status page opens reports as blob: pages under its own CSP). */
export const REPORT_STYLE_HASH = cspHash(REPORT_STYLE);

/** The Content-Security-Policy a report page is served with: no script, no request, only its own style sheet. */
export const REPORT_CONTENT_SECURITY_POLICY = `default-src 'none'; style-src ${REPORT_STYLE_HASH}; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`;

/** A self-contained page (no external assets) with a stacked bar per table. */
export function renderHtml(report: ReconciliationReport): string {
  const width = 860;
  const barWidth = 470;
  const bars = report.tables
    .map((t, i) => {
      let x = 160;
      const segments = segmentWidths(t, barWidth)
        .map(({ kind, width: w }) => {
          const rect = `<rect x="${x.toFixed(1)}" y="${i * 34 + 8}" width="${w.toFixed(1)}" height="22" fill="${OUTCOME_COLORS[kind]}"><title>${kind}: ${escapeHtml(t[kind])}</title></rect>`;
          x += w;
          return rect;
        })
        .join('');
      return `<text x="0" y="${i * 34 + 24}" font-size="13">${escapeHtml(t.table)}</text>${segments}<text x="${160 + barWidth + 8}" y="${i * 34 + 24}" font-size="12" fill="${differencesOf(t) > 0 ? OUTCOME_COLORS.missing : OUTCOME_COLORS.matched}">${escapeHtml(barLabel(t))}</text>`;
    })
    .join('');
  const legend = Object.keys(OUTCOME_COLORS)
    .map((kind) => `<span class="key"><span class="swatch ${kind}"></span> ${kind}</span>`)
    .join('');
  const rows = report.tables
    .map(
      (t) =>
        `<tr><td>${escapeHtml(t.table)}</td>${[t.sourceCount, t.targetCount, t.matched, t.missing, t.extra, t.mismatched, t.quarantined].map((n) => `<td>${escapeHtml(n)}</td>`).join('')}</tr>`,
    )
    .join('');
  const details = report.tables
    .flatMap((t) => [
      ...t.sample.map(
        (d) =>
          `<li>${escapeHtml(t.table)}: ${escapeHtml(d.kind)} <code>${escapeHtml(d.key)}</code>${
            d.columns
              ? ` ${Object.entries(d.columns)
                  .map(
                    ([c, [a, b]]) =>
                      `${escapeHtml(c)}: <code>${escapeHtml(a)}</code> → <code>${escapeHtml(b)}</code>`,
                  )
                  .join(', ')}`
              : ''
          }</li>`,
      ),
      ...t.quarantinedSample.map(
        (q) =>
          `<li>${escapeHtml(t.table)}: quarantined <code>${escapeHtml(q.key)}</code>: ${escapeHtml(q.reason)}</li>`,
      ),
      ...(t.notCompared ?? []).map(
        (n) => `<li>${escapeHtml(t.table)}.${escapeHtml(n.column)} not compared: ${escapeHtml(n.reason)}</li>`,
      ),
    ])
    .join('');
  const verdictClass = report.verdict === 'PASS' ? 'PASS' : 'FAIL';
  return `<!doctype html><html><head><meta charset="utf-8"><title>Reconciliation ${escapeHtml(report.projection)}: ${escapeHtml(report.verdict)}</title>
<style>${REPORT_STYLE}</style></head>
<body><h1>Reconciliation of <code>${escapeHtml(report.projection)}</code>: <span class="${verdictClass}">${escapeHtml(report.verdict)}</span></h1>
<p>Valid at source LSN <code>${escapeHtml(report.sourceLsn)}</code>; ${escapeHtml(report.startedAt)} → ${escapeHtml(report.finishedAt)}. ${escapeHtml(describeVerdict(report))}.</p>
<svg width="${width}" height="${report.tables.length * 34 + 10}" role="img" aria-label="rows per table by outcome">${bars}</svg><p>${legend}</p>
<table><tr><th>table</th><th>source</th><th>target</th><th>matched</th><th>missing</th><th>extra</th><th>mismatched</th><th>quarantined</th></tr>${rows}</table>
${details ? `<h2>Differences (sample)</h2><ul>${details}</ul>` : ''}</body></html>
`;
}

const OUTCOMES = ['matched', 'missing', 'extra', 'mismatched', 'quarantined'] as const;
/** A difference is drawn at least this wide, so 5 differences among 100,000 rows still show. */
const MIN_SEGMENT = 8;

/** A count as a number: a stored report (jsonb) may hold anything. */
const count = (value: unknown) => Number(value) || 0;
const differencesOf = (t: TableReport) => count(t.missing) + count(t.extra) + count(t.mismatched) + count(t.quarantined);

function barLabel(t: TableReport): string {
  const counts = OUTCOMES.slice(1)
    .filter((kind) => count(t[kind]) > 0)
    .map((kind) => `${t[kind]} ${kind}`);
  return counts.length === 0 ? `all ${t.matched} rows match` : counts.join(', ');
}

/** Each outcome's share of the bar; every non-zero difference gets at least MIN_SEGMENT pixels. */
export function segmentWidths(
  t: TableReport,
  barWidth: number,
): Array<{ kind: (typeof OUTCOMES)[number]; width: number }> {
  const total = Math.max(count(t.matched) + differencesOf(t), 1);
  const widths = OUTCOMES.map((kind) => ({ kind, width: (count(t[kind]) / total) * barWidth }));
  for (const segment of widths)
    if (segment.kind !== 'matched' && count(t[segment.kind]) > 0) segment.width = Math.max(segment.width, MIN_SEGMENT);
  const others = widths.filter((s) => s.kind !== 'matched').reduce((sum, s) => sum + s.width, 0);
  widths[0].width = count(t.matched) > 0 ? Math.max(barWidth - others, 0) : 0;
  return widths.filter((segment) => segment.width > 0);
}
