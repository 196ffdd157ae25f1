/** Text safe to place in HTML element content and in quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** One line of Markdown text: every character Markdown or a GFM table gives a meaning to is escaped. */
export function markdownText(value: unknown): string {
  return String(value)
    .replace(/\r\n|\r|\n/g, ' ')
    .replace(/[\\`*_{}[\]()#+\-.!|<>~&]/g, (c) => `\\${c}`);
}

/**
 * A Markdown code span holding the value verbatim: delimited by one backtick more than the longest
 * run inside it, padded so that a leading or trailing backtick stays content. Line breaks become
 * spaces. Not for GFM table cells (GFM splits cells on `|` even inside code spans): use markdownText.
 */
export function markdownCode(value: unknown): string {
  const text = String(value).replace(/\r\n|\r|\n/g, ' ');
  const longestRun = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longestRun + 1);
  const pad = longestRun > 0 || text.startsWith(' ') || text.endsWith(' ') ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}
