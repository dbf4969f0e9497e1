/**
 * `withTransaction`: run a function in a transaction, and run it again when it loses a race that
 * a second attempt can win (a unique violation on a constraint you name, a serialization failure,
 * a deadlock), within the bounds of a retry policy.
 *
 * Without `pg` at run time: anything shaped like node-postgres's pool or client will do, and the
 * types below are structural, so neither `pg` nor `@types/pg` is needed to compile against them.
 */
import createError, { type FastifyErrorConstructor } from '@fastify/error'
import type { RetriedKind, RetryCounting } from './counters.js'
import { InvalidOptionError } from '../util/errors.js'
import { citusShard } from '../core/dialects.js'
import { findPgError, integrityKind } from '../core/recognise.js'
import { backoffDelay, mayRetry, retryPolicy, sleep, type RetryOptions, type RetryPolicy } from './retry.js'
import { matcher } from '../core/rules.js'

/** A connection `withTransaction` can run statements on: a `pg.Client`, a `pg.PoolClient`, or alike. */
export interface TransactionClient {
  query: (text: string) => Promise<unknown>
  /** `'I'` idle, `'T'` in a transaction, `'E'` in a failed one (node-postgres 8.12 and later). */
  getTransactionStatus?: () => string | null
}

/** A client checked out of a pool, which goes back with `release()` (`release(error)` destroys it). */
export interface PooledTransactionClient extends TransactionClient {
  release: (error?: Error | boolean) => void
}

/**
 * A pooled client as applications use node-postgres's `pg.PoolClient`: `query(text, values)`
 * resolving to `{ rows, rowCount }`. What `app.pgConflict.withTransaction` hands its function
 * unless the function's parameter says otherwise (`async (client: pg.PoolClient) => …`); written
 * out here so that neither `pg` nor `@types/pg` is needed to compile against it.
 */
export interface QueryClient extends PooledTransactionClient {
  query<R extends Record<string, any> = any> (text: string, values?: readonly unknown[]): Promise<QueryResultLike<R>>
}

/** What node-postgres's `query()` resolves to, in the parts applications read. */
export interface QueryResultLike<R> {
  rows: R[]
  rowCount: number | null
  command: string
}

/** node-postgres's `pg.Pool` (and any pool built on `pg-pool`): `connect()` has a callback overload too. */
export interface TransactionPool<C extends PooledTransactionClient> {
  connect (): Promise<C>
  connect (callback: (...args: any[]) => void): void
  readonly totalCount: number
}

/** A pool with only the promise form of `connect()`. `totalCount` is what tells a pool from a client. */
export interface SimpleTransactionPool<C extends PooledTransactionClient> {
  connect (): Promise<C>
  readonly totalCount: number
}

export type IsolationLevel = 'read committed' | 'repeatable read' | 'serializable'

export interface TransactionOptions extends RetryOptions {
  /**
   * Unique violations (`23505`) worth another attempt: on these constraints (names, or patterns),
   * or on any constraint with `true`. Default: none. Serialization failures (`40001`) and
   * deadlocks (`40P01`) are retried always, in a transaction `withTransaction` began.
   */
  retryOn?: Array<string | RegExp> | true
  /** `BEGIN ISOLATION LEVEL …`. Inside a transaction already begun, the level it has must be this one. */
  isolationLevel?: IsolationLevel
  /** Where to count the conflicts retried, recovered from and given up on, per constraint: a `ConflictCounters`. */
  counters?: RetryCounting
}

/** `COMMIT` answered `ROLLBACK`, or a savepoint could not be released: the function swallowed an error. */
export const RolledBackError: FastifyErrorConstructor<{ code: string }, [string, { cause: unknown }?]> = createError<[string, { cause: unknown }?]>('PG_CONFLICT_ROLLED_BACK', 'fastify-pg-conflict: %s', 500)

/** The client's transaction had failed before `withTransaction` was called: nothing can run in it. */
export const FailedTransactionError: FastifyErrorConstructor<{ code: string }, [string, { cause: unknown }?]> = createError<[string, { cause: unknown }?]>('PG_CONFLICT_FAILED_TRANSACTION', 'fastify-pg-conflict: %s', 500)

const SERIALIZATION_FAILURE = '40001'
const DEADLOCK_DETECTED = '40P01'
/** `SAVEPOINT` outside a transaction block. */
const NO_ACTIVE_TRANSACTION = '25P01'
/** Any statement but `ROLLBACK` in a transaction that failed. */
const IN_FAILED_TRANSACTION = '25P02'

