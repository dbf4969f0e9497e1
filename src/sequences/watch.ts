import type { Queryable } from '../catalog/catalog.js'
import type { Conflict } from '../core/describe.js'
import { checkRow, findSequenceRow, repairSequence, type SequenceCheck, type SequenceRepair, type SequenceRow } from './sequences.js'
import type { Deadline } from '../util/deadline.js'

export interface SequenceWatchOptions {
  /** The same column is checked again at most this often, ms. */
  interval: number
  /** The longest a repair waits for the table's lock, ms (at most what is left of the request's deadline). */
  lockTimeout: number
  onError: (error: unknown) => void
}

/** How many columns to remember; past that the memory starts again. */
const MAX_COLUMNS = 1000

interface Entry {
  at: number
  /** The column's sequence, with its names quoted by the server, once found. */
  row: SequenceRow | undefined
  /** The check under way or done. */
  result: Promise<SequenceCheck | undefined>
  /** No sequence fills the column: remembered for good, never checked again. */
  noSequence: boolean
  /** Whether `result` has settled, and to what: read without waiting. */
  settled: boolean
  check: SequenceCheck | undefined
}

const INTEGER = /^-?\d+$/

/**
 * Tells a conflict that is the server's fault, an id sequence behind its table (after COPY,
 * a restore or inserts with explicit ids), from a client's duplicate. Only a conflict on a
 * single-column key filled from a sequence can be one; its column is checked at most once per
 * `interval`; a conflict on an id at or above what that check saw handed out asks the sequence
 * alone what it has handed out since (`pg_sequence_last_value`, no table read).
 *
 * The rule (docs/security.md): the colliding id (DETAIL's) is the sequence's fault only if the
 * sequence handed it out, i.e. it is at or below the last value handed out, and either it is
 * that last value (a default insert just drew it: the exactly-one-behind case) or the sequence
 * is colliding now (its next value is taken). An id above what the sequence handed out is one the
 * client chose: a 409, whatever else is in the table. Without DETAIL (row-level security hides
 * it): the fault is the sequence colliding now.
 */
export class SequenceWatch {
  private readonly checks = new Map<string, Entry>()
  /** Repairs under way, by column: requests that meet the same fault wait for the one repair. */
  private readonly repairs = new Map<string, Promise<SequenceRepair | undefined>>()
  /** Columns the role cannot repair (`repairPrivileges`): no repair is tried there. */
  readonly unrepairable = new Set<string>()
  /** What each error (the driver's object) was judged to be. */
  private readonly verdicts = new WeakMap<object, SequenceCheck | undefined>()
  /** The last repair of each column repaired (no more entries than sequence columns): when it ended, and the last value the sequence had handed out before it. */
  private readonly repaired = new Map<string, { at: number, before: bigint }>()

  constructor (private readonly db: Queryable, private readonly options: SequenceWatchOptions) {}

  /**
   * The check of the conflict's column, with the colliding `value`, when the sequence caused it;
   * `undefined` otherwise (or when unknown within the deadline). Answered at once, without a
   * promise, when the last check is recent, done and enough to tell: the steady state, where
   * conflicts cost no wait.
   */
  colliding (conflict: Conflict, deadline: Deadline): SequenceCheck | undefined | Promise<SequenceCheck | undefined> {
    const { schema, table, columns } = conflict
    if (schema === undefined || table === undefined || columns.length !== 1) return undefined
    const column = columns[0] as string
    // The same error judged again (the route's handler judged it, then the error handler does):
    // the same answer, whatever time has passed since.
    const thrown = conflict.error.error
    if (this.verdicts.has(thrown)) return this.verdicts.get(thrown)
    const key = keyOf(schema, table, column)
    const arrived = performance.now()
    let entry = this.checks.get(key)
    if (entry?.noSequence === true) return undefined // known for good
    if (entry === undefined || arrived - entry.at >= this.options.interval) entry = this.check(key, { schema, table, column })
    const decided = this.judge(conflict, key, entry, arrived, deadline)
    if (!(decided instanceof Promise)) {
      this.verdicts.set(thrown, decided)
      return decided
    }
    return decided.then((verdict) => {
      this.verdicts.set(thrown, verdict)
      return verdict
    })
  }

