/** Levenshtein distance between two strings (insertions, deletions, substitutions). */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j] + 1, current[j - 1] + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length];
}

/**
 * The known name closest to `name` (case differences count as half an edit, so `chunksize` finds
 * `chunkSize`), or null when none is close enough to be a plausible typo.
 */
export function closestName(name: string, known: readonly string[]): string | null {
  let best: { name: string; score: number } | null = null;
  for (const candidate of known) {
    const exact = editDistance(name, candidate);
    const folded = editDistance(name.toLowerCase(), candidate.toLowerCase());
    const score = Math.min(exact, folded + (exact - folded) / 2);
    if (!best || score < best.score) best = { name: candidate, score };
  }
  if (!best) return null;
  return best.score <= Math.max(2, Math.floor(best.name.length / 3)) ? best.name : null;
}