const WHERE = 'withTransaction options'
const KNOWN_OPTIONS = ['attempts', 'backoff', 'maxTime', 'retryOn', 'isolationLevel', 'counters']
const ISOLATION_LEVELS: readonly string[] = ['read committed', 'repeatable read', 'serializable'] satisfies IsolationLevel[]

interface Settings {
  policy: RetryPolicy
  retryOn: (constraint: string | undefined) => boolean
  isolationLevel: IsolationLevel | undefined
  begin: string
  counters: TransactionOptions['counters']
}

/** Carries an error after which no attempt may follow, whatever the error: the connection is gone, or the function swallowed an error. */
class Stop {
  constructor (readonly error: unknown) {}
}

/**
 * Runs `fn` in a transaction and gives back what it returns; runs it again (a new transaction, or
 * back at a savepoint) on the conflicts `options` names, within `attempts` and `maxTime`. Any
 * other error, and the last conflict, are thrown as they were.
 *
 * - `db` a pool (`pg.Pool`, or `fastify.pg` of `@fastify/postgres`: a `connect()` and a numeric
 *   `totalCount`, or such a pool on `.pool`): each attempt checks a client out, `BEGIN`s, runs
 *   `fn`, `COMMIT`s, and releases the client **without** an error after a `ROLLBACK`, so the
 *   connection is kept (only a client whose `ROLLBACK` failed is released with the error, so the
 *   pool drops it).
 * - `db` a connected client (anything else with `query()`): in a transaction already, each attempt
 *   runs between `SAVEPOINT` and `RELEASE SAVEPOINT`, and a failed one goes back to the savepoint, so
 *   the enclosing transaction keeps its work; only listed unique violations are retried there
 *   (a serialization failure or a deadlock is the whole transaction's: it is thrown to its owner).
 *   Outside a transaction, `BEGIN` and `COMMIT` on that client.
 */
export async function withTransaction<T, C extends PooledTransactionClient = PooledTransactionClient> (
  db: TransactionPool<C> | { pool: TransactionPool<C> }, fn: (client: C) => Promise<T>, options?: TransactionOptions): Promise<T>
export async function withTransaction<T, C extends PooledTransactionClient = PooledTransactionClient> (
  db: SimpleTransactionPool<C> | { pool: SimpleTransactionPool<C> }, fn: (client: C) => Promise<T>, options?: TransactionOptions): Promise<T>
export async function withTransaction<T, C extends TransactionClient = TransactionClient> (
  db: C, fn: (client: C) => Promise<T>, options?: TransactionOptions): Promise<T>
export async function withTransaction (db: unknown, fn: unknown, options?: unknown): Promise<unknown> {
  const settings = checkOptions(options)
  if (typeof fn !== 'function') throw new InvalidOptionError('withTransaction needs a function (client) => Promise as its second argument')
  const run = fn as (client: TransactionClient) => Promise<unknown>
  const pool = isPool(db) ? db : isObject(db) && isPool(db.pool) ? db.pool : undefined
  if (pool !== undefined) return await retrying(settings, false, async () => await pooled(pool, run, settings))
  if (isObject(db) && typeof db.query === 'function') return await onClient(db as unknown as TransactionClient, run, settings)
  throw new InvalidOptionError('withTransaction needs a pg.Pool, fastify.pg or a connected client as its first argument')
}

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null
}

function isPool (value: unknown): value is SimpleTransactionPool<PooledTransactionClient> {
  return isObject(value) && typeof value.connect === 'function' && typeof value.totalCount === 'number'
}

function checkOptions (options: unknown): Settings {
  if (options === undefined) options = {}
  if (!isObject(options) || Array.isArray(options)) throw new InvalidOptionError(`${WHERE} must be an object like { retryOn, attempts, isolationLevel }`)
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.includes(key)) throw new InvalidOptionError(`${WHERE} has an unknown option "${key}" (known: ${KNOWN_OPTIONS.join(', ')})`)
  }
  const { retryOn, isolationLevel, counters, ...retry } = options
  const policy = retryPolicy(retry, WHERE)
  if (isolationLevel !== undefined && !ISOLATION_LEVELS.includes(isolationLevel as string)) {
    throw new InvalidOptionError(`${WHERE}.isolationLevel must be one of "${ISOLATION_LEVELS.join('", "')}"`)
  }
  if (counters !== undefined && !(isObject(counters) &&
    typeof counters.retried === 'function' && typeof counters.recovered === 'function' && typeof counters.gaveUp === 'function')) {
    throw new InvalidOptionError(`${WHERE}.counters must be a ConflictCounters`)
  }
  const level = isolationLevel as IsolationLevel | undefined
  return {
    policy,
    retryOn: retryTest(retryOn),
    isolationLevel: level,
    begin: level === undefined ? 'BEGIN' : `BEGIN ISOLATION LEVEL ${level.toUpperCase()}`,
    counters: counters as Settings['counters']
  }
}

