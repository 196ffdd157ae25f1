import { createHash } from 'crypto';
import type { TableColumnRules } from '../../connectors/postgres-source/column-policy';
import type { ComparisonSide, TableComparison } from '../../projections/framework/define-reconciliation';

const BLOCK = 64; // SHA-256's block size in bytes

/** The inner and outer HMAC-SHA256 pads of a key (RFC 2104), so the legacy side can hash with sha256() alone. */
export function hmacPads(key: Buffer): [Buffer, Buffer] {
  const k = Buffer.alloc(BLOCK);
  (key.length > BLOCK ? createHash('sha256').update(key).digest() : key).copy(k);
  return [Buffer.from(k.map((b) => b ^ 0x36)), Buffer.from(k.map((b) => b ^ 0x5c))];
}

/** SQL for the hex HMAC-SHA256 of an expression's text, the pads bound as $ipad and $opad (no pgcrypto needed). */
export function hmacSql(expression: string, ipad: string, opad: string): string {
  return `encode(sha256(${opad} || sha256(${ipad} || convert_to((${expression})::text, 'UTF8'))), 'hex')`;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const references = (expression: string, column: string) =>
  new RegExp(`(^|[^\\w$])"?${escapeRegExp(column)}"?($|[^\\w$])`).test(expression);
const isBare = (expression: string, column: string) =>
  new RegExp(`^\\s*"?${escapeRegExp(column)}"?\\s*$`).test(expression);

export interface RuledComparison {
  source: ComparisonSide;
  target: ComparisonSide;
  /** Bound values the source side's SQL refers to as $1, $2 (the HMAC pads). */
  sourceParams: unknown[];
  /** Columns left out of the comparison, with why. */
  notCompared: Array<{ column: string; reason: string }>;
}

/**
 * A comparison as capture's column rules allow it: a column whose source expression is a masked
 * column is compared masked (the legacy value hashed with the same key); a column computed from an
 * excluded or masked column cannot be compared, and is left out on both sides (and named).
 */
export function applyColumnRules(comparison: TableComparison, rules: TableColumnRules | null): RuledComparison {
  const ruled: RuledComparison = {
    source: comparison.source,
    target: comparison.target,
    sourceParams: [],
    notCompared: [],
  };
  if (!rules || (rules.exclude.size === 0 && rules.mask.size === 0)) return ruled;
  const pads = rules.key ? hmacPads(rules.key) : null;
  if (pads) ruled.sourceParams = pads;
  const rewrite = (expression: string): { expression: string } | { reason: string } => {
    for (const column of rules.exclude)
      if (references(expression, column)) return { reason: `${column} is excluded at capture` };
    for (const column of rules.mask) {
      if (!references(expression, column)) continue;
      if (!isBare(expression, column)) return { reason: `computed from ${column}, which capture masks` };
      return { expression: hmacSql(expression, '$1::bytea', '$2::bytea') };
    }
    return { expression };
  };
  const key = rewrite(comparison.source.key);
  if ('reason' in key)
    throw new Error(`comparison "${comparison.name}": its key cannot be compared (${key.reason})`);
  const sourceColumns: Record<string, string> = {};
  const targetColumns: Record<string, string> = {};
  for (const [name, expression] of Object.entries(comparison.source.columns)) {
    const result = rewrite(expression);
    if ('reason' in result) {
      ruled.notCompared.push({ column: name, reason: result.reason });
      continue;
    }
    sourceColumns[name] = result.expression;
    targetColumns[name] = comparison.target.columns[name];
  }
  ruled.source = { ...comparison.source, key: key.expression, columns: sourceColumns };
  ruled.target = { ...comparison.target, columns: targetColumns };
  return ruled;
}
