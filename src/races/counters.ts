/** What became of conflicts that could be retried, for one constraint. */
export interface ConflictCount {
  /** Attempts started again after a conflict. */
  retried: number
  /** Conflicts after which a later attempt succeeded. */
  recovered: number
  /** Conflicts still there after the last attempt allowed. */
  gaveUp: number
}

/** Retry counters per constraint (`(none)` for a conflict without a constraint name, such as 40001). */
export class ConflictCounters {
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
