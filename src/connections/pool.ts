/**
 * `keepConnections(pool)`: a pg `Pool` whose `query()` keeps the connection when the server
 * answered an error and the session is healthy, instead of closing it (pg-pool's `query`
 * releases its client with the query's error, and pg-pool removes every client released with
 * an error: node-postgres #1290).
 *
 * What it changes on the pool: one own property, `query`, which runs pg-pool's own `query`
 * (whatever `pool.query` was) with a `connect` that marks the client it checks out; that
 * client's `release(error)` goes through `releaseAfterError`. A query that takes a session-level
 * advisory lock runs as it would without this. Nothing else: `connect()`, the
 * clients it hands out and their `release` behave as before, and pg-pool still decides
 * everything else on release (ending, `maxUses`, `maxLifetimeSeconds`, a pool ending).
 */
import { releaseAfterError, type Release, type SessionClient } from './release.js'

interface PooledClient extends SessionClient {
  release: Release
}

type ConnectCallback = (error: unknown, client: PooledClient | undefined, release: Release) => void

/** What makes a pool pg-pool's: its `query` and `connect`, and its counters. */
export interface PgPool {
  query: (...args: unknown[]) => unknown
  connect: (callback?: ConnectCallback) => unknown
  totalCount: number
  idleCount: number
  waitingCount: number
}

export function isPgPool (value: unknown): value is PgPool {
  const pool = value as Partial<Record<keyof PgPool, unknown>> | null
  return typeof pool === 'object' && pool !== null && typeof pool.query === 'function' && typeof pool.connect === 'function' &&
    typeof pool.totalCount === 'number' && typeof pool.idleCount === 'number' && typeof pool.waitingCount === 'number'
}

interface Kept {
  /** The `query` put on the pool. */
  query: PgPool['query']
  /** How many `keepConnections` calls hold it. */
  holds: number
  restore: () => void
}

/** The pools whose `query` this module replaced. */
const kept = new WeakMap<object, Kept>()

const nothing = (): void => {}

/** The client's next `release(error)` decided by `releaseAfterError`; a release without error goes through as it is. */
function keepOnError (client: PooledClient): void {
  const release = client.release
  client.release = (error?: unknown) => {
    if (error === undefined || error === null || error === false) release(error)
    else releaseAfterError(client, release, error)
  }
}

/**
 * A session-level advisory lock (`pg_advisory_lock`, `pg_try_advisory_lock`, their `_shared`
 * forms; not the `_xact_` ones) outlives the failed statement's rollback: a query that takes one
 * and fails before its unlock must lose its connection, which releases the lock, as pg-pool does.
 */
const SESSION_LOCK = /pg_(?:try_)?advisory_lock/i

function holdsSessionLock (query: unknown): boolean {
  const text = typeof query === 'string' ? query : (query as { text?: unknown } | null | undefined)?.text
  return typeof text === 'string' && SESSION_LOCK.test(text)
}

function install (pool: PgPool): Kept {
  const own = Object.hasOwn(pool, 'query')
  const original = pool.query
  // pg-pool's query is `this.connect(callback)`, then `client.query`, then `client.release(err)`:
  // run it on a stand-in for the pool whose `connect` marks the client (the rest is the pool's).
  const standIn = Object.create(pool) as PgPool
  standIn.connect = (callback?: ConnectCallback) => {
    if (typeof callback !== 'function') return pool.connect() // not pg-pool's query: left as it is
    return pool.connect((error, client, release) => {
      if (client !== undefined) keepOnError(client)
      callback(error, client, release)
    })
  }
  const query = function query (...args: unknown[]): unknown {
    return original.apply(holdsSessionLock(args[0]) ? pool : standIn, args)
  }
  pool.query = query
  return {
    query,
    holds: 0,
    restore () {
      if (pool.query !== query) return // replaced since: that is someone else's now
      if (own) pool.query = original
      else delete (pool as Partial<PgPool>).query
    }
  }
}

/**
 * Makes `pool.query()` keep a connection on which the server answered an error, when the
 * session is idle again outside a transaction (see `releaseAfterError`). Does nothing to an
 * object that is not a pg `Pool` (a wrapper with only `query`). Calls for the same pool share
 * one change; gives the function that undoes this call's (the pool's `query` is put back when
 * the last one is undone).
 */
export function keepConnections (pool: unknown): () => void {
  if (!isPgPool(pool)) return nothing
  let entry = kept.get(pool)
  if (entry === undefined) {
    entry = install(pool)
    kept.set(pool, entry)
  }
  entry.holds++
  const held = entry
  let undone = false
  return () => {
    if (undone) return
    undone = true
    if (--held.holds === 0) {
      kept.delete(pool)
      held.restore()
    }
  }
}

/** The `query` `keepConnections` put on this pool, if it holds one. */
export function keptQuery (pool: object): PgPool['query'] | undefined {
  return kept.get(pool)?.query
}
