import { createHash } from 'crypto';
import {
  REPORT_CONTENT_SECURITY_POLICY,
  renderHtml,
  renderMarkdown,
  type ReconciliationReport,
} from '../../src/modules/reconciliation/reconciliation-report';
import { markdownCode, markdownText } from '../../src/shared/escape';

const ATTACK = '<img src=x onerror=alert(1)>';

/** A report as it may come back from tandem.reconciliation_report (jsonb): any field may hold anything. */
function hostileReport(): ReconciliationReport {
  const anything = (value: string) => value as unknown as number;
  return {
    id: 7,
    projection: 'users',
    startedAt: `2026-01-01${ATTACK}`,
    finishedAt: '2026-01-01',
    sourceLsn: `0/1${ATTACK}`,
    threshold: 0,
    mismatchRatio: 0,
    verdict: `PASS"><script>alert(2)</script>` as 'PASS',
    acceptQuarantined: false,
    quarantined: { total: anything(`2${ATTACK}`), byReason: { [`reason${ATTACK}`]: anything(`2${ATTACK}`) } },
    tables: [
      {
        table: `users${ATTACK}`,
        sourceCount: anything(`1${ATTACK}`),
        targetCount: 1,
        matched: anything(`<b>1</b>`),
        missing: 0,
        extra: 0,
        mismatched: anything(`1<svg onload=alert(3)>`),
        quarantined: 0,
        quarantinedByReason: {},
        sample: [
          {
            kind: `mismatched${ATTACK}` as 'mismatched',
            key: '{"id":"a`b|c"}',
            columns: { [`email${ATTACK}`]: [`x\`y|z`, ATTACK] },
          } as never,
        ],
        quarantinedSample: [{ key: 'k|`', reason: `bad | row\n# heading ${ATTACK}` }],
        bucketsCompared: 0,
        scans: 0,
        rowsFetched: 0,
        reverifyRounds: 0,
        compareMs: 0,
        reverifyMs: 0,
      },
    ],
  };
}

describe('reconciliation report rendering', () => {
  it('HTML: every interpolated value is escaped (no element, attribute or script can be injected)', () => {
    const html = renderHtml(hostileReport());
    expect(html).not.toMatch(/<img|<script|<svg onload|<b>|onerror=alert\(1\)>/);
    expect(html).toContain('&#60;img src=x onerror=alert(1)&#62;');
    expect(html).toContain('<span class="FAIL">PASS&#34;&#62;&#60;script&#62;');
    // Only the report's own tags remain.
    const tags = new Set([...html.matchAll(/<([a-z0-9!]+)/gi)].map((m) => m[1].toLowerCase()));
    const own = ['!doctype', 'body', 'code', 'h1', 'h2', 'head', 'html', 'li', 'meta', 'p', 'rect', 'span', 'style', 'svg', 'table', 'td', 'text', 'th', 'title', 'tr', 'ul'];
    expect([...tags].filter((tag) => !own.includes(tag))).toEqual([]);
  });

  it('HTML: has no style attribute, and its one style sheet is the one the CSP allows by hash', () => {
    const html = renderHtml(hostileReport());
    expect(html).not.toMatch(/\sstyle=/);
    const sheet = /<style>([\s\S]*?)<\/style>/.exec(html)![1];
    const hash = createHash('sha256').update(sheet).digest('base64');
    expect(REPORT_CONTENT_SECURITY_POLICY).toContain(`style-src 'sha256-${hash}'`);
    expect(REPORT_CONTENT_SECURITY_POLICY).toMatch(/^default-src 'none'/);
    expect(REPORT_CONTENT_SECURITY_POLICY).not.toContain('unsafe-inline');
  });

  it('Markdown: a backtick, pipe or line break in a value neither breaks out of its code span nor adds a table cell or heading', () => {
    const markdown = renderMarkdown(hostileReport());
    const lines = markdown.split('\n');
    const header = lines.find((line) => line.startsWith('| table'))!;
    const row = lines[lines.indexOf(header) + 2];
    const cells = (line: string) => line.replace(/\\\|/g, '').split('|').length;
    expect(cells(row)).toBe(cells(header));
    expect(lines.filter((line) => line.startsWith('#'))).toHaveLength(2);
    expect(markdown).toContain('``{"id":"a`b|c"}``'.replace('``{', '`` {').replace('}``', '} ``'));
    expect(markdown).toContain(`bad \\| row \\# heading \\<img src=x onerror=alert\\(1\\)\\>`);
    // Raw HTML stays only inside code spans, where Markdown shows it as text.
    const outsideCode = markdown.replace(/(`+) [^\n]*? \1|`[^`\n]*`/g, '');
    expect(outsideCode).not.toMatch(/(^|[^\\])</);
  });

  it('markdownCode fences a value with one backtick more than its longest run', () => {
    expect(markdownCode('plain')).toBe('`plain`');
    expect(markdownCode('a`b')).toBe('`` a`b ``');
    expect(markdownCode('``x')).toBe('``` ``x ```');
    expect(markdownCode('a\nb')).toBe('`a b`');
    expect(markdownText('a|b*c_[d](e)')).toBe('a\\|b\\*c\\_\\[d\\]\\(e\\)');
  });
});
