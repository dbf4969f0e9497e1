import type { Queryable } from '../catalog/catalog.js'
import type { Conflict } from '../core/describe.js'
import { checkSequence, repairSequence, type SequenceCheck } from './sequences.js'
import { within } from '../util/within.js'

export interface SequenceWatchOptions {
  /** The same column is checked again at most this often, ms. */
  interval: number
  /** The longest a request waits for a check, ms; then it is answered as a conflict. */
  timeout: number
  onError: (error: unknown) => void
}

/** How many columns to remember; past that the memory starts again. */
const MAX_COLUMNS = 1000

interface Entry {
  at: number
  /** The check under way or done. */
  result: Promise<SequenceCheck | undefined>
  /** No sequence fills the column: remembered for good, never checked again. */
  noSequence: boolean
  /** Whether `result` has settled, and to what: read without waiting. */
  settled: boolean
  check: SequenceCheck | undefined
}

/**
 * Tells a conflict that is the server's fault, an id sequence behind its table (after COPY,
 * a restore or inserts with explicit ids), from a client's duplicate: the sequence's next value
 * is in the column already, so default inserts collide. Only a conflict on a single-column key
 * can be one; its column is checked at most once per `interval`.
 */
export class SequenceWatch {
  private readonly checks = new Map<string, Entry>()
  /** Repairs under way, by column: requests that meet the same fault wait for the one repair. */
  private readonly repairs = new Map<string, Promise<boolean>>()

  constructor (private readonly db: Queryable, private readonly options: SequenceWatchOptions) {}

  /**
   * The check of the conflict's column when its sequence's next value collides; `undefined`
   * otherwise (or when unknown in time). Answered at once, without a promise, when the last check
   * is recent and done: the steady state, where conflicts cost no wait.
   */
  colliding (conflict: Conflict): SequenceCheck | undefined | Promise<SequenceCheck | undefined> {
    const { schema, table, columns } = conflict
    if (schema === undefined || table === undefined || columns.length !== 1) return undefined
    const column = columns[0] as string
    const key = `${schema}\u0000${table}\u0000${column}`
    let entry = this.checks.get(key)
    if (entry?.noSequence === true) return undefined // known for good
    if (entry === undefined || performance.now() - entry.at >= this.options.interval) {
      entry = this.check(key, { schema, table, column })
    }
    if (entry.settled) return collides(entry.check)
    return within(entry.result, this.options.timeout).then(collides)
  }

  private check (key: string, target: { schema: string, table: string, column: string }): Entry {
    if (this.checks.size >= MAX_COLUMNS) this.checks.clear()
    const entry: Entry = { at: performance.now(), noSequence: false, settled: false, check: undefined, result: Promise.resolve(undefined) }
    entry.result = checkSequence(this.db, target).then((check) => {
      entry.noSequence = check === undefined
      entry.check = check
      entry.settled = true
      return check
    }, (error: unknown) => {
      this.options.onError(error) // checked again after the interval
      entry.settled = true
      return undefined
    })
    this.checks.set(key, entry)
    return entry
  }

  /**
   * Moves the sequence past the table's maximum (never backwards), or waits for the repair under
   * way. `moved` is true for the one call whose repair moved it. Rejects when the repair fails.
   */
  async repair (check: SequenceCheck): Promise<{ moved: boolean }> {
    const key = `${check.schema}\u0000${check.table}\u0000${check.column}`
    const running = this.repairs.get(key)
    if (running !== undefined) {
      await running
      return { moved: false }
    }
    const repair = repairSequence(this.db, check).then((done) => done?.moved === true).finally(() => {
      this.repairs.delete(key)
      this.checks.delete(key) // checked afresh at the next conflict
    })
    this.repairs.set(key, repair)
    return { moved: await repair }
  }
}

function collides (check: SequenceCheck | undefined): SequenceCheck | undefined {
  return check?.collides === true ? check : undefined
}