  private judge (conflict: Conflict, key: string, entry: Entry, arrived: number, deadline: Deadline): SequenceCheck | undefined | Promise<SequenceCheck | undefined> {
    const raw = conflict.values?.[0]
    const value = raw !== undefined && INTEGER.test(raw) ? BigInt(raw) : undefined
    const judge = (found: Entry): SequenceCheck | undefined | Promise<SequenceCheck | undefined> => {
      const check = found.check
      if (check === undefined) return undefined
      const fault = { ...check, value: raw }
      // A conflict that arrived before a repair ended, on an id the sequence had handed out by then: the repair's fault,
      // though the sequence no longer collides (concurrent inserts that drew ids while it was behind).
      const repair = this.repaired.get(key)
      if (repair !== undefined && arrived < repair.at && (value === undefined || value <= repair.before)) return fault
      if (value === undefined) return check.collides ? fault : undefined // no DETAIL: the sequence colliding now is all there is
      const last = check.isCalled ? BigInt(check.lastValue) : null
      // A check begun after the conflict arrived saw all the sequence had handed out; below what an older one saw was handed out for sure.
      if (found.at >= arrived || (last !== null && value < last)) return verdict(check, value) ? fault : undefined
      // An older check, and an id at or above what it saw: the sequence and its next id as of now (index probes, no ids read).
      return deadline.within(this.recheck(found.row as SequenceRow))
        .then((now) => now !== undefined && verdict(now, value) ? { ...fault, lastValue: now.lastValue, isCalled: now.isCalled, collides: now.collides } : undefined)
    }
    // A repair under way: judged once it ended (or at the deadline), by what it found.
    const repairing = this.repairs.get(key)
    const ready = repairing === undefined ? undefined : deadline.within(repairing.then(() => {}, () => {}))
    if (ready === undefined && entry.settled) return judge(entry)
    return Promise.all([ready, deadline.within(entry.result)]).then(() => entry.settled ? judge(entry) : undefined)
  }

  /** The sequence's state as of now, without where a repair would move it; `undefined` when it could not be read. */
  private async recheck (row: SequenceRow): Promise<SequenceCheck | undefined> {
    try {
      return await checkRow(this.db, row, false)
    } catch (error) {
      this.options.onError(error)
      return undefined
    }
  }

  private check (key: string, target: { schema: string, table: string, column: string }): Entry {
    if (this.checks.size >= MAX_COLUMNS) this.checks.clear()
    const entry: Entry = { at: performance.now(), row: undefined, noSequence: false, settled: false, check: undefined, result: Promise.resolve(undefined) }
    entry.result = findSequenceRow(this.db, target).then(async (row) => {
      const check = row === undefined ? undefined : await checkRow(this.db, row)
      entry.row = row
      entry.noSequence = row === undefined
      entry.check = check
      entry.settled = true
      return check
    }).catch((error: unknown) => {
      this.options.onError(error) // checked again after the interval
      entry.settled = true
      return undefined
    })
    this.checks.set(key, entry)
    return entry
  }

  /**
   * Moves the sequence forward to the end of the ids packed above it (never backwards, never past
   * an outlier), or waits for the repair under way, within the deadline. `repair` is what the
   * call's own repair did (none when it joined another's); `done` is false when the repair was not
   * tried (the role lacks the grants), or had not ended by the deadline (`late`: it goes on alone).
   * Rejects when it failed.
   */
  async repair (check: SequenceCheck, deadline: Deadline): Promise<{ repair: SequenceRepair | undefined, done: boolean, late: boolean }> {
    // The sequence is past the id it handed out (a default insert just drew the last value it
    // gave): nothing to move, and no lock to take. Running the handler again is what helps.
    if (!check.behind && !check.collides) return { repair: undefined, done: true, late: false }
    const key = keyOf(check.schema, check.table, check.column)
    if (this.unrepairable.has(key)) return { repair: undefined, done: false, late: false }
    const running = this.repairs.get(key)
    if (running !== undefined) {
      const ended = await deadline.within(running.then(() => true))
      return { repair: undefined, done: ended === true, late: ended === undefined }
    }
    const lockTimeout = Math.max(1, Math.min(this.options.lockTimeout, Math.floor(deadline.remaining())))
    const repair = repairSequence(this.db, check, { lockTimeout }).then((done) => {
      if (done !== undefined) this.repaired.set(key, { at: performance.now(), before: BigInt(done.before) })
      return done
    }).finally(() => {
      this.repairs.delete(key)
      this.checks.delete(key) // checked afresh at the next conflict
    })
    this.repairs.set(key, repair)
    // A repair still waiting (for a connection) at the deadline goes on alone; the request does not wait for it.
    repair.catch(() => {})
    const ended = await deadline.within(repair.then((done) => ({ done })))
    return { repair: ended?.done, done: ended !== undefined, late: ended === undefined }
  }
}

function keyOf (schema: string, table: string, column: string): string {
  return `${schema}\u0000${table}\u0000${column}`
}

/**
 * Whether the sequence caused a unique violation on `id`, by a check made after the conflict: it
 * handed `id` out (at or below the last value it handed out), and either `id` is that last value
 * (a default insert just drew it) or the sequence collides (its next value is taken).
 */
function verdict (check: SequenceCheck, id: bigint): boolean {
  if (!check.isCalled) return false
  const last = BigInt(check.lastValue)
  if (id > last) return false // never handed out: the client chose it
  return id === last || check.collides
}
