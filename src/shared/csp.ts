import { createHash } from 'crypto';

/** The CSP source expression allowing exactly this inline <script> or <style> content. */
export function cspHash(content: string): string {
  return `'sha256-${createHash('sha256').update(content, 'utf8').digest('base64')}'`;
}

/** The text between the first <tag> and its </tag> in a page (what a CSP hash is computed over). */
export function inlineContent(html: string, tag: 'script' | 'style'): string {
  const match = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(html);
  if (!match) throw new Error(`no inline <${tag}> in the page`);
  return match[1];
}
