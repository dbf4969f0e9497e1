/** What became of conflicts that could be retried, for one constraint. */
export interface ConflictCount {
  /** Attempts started again after a conflict. */
  retried: number
  /** Conflicts after which a later attempt succeeded. */
  recovered: number
  /** Conflicts still there after the last attempt allowed. */
  gaveUp: number
}

/** The kinds of conflict retried: unique violations, and serialization failures and deadlocks (40001, 40P01; `withTransaction` only). */
export type RetriedKind = 'unique' | 'serialization'

/**
 * Where the retry loops count what became of a conflict: `ConflictCounters`, or (inside the
 * plugin) one that also feeds OpenTelemetry. `constraint` is `undefined` for a conflict without a
 * constraint name.
 */
export interface RetryCounting {
  retried: (constraint: string | undefined, kind: RetriedKind) => void
  recovered: (constraint: string | undefined, kind: RetriedKind) => void
  gaveUp: (constraint: string | undefined, kind: RetriedKind) => void
}

/** Retry counters per constraint (`(none)` for a conflict without a constraint name, such as 40001). */
export class ConflictCounters implements RetryCounting {
  private readonly counts = new Map<string, ConflictCount>()

  private entry (constraint: string | undefined): ConflictCount {
    const key = constraint ?? '(none)'
    let count = this.counts.get(key)
    if (count === undefined) {
      count = { retried: 0, recovered: 0, gaveUp: 0 }
      this.counts.set(key, count)
    }
    return count
  }

  retried (constraint: string | undefined): void { this.entry(constraint).retried++ }
  recovered (constraint: string | undefined): void { this.entry(constraint).recovered++ }
  gaveUp (constraint: string | undefined): void { this.entry(constraint).gaveUp++ }

  /** A copy of the counts, by constraint. */
  snapshot (): Record<string, ConflictCount> {
    const copy: Record<string, ConflictCount> = Object.create(null)
    for (const [constraint, count] of this.counts) copy[constraint] = { ...count }
    return copy
  }
}
