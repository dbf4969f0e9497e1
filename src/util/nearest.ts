/**
 * The names nearest to a misspelt one, for "did you mean …?": Levenshtein distance (one
 * insertion, deletion or substitution each), within about a third of the name's length (at
 * least 1, at most 5).
 */

/** The Levenshtein distance between two strings (by UTF-16 code unit). */
export function editDistance (a: string, b: string): number {
  if (a === b) return 0
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1)
      current[j] = Math.min(substitution, (previous[j] as number) + 1, (current[j - 1] as number) + 1)
    }
    previous = current
  }
  return previous[b.length] as number
}

/**
 * Up to `limit` candidates nearest to `name`, nearest first (then in alphabetical order), among
 * those at most a third of its length (at least 1, at most 5) edits away and at most one edit
 * farther than the nearest; none when nothing is that near.
 */
export function nearest (name: string, candidates: Iterable<string>, limit = 3): string[] {
  const within = Math.min(5, Math.max(1, Math.floor(name.length / 3)))
  const near = new Map<string, number>()
  for (const candidate of candidates) {
    if (candidate === name || near.has(candidate) || Math.abs(candidate.length - name.length) > within) continue
    const distance = editDistance(name, candidate)
    if (distance <= within) near.set(candidate, distance)
  }
  const best = Math.min(...near.values())
  // Only the nearest and the next nearest: names alike in their common parts (`users_…_key`) are not all meant.
  return [...near].filter(([, distance]) => distance <= best + 1)
    .sort(([a, da], [b, db]) => da - db || (a < b ? -1 : 1)).slice(0, limit).map(([candidate]) => candidate)
}