function retryTest (retryOn: unknown): Settings['retryOn'] {
  if (retryOn === undefined) return () => false
  if (retryOn === true) return () => true
  if (!Array.isArray(retryOn)) throw new InvalidOptionError(`${WHERE}.retryOn must be true or an array of constraint names and RegExps`)
  const tests = retryOn.map((constraint: unknown, i) => {
    if (!(constraint instanceof RegExp) && (typeof constraint !== 'string' || constraint === '')) {
      throw new InvalidOptionError(`${WHERE}.retryOn[${i}] must be a constraint name or a RegExp`)
    }
    return matcher({ constraint })
  })
  return (constraint) => constraint !== undefined && tests.some((test) => test(constraint))
}

/** The conflict in `error` that another attempt may get past, if it is one; `nested` in a transaction of someone else's. */
/** A conflict another attempt may get past: its constraint (none for 40001 and 40P01), and its kind. */
interface Retried {
  constraint: string | undefined
  kind: RetriedKind
}

function conflictOf (error: unknown, settings: Settings, nested: boolean): Retried | undefined {
  const found = findPgError(error)
  if (found === undefined) return undefined
  // A snapshot or locks taken before the savepoint stay: only the transaction's owner can retry these.
  if (found.code === SERIALIZATION_FAILURE || found.code === DEADLOCK_DETECTED) return nested ? undefined : { constraint: undefined, kind: 'serialization' }
  if (integrityKind(found) === 'unique') {
    // On Citus the constraint is a shard's (`users_email_key_102008`; only in the message under COPY's
    // XX000): retryOn names the distributed table's.
    const constraint = citusShard(found)?.constraint ?? found.constraint
    if (settings.retryOn(constraint)) return { constraint, kind: 'unique' }
  }
  return undefined // in particular 25P02: the transaction it happened in is dead
}

/** Runs `attempt` until it succeeds, fails otherwise than on a retryable conflict, or the policy says stop. */
async function retrying<T> (settings: Settings, nested: boolean, attempt: () => Promise<T>): Promise<T> {
  const { policy, counters } = settings
  const startedAt = performance.now()
  let retried: Retried | undefined // the last conflict retried
  const run = async (n: number): Promise<T> => {
    try {
      const value = await attempt()
      if (retried !== undefined) counters?.recovered(retried.constraint, retried.kind) // once per call, as for routes
      return value
    } catch (error) {
      if (error instanceof Stop) throw error.error
      const conflict = conflictOf(error, settings, nested)
      if (conflict === undefined) throw error
      const delay = backoffDelay(policy, n + 1)
      if (!mayRetry(policy, n + 1, startedAt, delay)) {
        counters?.gaveUp(conflict.constraint, conflict.kind)
        throw error
      }
      counters?.retried(conflict.constraint, conflict.kind)
      retried = conflict
      await sleep(delay)
      return await run(n + 1)
    }
  }
  return await run(1)
}

/** One attempt with a client of the pool's. */
async function pooled (pool: SimpleTransactionPool<PooledTransactionClient>, fn: (client: TransactionClient) => Promise<unknown>, settings: Settings): Promise<unknown> {
  const client = await pool.connect()
  // A checked-out client has no 'error' listener: a connection lost meanwhile would crash the
  // process. The statement that meets the lost connection fails; that is the error reported.
  const events = client as Partial<Pick<NodeJS.EventEmitter, 'on' | 'removeListener'>>
  const ignore = (): void => {}
  events.on?.('error', ignore)
  return await ownTransaction(client, fn, settings, (error) => {
    events.removeListener?.('error', ignore)
    client.release(error)
  })
}

