import { DIFFERENCE_KINDS, type DifferenceKind, type SchemaDiffResult, type SchemaPair } from './schema-diff';

/** One side of the comparison as reports show it: the URL without its password. */
export interface DatabaseInfo {
  url: string;
  database: string;
  serverVersion: string;
}

export interface SchemaDiffReport extends SchemaDiffResult {
  source: DatabaseInfo;
  target: DatabaseInfo;
  identical: boolean;
  total: number;
}

export function schemaDiffReport(result: SchemaDiffResult, source: DatabaseInfo, target: DatabaseInfo): SchemaDiffReport {
  return { source, target, ...result, identical: result.differences.length === 0, total: result.differences.length };
}

/** The JSON document `tandem schema-diff --json` prints (stable key order). */
export function renderJson(report: SchemaDiffReport): string {
  const document = {
    source: report.source,
    target: report.target,
    schemas: report.schemas,
    tablesCompared: report.tablesCompared,
    identical: report.identical,
    total: report.total,
    counts: report.counts,
    differences: report.differences,
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}

const label = (kind: DifferenceKind) => kind.replace(/_/g, ' ');
const schemaText = (pairs: SchemaPair[]) => pairs.map((p) => (p.source === p.target ? p.source : `${p.source}→${p.target}`)).join(', ') || '(none)';

/** Longest cell shown on a terminal; --json has every value whole. */
export const MAX_CELL = 72;

function cell(text: string | null): string {
  if (text === null) return '–';
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > MAX_CELL ? `${flat.slice(0, MAX_CELL - 1)}…` : flat;
}

/** A plain-text table for a terminal, then a one-line summary. */
export function renderTable(report: SchemaDiffReport): string {
  const lines = [
    `source: ${report.source.url} (PostgreSQL ${report.source.serverVersion})`,
    `target: ${report.target.url} (PostgreSQL ${report.target.serverVersion})`,
    `schemas: ${schemaText(report.schemas)}`,
    '',
  ];
  if (report.identical) {
    lines.push(`No differences: ${report.tablesCompared} table(s) compared.`);
    return `${lines.join('\n')}\n`;
  }
  const header = ['difference', 'table', 'column / index / constraint', 'source', 'target'];
  const rows = report.differences.map((d) => [
    label(d.kind),
    d.sourceTable !== null && d.sourceTable !== d.targetTable ? `${d.sourceTable} → ${d.targetTable}` : d.targetTable,
    cell(d.name),
    cell(d.source),
    cell(d.target),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (row: string[]) => row.map((value, i) => value.padEnd(widths[i])).join('  ').trimEnd();
  lines.push(line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line), '');
  const parts = DIFFERENCE_KINDS.filter((kind) => report.counts[kind] > 0).map((kind) => `${report.counts[kind]} ${label(kind)}`);
  lines.push(`${report.total} difference(s) in ${report.tablesCompared} table(s) compared: ${parts.join(', ')}.`);
  return `${lines.join('\n')}\n`;
}
