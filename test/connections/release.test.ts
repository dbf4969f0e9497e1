// releaseAfterError on clients checked out of a real pg.Pool: what it gives back to the pool
// (release() keeps, release(error) removes) and when.
import t from 'tap'
import pg from 'pg'
import { releaseAfterError, type SessionClient } from '../../src/connections/release.js'
import { testDatabase } from '../helpers/db.js'
import { startProxy } from './proxy.js'

const db = await testDatabase(t, 'connections_release')
await db.exec("CREATE TABLE users (email text CONSTRAINT users_email_key UNIQUE); INSERT INTO users VALUES ('ada@example.com')")
const CONFLICT = "INSERT INTO users VALUES ('ada@example.com')"

/**
 * A client checked out, and its query that fails: released through releaseAfterError in the
 * query's callback, as pg-pool's query does. Gives the error, the client's readyForQuery then,
 * and what releaseAfterError gave back (once it has).
 */
async function failOn (pool: pg.Pool, sql: string, before?: (client: pg.PoolClient) => Promise<void>): Promise<{ error: unknown, readyForQuery: unknown, released: Promise<unknown> }> {
  const client = await pool.connect()
  await before?.(client)
  return await new Promise((resolve) => {
    client.query(sql, (error: Error | undefined) => {
      const readyForQuery = (client as unknown as SessionClient).readyForQuery
      const release = client.release
      const released = new Promise<unknown>((resolve) => {
        releaseAfterError(client as unknown as SessionClient, (given) => { resolve(given); release(given as Error | undefined) }, error)
      })
      resolve({ error, readyForQuery, released })
    })
  })
}

t.test('a conflict, the session idle: released without the error, once the ReadyForQuery is read', async (t) => {
  const pool = db.newPool({ max: 1 })
  const { error, readyForQuery, released } = await failOn(pool, CONFLICT)
  t.match(error, { code: '23505' })
  t.equal(readyForQuery, false, 'pg calls the query back at the ErrorResponse, before the ReadyForQuery')
  t.equal(await released, undefined, 'kept')
  t.equal(pool.totalCount, 1)
})

t.test('a conflict inside a transaction: released with the error', async (t) => {
  const pool = db.newPool({ max: 1 })
  const { error, released } = await failOn(pool, CONFLICT, async (client) => { await client.query('BEGIN') })
  t.equal(await released, error, 'removed: the transaction status is E')
})

t.test('not an error the session survives: released with it at once', async (t) => {
  const pool = db.newPool({ max: 1 })
  const { error, released } = await failOn(pool, "DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = 'XX000'; END $$")
  t.equal(await released, error)
})

t.test('no ReadyForQuery within the timeout (a stalled connection): released with the error', async (t) => {
  const proxy = await startProxy(t)
  const pool = new pg.Pool({ connectionString: proxy.url, options: `-c search_path=${db.schema}`, max: 1 })
  pool.on('error', () => {})
  t.teardown(() => pool.end())
  const client = await pool.connect()
  proxy.arm('23505', 'stall')
  const error = await client.query(CONFLICT).then(() => undefined, (error: unknown) => error)
  const started = performance.now()
  const given = await new Promise<unknown>((resolve) => {
    const release = client.release
    releaseAfterError(client as unknown as SessionClient, (given) => { resolve(given); release(given as Error) }, error, 100)
  })
  t.equal(given, error, 'removed')
  t.ok(performance.now() - started >= 95, 'after the timeout')
  t.equal(pool.totalCount, 0)
})

t.test('the client ended while it waits: released with the error', async (t) => {
  const proxy = await startProxy(t)
  const pool = new pg.Pool({ connectionString: proxy.url, options: `-c search_path=${db.schema}`, max: 1 })
  t.teardown(() => pool.end())
  const client = await pool.connect()
  proxy.arm('23505', { delay: 5000 })
  const error = await client.query(CONFLICT).then(() => undefined, (error: unknown) => error)
  const given = new Promise<unknown>((resolve) => {
    const release = client.release
    releaseAfterError(client as unknown as SessionClient, (given) => { resolve(given); release(given as Error) }, error)
  })
  void client.end()
  t.equal(await given, error, 'removed, without waiting for the ReadyForQuery')
})

t.test('clients that cannot say when the session is idle: released with the error', async (t) => {
  const error = await db.errorOf(CONFLICT)
  // pg-native's client has getTransactionStatus but no readyForQuery; shapes made here, as pg-native is not installed.
  const given: unknown[] = []
  const native = { getTransactionStatus: () => 'I', on: () => {}, removeListener: () => {} }
  releaseAfterError(native, (e) => given.push(e), error)
  t.same(given, [error])
})

t.test('a ReadyForQuery read already (not seen with pg 8, which calls back before it): decided at once', async (t) => {
  const error = await db.errorOf(CONFLICT)
  const given: unknown[] = []
  const client = (status: string): SessionClient => ({ readyForQuery: true, getTransactionStatus: () => status, on: () => { throw new Error('no wait') }, removeListener: () => {} })
  releaseAfterError(client('I'), (e) => given.push(e), error)
  releaseAfterError(client('T'), (e) => given.push(e), error)
  t.same(given, [undefined, error], 'idle: kept; in a transaction: removed')
})