/** One attempt as a transaction of its own: BEGIN, `fn`, COMMIT; ROLLBACK after an error. `done` gets the error that broke the connection. */
async function ownTransaction (client: TransactionClient, fn: (client: TransactionClient) => Promise<unknown>, settings: Settings,
  done: (broken?: Error) => void): Promise<unknown> {
  let value: unknown
  let commit: unknown
  try {
    await client.query(settings.begin)
    value = await fn(client)
    commit = await client.query('COMMIT')
  } catch (error) {
    try {
      await client.query('ROLLBACK')
    } catch (rollbackError) {
      done(new Error('withTransaction: ROLLBACK failed, the connection is broken', { cause: rollbackError }))
      throw new Stop(error)
    }
    done()
    throw error
  }
  done()
  if (isObject(commit) && commit.command === 'ROLLBACK') {
    throw new Stop(new RolledBackError('withTransaction: COMMIT answered ROLLBACK: a statement in the transaction failed and ' +
      'its error was caught without being rethrown, so PostgreSQL rolled the whole transaction back and nothing was saved'))
  }
  return value
}

/** Savepoint depth per client, for distinct names when calls nest. */
const depths = new WeakMap<object, number>()

async function onClient (client: TransactionClient, fn: (client: TransactionClient) => Promise<unknown>, settings: Settings): Promise<unknown> {
  const depth = (depths.get(client) ?? 0) + 1
  depths.set(client, depth)
  const savepoint = `fpc_${depth}`
  try {
    // 'I' and 'E' are what the server said after the caller's last statement. 'T' is not enough:
    // node-postgres rejects a failed statement's promise before the server's next message
    // updates the status, so a transaction that has just failed may still read 'T'. The first
    // SAVEPOINT asks the server, as it does for clients without a status (node-postgres before 8.12).
    const status = client.getTransactionStatus?.()
    if (status === 'E') throw failedTransaction()
    if (status === 'I' || !(await savepointMade(client, savepoint))) {
      return await retrying(settings, false, async () => await ownTransaction(client, fn, settings, () => {}))
    }
    if (settings.isolationLevel !== undefined) {
      const result = await client.query("SELECT current_setting('transaction_isolation') AS level") as { rows: Array<{ level: string }> }
      const level = result.rows[0]?.level
      if (level !== settings.isolationLevel) {
        await client.query(`RELEASE SAVEPOINT ${savepoint}`)
        throw new InvalidOptionError(`${WHERE}.isolationLevel is "${settings.isolationLevel}" but the client is in a "${String(level)}" ` +
          'transaction already (a transaction\'s level is set where it begins)')
      }
    }
    let first = true
    return await retrying(settings, true, async () => {
      if (first) first = false
      else await client.query(`SAVEPOINT ${savepoint}`)
      return await inSavepoint(client, fn, savepoint)
    })
  } finally {
    if (depth === 1) depths.delete(client)
    else depths.set(client, depth - 1)
  }
}

/** Makes the savepoint if the client is in a transaction; false if it is not (25P01). */
async function savepointMade (client: TransactionClient, savepoint: string): Promise<boolean> {
  try {
    await client.query(`SAVEPOINT ${savepoint}`)
    return true
  } catch (error) {
    const code = findPgError(error)?.code
    if (code === NO_ACTIVE_TRANSACTION) return false
    if (code === IN_FAILED_TRANSACTION) throw failedTransaction(error)
    throw error
  }
}

function failedTransaction (cause?: unknown): Error {
  const message = 'withTransaction: the client is in a transaction that has failed already (a statement in it raised an error): ' +
    'nothing can run in it until it is rolled back'
  return cause === undefined ? new FailedTransactionError(message) : new FailedTransactionError(message, { cause })
}

/** One attempt after `SAVEPOINT`: released after success, rolled back to (and released) after an error. */
async function inSavepoint (client: TransactionClient, fn: (client: TransactionClient) => Promise<unknown>, savepoint: string): Promise<unknown> {
  let value: unknown
  try {
    value = await fn(client)
  } catch (error) {
    await undo(client, savepoint, error)
    throw error
  }
  try {
    await client.query(`RELEASE SAVEPOINT ${savepoint}`)
  } catch (error) {
    // In a failed transaction (25P02) the savepoint can only be rolled back to. On a lost
    // connection that fails too, and the error of RELEASE is thrown.
    await undo(client, savepoint, error)
    throw new Stop(new RolledBackError('withTransaction: a statement in the transaction function failed and its error was caught ' +
      'without being rethrown; its work was rolled back to the savepoint, and the enclosing transaction goes on', { cause: error }))
  }
  return value
}

/** Back to the savepoint, which goes; if even that fails, the connection is broken: no more attempts, `error` is thrown. */
async function undo (client: TransactionClient, savepoint: string, error: unknown): Promise<void> {
  try {
    await client.query(`ROLLBACK TO SAVEPOINT ${savepoint}`)
    await client.query(`RELEASE SAVEPOINT ${savepoint}`)
  } catch {
    throw new Stop(error)
  }
}
