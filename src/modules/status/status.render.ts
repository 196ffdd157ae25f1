import type { PipelineStatus } from './pipeline-status';

/** Longest reason shown on a terminal; --json has every value whole. */
const MAX_REASON = 90;

const dash = '–';
const num = (value: number | null, digits = 1) =>
  value === null ? dash : Number.isInteger(value) ? String(value) : value.toFixed(digits);

export function formatBytes(bytes: number | null): string {
  if (bytes === null) return dash;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Columns padded to their widest cell, two spaces apart. */
export function textTable(headers: string[], rows: string[][]): string[] {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}

/** `tandem status` on a terminal: the source slot, each projection, the last reconciliations and the cutover. */
export function renderStatus(status: PipelineStatus): string {
  const lines = [`Tandem status at ${status.readAt}`, ''];
  if (!status.kafka.reachable)
    lines.push(`KAFKA UNREACHABLE: ${status.kafka.error ?? 'no answer'} (capture rates and projection lags unknown)`, '');
  lines.push(
    ...textTable(
      ['SOURCE SLOT', 'PUBLICATION', 'STATE', 'LAG', 'LAG S', 'EVENTS/S', 'CONFIRMED LSN', 'RETAINED WAL'],
      status.source.map((s) => [
        s.slot,
        s.publication,
        s.state,
        formatBytes(s.lagBytes),
        num(s.lagSeconds),
        num(s.eventsPerSecond),
        s.confirmedFlushLsn ?? dash,
        formatBytes(s.retainedWalBytes),
      ]),
    ),
  );
  lines.push('');
  const reconciliations = new Map(status.lastReconciliations.map((r) => [r.projection, r]));
  if (status.projections.length === 0) lines.push('no projections configured');
  else
    lines.push(
      ...textTable(
        [
          'PROJECTION',
          'STATE',
          'LAG EVENTS',
          'LAG S',
          'EVENTS/S',
          'CHECKPOINT LSN',
          'QUARANTINED',
          'LAST RECONCILIATION',
        ],
        status.projections.map((p) => {
          const r = reconciliations.get(p.projection);
          return [
            p.projection,
            p.state,
            num(p.lagEvents),
            num(p.lagSeconds),
            num(p.eventsPerSecond),
            p.checkpointLsn ?? dash,
            String(p.quarantined),
            r
              ? `${r.verdict} #${r.id} (${(r.mismatchRatio * 100).toFixed(3)} % at ${r.sourceLsn}, ${r.finishedAt})`
              : dash,
          ];
        }),
      ),
    );
  for (const p of status.projections) {
    for (const q of p.newestQuarantineReasons) {
      const reason = q.reason.replace(/\s+/g, ' ');
      lines.push(
        `  ${p.projection} quarantine #${q.id} ${q.at}: ${reason.length > MAX_REASON ? `${reason.slice(0, MAX_REASON - 1)}…` : reason}`,
      );
    }
  }
  lines.push('');
  const backfills = status.backfills ?? [];
  if (backfills.length > 0) {
    lines.push(
      ...textTable(
        ['BACKFILL', 'TABLE', 'STATE', 'ROWS READ', 'CHUNKS DONE', 'CHUNKS LEFT', 'ROWS/S'],
        backfills.map((b) => [
          b.id,
          b.where === null ? b.table : `${b.table} where ${b.where}`,
          b.status,
          String(b.rowsRead),
          String(b.chunksDone),
          b.chunksLeft === null ? dash : String(b.chunksLeft),
          num(b.rowsPerSecond),
        ]),
      ),
      '',
    );
  }
  const c = status.cutover;
  lines.push(
    c
      ? `cutover #${c.id}: ${c.state} (operator ${c.operator}, ${c.updatedAt}${c.freezeLsn ? `, freeze LSN ${c.freezeLsn}` : ''})`
      : 'cutover: none recorded',
  );
  const f = status.failback;
  if (f) {
    lines.push(
      `failback of cutover #${f.cutoverId}: capture ${f.slot.active ? 'streaming' : 'NOT RUNNING'}` +
        `${f.slot.behindBytes === null ? '' : `, ${f.slot.behindBytes} bytes of target WAL unconfirmed`}; ${f.caughtUp ? 'caught up' : 'behind'}`,
      ...f.projections.map((p) => `  ${p.projection}: ${p.behindRecords} records to apply to legacy, ${p.quarantined} quarantined`),
    );
  }
  return `${lines.join('\n')}\n`;
}
