// keepConnections(pool) on a real pg.Pool: a conflict through pool.query() keeps its connection;
// every other failure is removed exactly as pg-pool does without it.
import t from 'tap'
import pg from 'pg'
import { keepConnections } from '../../src/index.js'
import { databaseUrl, testDatabase } from '../helpers/db.js'
import { startProxy } from './proxy.js'

const db = await testDatabase(t, 'connections_pool')
await db.exec("CREATE TABLE users (email text CONSTRAINT users_email_key UNIQUE); INSERT INTO users VALUES ('ada@example.com')")
const CONFLICT = "INSERT INTO users VALUES ('ada@example.com')"

/** What the pool did: connections opened and removed (pg-pool's events), backends seen (pg_backend_pid). */
function watch (pool: pg.Pool): { opened: number, removed: number } {
  const seen = { opened: 0, removed: 0 }
  pool.on('connect', () => { seen.opened++ })
  pool.on('remove', () => { seen.removed++ })
  return seen
}

async function rejection (promise: Promise<unknown>): Promise<pg.DatabaseError> {
  try {
    await promise
  } catch (error) {
    return error as pg.DatabaseError
  }
  throw new Error('expected a rejection')
}

const backend = async (pool: pg.Pool): Promise<number> => (await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid as number

/**
 * Waits until the pool has no client checked out (a release may wait for the ReadyForQuery) and
 * every connection it opened is either in it or removed and closed (pg-pool says 'remove' once
 * the connection has ended).
 */
async function settled (pool: pg.Pool, seen: { opened: number, removed: number }): Promise<void> {
  while (pool.totalCount !== pool.idleCount || seen.opened - seen.removed !== pool.totalCount) await new Promise((resolve) => setTimeout(resolve, 5))
}

t.test('20 conflicts through pool.query(): 20 connections closed without, none with keepConnections', async (t) => {
  const pool = db.newPool({ max: 2 })
  const seen = watch(pool)
  for (let i = 0; i < 20; i++) t.match(await rejection(pool.query(CONFLICT)), { code: '23505' })
  await settled(pool, seen)
  t.equal(seen.removed, 20, "without: pg-pool closes every connection released with the query's error")

  const undo = keepConnections(pool)
  t.teardown(undo)
  const before = { opened: seen.opened, removed: seen.removed }
  // Both connections open, and their backends known.
  const pids = new Set((await Promise.all([0, 1].map(async () => await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid, pg_sleep(0.05)'))))
    .map((result) => result.rows[0]?.pid))
  t.equal(pids.size, 2)
  for (let i = 0; i < 20; i++) {
    const error = await rejection(pool.query(CONFLICT))
    t.match(error, { name: 'error', code: '23505', constraint: 'users_email_key' }, 'the same DatabaseError reaches the caller')
  }
  // Concurrent ones too, on both connections.
  const errors = await Promise.all(Array.from({ length: 10 }, async () => await rejection(pool.query(CONFLICT))))
  t.ok(errors.every((error) => error.code === '23505'))
  await settled(pool, seen)
  t.equal(seen.removed - before.removed, 0, 'with keepConnections: none removed')
  t.ok(seen.opened - before.opened <= 2, 'and no more opened than the pool size')
  t.equal(pool.totalCount, 2)
  t.ok(pids.has(await backend(pool)), 'the same backends serve the next queries')
  t.same((await pool.query('SELECT count(*)::int AS n FROM users')).rows, [{ n: 1 }], 'and the session works')
})

t.test("pool.query()'s every form behaves as pg's", async (t) => {
  const pool = db.newPool({ max: 1 })
  t.teardown(keepConnections(pool))
  const seen = watch(pool)
  t.same((await pool.query({ text: 'SELECT $1::int AS n', values: [7] })).rows, [{ n: 7 }], 'a config object')
  t.same((await pool.query('SELECT $1::int AS n', [8])).rows, [{ n: 8 }], 'text and values')
  const viaCallback = await new Promise<unknown>((resolve) => {
    pool.query(CONFLICT, (error: Error) => { resolve(error) })
  })
  t.match(viaCallback, { code: '23505' }, 'a callback without values gets the error')
  const rows = await new Promise<unknown>((resolve, reject) => {
    pool.query('SELECT $1::text AS s', ['x'], (error: Error, result: pg.QueryResult) => { if (error === undefined || error === null) resolve(result.rows); else reject(error) })
  })
  t.same(rows, [{ s: 'x' }], 'a callback with values gets the rows')
  const misuse = await new Promise<unknown>((resolve) => { (pool.query as unknown as (f: (error: Error) => void) => void)(resolve) })
  t.match(misuse, { message: /Passing a function as the first parameter to pool.query is not supported/ }, "pg-pool's own checks run")
  await settled(pool, seen)
  t.equal(seen.removed, 0)
})

t.test('a session left inside a transaction is removed', async (t) => {
  const pool = db.newPool({ max: 1 })
  t.teardown(keepConnections(pool))
  const seen = watch(pool)
  t.match(await rejection(pool.query(`BEGIN; ${CONFLICT}`)), { code: '23505' }, 'BEGIN and the conflict in one pool.query()')
  await settled(pool, seen)
  t.equal(seen.removed, 1, 'the session is in a failed transaction: removed')

  await pool.query('BEGIN') // succeeds: pg-pool keeps the client, in its transaction (as it always has)
  t.match(await rejection(pool.query(CONFLICT)), { code: '23505' }, 'then a conflict on the same connection')
  await settled(pool, seen)
  t.equal(seen.removed, 2, 'the transaction failed with it: removed')
  t.same((await pool.query('SELECT count(*)::int AS n FROM users')).rows, [{ n: 1 }], 'the next query runs on a fresh session')
})

t.test('a session-level advisory lock taken before the failing statement: removed, which releases the lock', async (t) => {
  const pool = db.newPool({ max: 1 })
  t.teardown(keepConnections(pool))
  const seen = watch(pool)
  for (const text of [`SELECT pg_advisory_lock(4243); ${CONFLICT}; SELECT pg_advisory_unlock(4243)`, `SELECT PG_TRY_ADVISORY_LOCK_SHARED(4243); ${CONFLICT}`]) {
    t.match(await rejection(pool.query({ text })), { code: '23505' })
    await settled(pool, seen)
  }
  t.equal(seen.removed, 2, 'both removed, as without keepConnections')
  const other = db.newPool({ max: 1 })
  t.same((await other.query('SELECT pg_try_advisory_lock(4243) AS got')).rows, [{ got: true }], 'the lock went with the connection')
  await other.end()
  t.match(await rejection(pool.query(`SELECT pg_advisory_xact_lock(4243); ${CONFLICT}`)), { code: '23505' })
  await settled(pool, seen)
  t.equal(seen.removed, 2, 'a transaction-level lock goes with the rollback: the connection is kept')
})

t.test('errors that are not the server answering are removed as before', async (t) => {
  const name = `fpc-pool-fatal-${process.pid}`
  const pool = db.newPool({ max: 1, application_name: name })
  t.teardown(keepConnections(pool))
  const seen = watch(pool)
  const admin = new pg.Client({ connectionString: databaseUrl() })
  await admin.connect()
  t.teardown(() => admin.end())
  const sleeping = rejection(pool.query('SELECT pg_sleep(30)'))
  while ((await admin.query("SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND state = 'active'", [name])).rowCount === 0) {
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [name])
  t.match(await sleeping, { code: '57P01', severity: 'FATAL' }, 'the backend terminated: FATAL 57P01')
  await settled(pool, seen)
  t.equal(seen.removed, 1, 'removed')
  t.match(await rejection(pool.query(`DO $$ BEGIN RAISE EXCEPTION 'gone' USING ERRCODE = '08006'; END $$`)), { code: '08006', severity: 'ERROR' })
  await settled(pool, seen)
  t.equal(seen.removed, 2, 'a connection exception (class 08), even at severity ERROR: removed')
  const timedOut = db.newPool({ max: 1, query_timeout: 20 })
  t.teardown(keepConnections(timedOut))
  const timedOutSeen = watch(timedOut)
  t.match(await rejection(timedOut.query('SELECT pg_sleep(1)')), { message: 'Query read timeout' }, "pg's query_timeout (the query still runs on the server)")
  await settled(timedOut, timedOutSeen)
  t.equal(timedOutSeen.removed, 1, 'removed')
  const unreachable = new pg.Pool({ connectionString: databaseUrl().replace(/:\d+\//, ':1/'), max: 1 })
  t.teardown(() => unreachable.end())
  t.teardown(keepConnections(unreachable))
  t.match(await rejection(unreachable.query('SELECT 1')), { code: 'ECONNREFUSED' }, 'no connection at all: the error as before')
})

t.test('maxUses: a kept connection is still retired at its last use', async (t) => {
  const pool = db.newPool({ max: 1, maxUses: 3 })
  t.teardown(keepConnections(pool))
  const seen = watch(pool)
  for (let i = 0; i < 6; i++) t.match(await rejection(pool.query(CONFLICT)), { code: '23505' })
  await settled(pool, seen)
  t.equal(seen.removed, 2, 'pg-pool retired each connection at its third release (maxUses: 3), no sooner')
  t.equal(seen.opened, 2)
})

t.test("the ReadyForQuery in a packet of its own: the connection waits for it, out of the pool, and is kept", async (t) => {
  const proxy = await startProxy(t)
  const pool = new pg.Pool({ connectionString: proxy.url, options: `-c search_path=${db.schema}`, max: 1 })
  t.teardown(() => pool.end())
  t.teardown(keepConnections(pool))
  const seen = watch(pool)
  const pid = await backend(pool)
  proxy.arm('23505', { delay: 100 })
  t.match(await rejection(pool.query(CONFLICT)), { code: '23505' })
  t.equal(proxy.fired(), 1)
  t.equal(pool.idleCount, 0, 'the caller has the error at once; the connection is not back in the pool yet')
  await settled(pool, seen)
  t.equal(seen.removed, 0, 'back once the ReadyForQuery came: kept')
  t.equal(await backend(pool), pid)
})

t.test('the connection lost between the ErrorResponse and the ReadyForQuery: removed, nothing thrown', async (t) => {
  const proxy = await startProxy(t)
  const pool = new pg.Pool({ connectionString: proxy.url, options: `-c search_path=${db.schema}`, max: 1 })
  pool.on('error', () => {})
  t.teardown(() => pool.end())
  t.teardown(keepConnections(pool))
  const seen = watch(pool)
  const pid = await backend(pool)
  proxy.arm('23505', 'close')
  t.match(await rejection(pool.query(CONFLICT)), { code: '23505' })
  while (seen.removed === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  t.equal(pool.totalCount, 0, 'removed')
  t.not(await backend(pool), pid, 'the next query gets a new connection')
})

t.test('the pool ended while a connection waits for its ReadyForQuery: removed, and end() completes', async (t) => {
  const proxy = await startProxy(t)
  const pool = new pg.Pool({ connectionString: proxy.url, options: `-c search_path=${db.schema}`, max: 1 })
  t.teardown(keepConnections(pool))
  const seen = watch(pool)
  await backend(pool)
  proxy.arm('23505', { delay: 100 })
  await rejection(pool.query(CONFLICT))
  await pool.end()
  t.equal(seen.removed, 1)
  t.equal(pool.totalCount, 0)
})

t.test('a pipelining pool (pg\'s pipeline mode): removed as before', async (t) => {
  const pool = db.newPool({ max: 1, pipeline: true } as pg.PoolConfig)
  t.teardown(keepConnections(pool))
  const seen = watch(pool)
  await rejection(pool.query(CONFLICT))
  await settled(pool, seen)
  t.equal(seen.removed, 1)
})

t.test('what keepConnections changes on the pool, and undoes', async (t) => {
  const pool = db.newPool({ max: 1 })
  const prototypeQuery = pool.query
  t.notOk(Object.hasOwn(pool, 'query'))
  const undoA = keepConnections(pool)
  const kept = pool.query
  t.ok(Object.hasOwn(pool, 'query'), 'an own `query` on the pool')
  t.not(kept, prototypeQuery)
  const undoB = keepConnections(pool)
  t.equal(pool.query, kept, 'a second call shares it')
  undoA()
  undoA()
  t.equal(pool.query, kept, 'still held by the second')
  undoB()
  t.notOk(Object.hasOwn(pool, 'query'), "the last undo removes it: pg-pool's query again")
  t.equal(pool.query, prototypeQuery)

  // A query of the application's, on the pool itself, calling pg-pool's with `this`: kept too.
  let calls = 0
  const counting = function (this: pg.Pool, ...args: unknown[]): unknown {
    calls++
    return (prototypeQuery as (...a: unknown[]) => unknown).apply(this, args)
  }
  Object.assign(pool, { query: counting })
  const seen = watch(pool)
  const undo = keepConnections(pool)
  await rejection(pool.query(CONFLICT))
  await settled(pool, seen)
  t.equal(calls, 1, "the application's query still runs")
  t.equal(seen.removed, 0, 'and its connection is kept')
  undo()
  t.equal(pool.query, counting, 'undone: its own query again')

  const undoC = keepConnections(pool)
  const theirs = async (): Promise<never> => { throw new Error('replaced') }
  Object.assign(pool, { query: theirs })
  undoC()
  t.equal(pool.query, theirs, 'a query replaced since is left alone by the undo')
})

t.test('a query that checks out its client with connect() (a promise): as it was', async (t) => {
  const pool = db.newPool({ max: 1 })
  Object.assign(pool, {
    query: async function (this: pg.Pool, text: string): Promise<pg.QueryResult> {
      const client = await this.connect()
      try {
        return await client.query(text)
      } finally {
        client.release()
      }
    }
  })
  t.teardown(keepConnections(pool))
  t.same((await pool.query('SELECT 1 AS n')).rows, [{ n: 1 }])
})

t.test('not a pg Pool: left alone', async (t) => {
  const query = async (): Promise<{ rows: unknown[] }> => ({ rows: [] })
  const wrapper = { query }
  const undo = keepConnections(wrapper)
  t.equal(wrapper.query, query)
  t.same(Object.keys(wrapper), ['query'])
  undo()
  for (const value of [undefined, null, 'pool', { query, connect: query }]) keepConnections(value)()
})
