// withTransaction against real PostgreSQL: savepoints inside a caller's transaction, real
// serialization failures, a check-then-insert race, what conflicts cost the pool, COMMIT answering
// ROLLBACK, and the bounds on retries.
import t from 'tap'
import { once } from 'node:events'
import type { Test } from 'tap'
import type pg from 'pg'
import fastifyPostgres from '@fastify/postgres'
import { ConflictCounters } from '../../src/races/counters.js'
import { FailedTransactionError, RolledBackError, withTransaction, type TransactionClient } from '../../src/races/transaction.js'
import { buildApp } from '../helpers/app.js'
import { databaseUrl, testDatabase } from '../helpers/db.js'

const db = await testDatabase(t, 'transaction')
await db.exec(`
  CREATE TABLE users (id serial PRIMARY KEY, email text CONSTRAINT users_email_key UNIQUE, name text CONSTRAINT users_name_key UNIQUE);
  CREATE TABLE audit (note text NOT NULL);
  CREATE TABLE doctors (name text PRIMARY KEY, on_call boolean NOT NULL);
  CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL);
  CREATE TABLE tags (id serial PRIMARY KEY, slug text CONSTRAINT tags_slug_key UNIQUE);
  INSERT INTO users (email, name) VALUES ('taken@example.com', 'taken');
`)

/** A client of the test pool's, for playing the caller who owns a transaction; rolled back and released at the end. */
async function checkout (t: Test): Promise<pg.PoolClient> {
  const client = await db.pool.connect()
  t.teardown(async () => {
    await client.query('ROLLBACK')
    client.release()
  })
  return client
}

async function notes (): Promise<string[]> {
  const { rows } = await db.pool.query<{ note: string }>('SELECT note FROM audit ORDER BY note')
  await db.exec('DELETE FROM audit')
  return rows.map((row) => row.note)
}

/** What a promise rejected with (the test fails if it resolved). */
async function rejection (promise: Promise<unknown>): Promise<Error & { code?: string, constraint?: string, cause?: unknown }> {
  try {
    await promise
  } catch (error) {
    return error as Error & { code?: string }
  }
  throw new Error('expected a rejection')
}

/** Inserts the user that is always there: a unique violation on users_email_key. */
const CONFLICT = "INSERT INTO users (email) VALUES ('taken@example.com')"

/** node-postgres before 8.12 (and drivers alike): a client without getTransactionStatus(). */
function withoutStatus (client: pg.PoolClient): TransactionClient {
  return { query: async (text: string) => await client.query(text) }
}

t.test('in a caller\'s transaction, a listed unique violation is retried at a savepoint and the transaction keeps its earlier work', async (t) => {
  const client = await checkout(t)
  await client.query('BEGIN')
  await client.query("INSERT INTO audit VALUES ('before')")
  const counters = new ConflictCounters()
  let calls = 0
  let winner: number | undefined
  // Check, then insert: between the two, another request inserts the same email and commits.
  const id = await withTransaction(client, async (c) => {
    calls++
    const found = await c.query<{ id: number }>('SELECT id FROM users WHERE email = $1', ['ada@example.com'])
    if (found.rows[0] !== undefined) return found.rows[0].id
    if (calls === 1) winner = (await db.pool.query<{ id: number }>("INSERT INTO users (email) VALUES ('ada@example.com') RETURNING id")).rows[0]?.id
    await c.query("INSERT INTO audit VALUES ('attempt')")
    const { rows } = await c.query<{ id: number }>("INSERT INTO users (email) VALUES ('ada@example.com') RETURNING id")
    return rows[0]?.id
  }, { retryOn: ['users_email_key'], counters })
  t.equal(calls, 2, 'the second attempt ran, and saw the row')
  t.equal(id, winner, 'it answers with the row the other request inserted')
  t.same(counters.snapshot(), { users_email_key: { retried: 1, recovered: 1, gaveUp: 0 } })
  t.equal(client.getTransactionStatus(), 'T', 'the caller\'s transaction is alive')
  await client.query("INSERT INTO audit VALUES ('after')")
  await client.query('COMMIT')
  t.same(await notes(), ['after', 'before'], 'its work before and after is committed; the failed attempt\'s is not')
})

t.test('in a caller\'s transaction, a unique violation on a constraint not listed is thrown unchanged, and the transaction goes on', async (t) => {
  const client = await checkout(t)
  await client.query('BEGIN')
  await client.query("INSERT INTO audit VALUES ('kept')")
  let calls = 0
  let thrown: unknown
  const error = await rejection(withTransaction(client, async (c) => {
    calls++
    await c.query("INSERT INTO audit VALUES ('undone')")
    await c.query("INSERT INTO users (email, name) VALUES ('new@example.com', 'taken')").catch((e: unknown) => { thrown = e; throw e })
  }, { retryOn: ['users_email_key'] }))
  t.equal(error, thrown, 'the very error the query threw')
  t.match(error, { code: '23505', constraint: 'users_name_key' })
  t.equal(calls, 1, 'not retried')
  await client.query("INSERT INTO audit VALUES ('after')")
  await client.query('COMMIT')
  t.same(await notes(), ['after', 'kept'], 'the function\'s work is undone, the caller\'s is committed')
})

t.test('nested calls: an inner retry goes back to its own savepoint, not to the outer call\'s', async (t) => {
  const client = await checkout(t)
  await client.query('BEGIN')
  let inner = 0
  await withTransaction(client, async (c) => {
    await c.query("INSERT INTO audit VALUES ('outer')")
    await withTransaction(c, async (c2) => {
      if (++inner === 1) await c2.query(CONFLICT)
      await c2.query("INSERT INTO audit VALUES ('inner')")
    }, { retryOn: true })
  })
  await withTransaction(client, async (c) => { await c.query("INSERT INTO audit VALUES ('next')") })
  await client.query('COMMIT')
  t.equal(inner, 2)
  t.same(await notes(), ['inner', 'next', 'outer'])
})

t.test('a client outside a transaction: BEGIN and COMMIT on it, and a failed attempt leaves nothing', async (t) => {
  const client = await checkout(t)
  let calls = 0
  const result = await withTransaction(client, async (c) => {
    await c.query("INSERT INTO audit VALUES ('attempt ' || $1)", [++calls])
    if (calls === 1) await c.query(CONFLICT)
    return 'done'
  }, { retryOn: ['users_email_key'] })
  t.equal(result, 'done')
  t.equal(client.getTransactionStatus(), 'I', 'committed, nothing left open')
  t.same(await notes(), ['attempt 2'])
  const error = await rejection(withTransaction(client, async (c) => {
    await c.query("INSERT INTO audit VALUES ('lost')")
    throw new Error('the application changed its mind')
  }))
  t.equal(error.message, 'the application changed its mind')
  t.equal(client.getTransactionStatus(), 'I', 'rolled back')
  t.same(await notes(), [])
})

t.test('a client in a failed transaction is refused: nothing can run in it', async (t) => {
  const client = await checkout(t)
  await client.query('BEGIN')
  await client.query('SELECT 1 / 0').catch(() => {})
  await client.query('SELECT 1').catch(() => {}) // settles the status: after a failed statement it may still read 'T'
  t.equal(client.getTransactionStatus(), 'E')
  let called = false
  const error = await rejection(withTransaction(client, async () => { called = true }))
  t.ok(error instanceof FailedTransactionError)
  t.equal(error.code, 'PG_CONFLICT_FAILED_TRANSACTION')
  t.match(error.message, /has failed already/)
  t.notOk(called)

  // node-postgres rejects a failed statement before the server's next message updates the
  // status: right after the rejection the status may still read 'T'. The server is asked.
  const lagging = { query: async (text: string) => await client.query(text), getTransactionStatus: () => 'T' }
  const asked = await rejection(withTransaction(lagging, async () => { called = true }))
  t.equal(asked.code, 'PG_CONFLICT_FAILED_TRANSACTION')
  t.match(asked.cause, { code: '25P02' }, 'with the server\'s answer as the cause')
  t.notOk(called)
})

t.test('without getTransactionStatus() (node-postgres before 8.12), the transaction state is probed with SAVEPOINT', async (t) => {
  const client = await checkout(t)
  const old = withoutStatus(client)

  t.equal(await withTransaction(old, async (c) => { await c.query("INSERT INTO audit VALUES ('own')"); return 1 }), 1)
  t.equal(client.getTransactionStatus(), 'I', 'outside a transaction: one of its own, committed')

  await client.query('BEGIN')
  await client.query("INSERT INTO audit VALUES ('outer')")
  let calls = 0
  await withTransaction(old, async (c) => {
    await c.query(`INSERT INTO audit VALUES ('inner ${++calls}')`)
    if (calls === 1) await c.query(CONFLICT)
  }, { retryOn: true })
  t.equal(client.getTransactionStatus(), 'T', 'inside one: a savepoint, and the transaction goes on')
  await client.query('COMMIT')
  t.same(await notes(), ['inner 2', 'outer', 'own'])

  await client.query('BEGIN')
  await client.query('SELECT 1 / 0').catch(() => {})
  const error = await rejection(withTransaction(old, async () => {}))
  t.equal(error.code, 'PG_CONFLICT_FAILED_TRANSACTION', 'a failed one: refused')
  t.match(error.cause, { code: '25P02' }, 'with the server\'s answer as the cause')
  await client.query('ROLLBACK')

  const broken = { query: async () => { throw new Error('connection lost') } }
  t.equal((await rejection(withTransaction(broken, async () => {}))).message, 'connection lost', 'another failure of the probe is thrown')
})

t.test('inside a caller\'s transaction, isolationLevel must be the level it has', async (t) => {
  const client = await checkout(t)
  await client.query('BEGIN ISOLATION LEVEL SERIALIZABLE')
  t.equal(await withTransaction(client, async () => 'ran', { isolationLevel: 'serializable' }), 'ran')
  for (const c of [client, withoutStatus(client)]) {
    let called = false
    const error = await rejection(withTransaction(c, async () => { called = true }, { isolationLevel: 'read committed' }))
    t.equal(error.code, 'PG_CONFLICT_INVALID_OPTION')
    t.match(error.message, /isolationLevel is "read committed" but the client is in a "serializable" transaction/)
    t.notOk(called)
  }
  await client.query("INSERT INTO audit VALUES ('still usable')")
  await client.query('COMMIT')
  t.same(await notes(), ['still usable'])
})

t.test('a serialization failure under SERIALIZABLE is retried, and the retry decides on what committed', async (t) => {
  // Write skew: two doctors on call; each goes off call if the other is still on. Both read before
  // either writes, so one of them must fail (40001) and, run again, see it is the last one on call.
  await db.exec("INSERT INTO doctors VALUES ('alice', true), ('bob', true)")
  const counters = new ConflictCounters()
  const attempts: Record<string, number> = { alice: 0, bob: 0 }
  let read = 0
  let bothRead!: () => void
  const barrier = new Promise<void>((resolve) => { bothRead = resolve })
  const goOffCall = (name: string): Promise<boolean> => withTransaction(db.pool, async (c) => {
    attempts[name] = (attempts[name] ?? 0) + 1
    const first = attempts[name] === 1
    const { rows } = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM doctors WHERE on_call')
    if (first) {
      if (++read === 2) bothRead()
      await barrier
    }
    if ((rows[0]?.n ?? 0) < 2) return false
    await c.query('UPDATE doctors SET on_call = false WHERE name = $1', [name])
    return true
  }, { isolationLevel: 'serializable', counters })
  const results = await Promise.all([goOffCall('alice'), goOffCall('bob')])
  t.same(results.sort(), [false, true], 'both calls resolve: one went off call, the other was told no')
  const { rows } = await db.pool.query('SELECT name FROM doctors WHERE on_call')
  t.equal(rows.length, 1, 'someone is still on call')
  // How many attempts it takes depends on timing: a retry that starts before the other transaction
  // committed can meet the same conflict again. What holds is that every extra attempt was counted.
  const total = (attempts.alice ?? 0) + (attempts.bob ?? 0)
  t.ok(total >= 3, 'at least one of them ran again')
  const ranAgain = ['alice', 'bob'].filter((name) => (attempts[name] ?? 0) > 1).length
  t.same(counters.snapshot(), { '(none)': { retried: total - 2, recovered: ranAgain, gaveUp: 0 } }, 'each retry counted, without a constraint')
})

t.test('a serialization failure at a savepoint goes to the transaction\'s owner, which runs the whole transaction again', async (t) => {
  // Going back to the savepoint cannot help: the snapshot is the outer transaction's, and the row
  // it cannot update stays changed for it.
  await db.exec('INSERT INTO accounts VALUES (1, 0)')
  const counters = new ConflictCounters()
  let outer = 0
  let inner = 0
  await withTransaction(db.pool, async (c) => {
    outer++
    await c.query("INSERT INTO audit VALUES ('deposit')")
    await withTransaction(c, async (c2) => {
      inner++
      const { rows } = await c2.query<{ balance: number }>('SELECT balance FROM accounts WHERE id = 1')
      if (outer === 1) await db.exec('UPDATE accounts SET balance = balance + 100 WHERE id = 1') // a concurrent deposit commits
      await c2.query('UPDATE accounts SET balance = $1 WHERE id = 1', [(rows[0]?.balance ?? 0) + 1])
    }, { retryOn: true, counters })
  }, { isolationLevel: 'repeatable read', counters })
  t.equal(inner, 2, 'the inner function ran once per outer attempt, not again at its savepoint')
  t.equal(outer, 2)
  const { rows } = await db.pool.query('SELECT balance FROM accounts WHERE id = 1')
  t.equal(rows[0].balance, 101, 'no deposit lost')
  t.same(await notes(), ['deposit'], 'the first attempt\'s work is gone')
  t.same(counters.snapshot(), { '(none)': { retried: 1, recovered: 1, gaveUp: 0 } })
})

t.test('20 concurrent check-then-insert calls: every one resolves, with the one row', async (t) => {
  const racers = db.newPool({ max: 20 })
  const counters = new ConflictCounters()
  const attempts = Array.from({ length: 20 }, () => 0)
  let checked = 0
  let allChecked!: () => void
  const barrier = new Promise<void>((resolve) => { allChecked = resolve })
  const claim = (i: number): Promise<{ id: number | undefined, created: boolean }> => withTransaction(racers, async (c) => {
    attempts[i] = (attempts[i] ?? 0) + 1
    const first = attempts[i] === 1
    const found = await c.query<{ id: number }>("SELECT id FROM tags WHERE slug = 'fastify'")
    if (first && ++checked === 20) allChecked()
    if (first) await barrier // every call has looked, and found nothing, before any inserts
    if (found.rows[0] !== undefined) return { id: found.rows[0].id, created: false }
    const { rows } = await c.query<{ id: number }>("INSERT INTO tags (slug) VALUES ('fastify') RETURNING id")
    return { id: rows[0]?.id, created: true }
  }, { retryOn: ['tags_slug_key'], maxTime: 10_000 }) // the time to open 20 connections is not the point here
  const results = await Promise.all(attempts.map((_, i) => claim(i)))
  const { rows } = await db.pool.query<{ id: number }>('SELECT id FROM tags')
  t.equal(rows.length, 1, 'exactly one row')
  t.ok(results.every((result) => result.id === rows[0]?.id), 'every call answers with it')
  t.equal(results.filter((result) => result.created).length, 1, 'one call created it')
  t.same(attempts.slice().sort(), [1, ...Array.from({ length: 19 }, () => 2)], 'the others ran twice, and saw it the second time')
  t.same(counters.snapshot(), {}, 'no counters given, none kept')
})

t.test('conflicts keep the pool\'s connections; pool.query() loses one per conflict', async (t) => {
  const pool = db.newPool({ max: 4 })
  let created = 0
  let removed = 0
  pool.on('connect', () => { created++ })
  pool.on('remove', () => { removed++ })
  const counters = new ConflictCounters()
  const outcomes = await Promise.allSettled(Array.from({ length: 50 }, () => withTransaction(pool, async (c) => {
    await c.query(CONFLICT)
  }, { retryOn: ['users_email_key'], attempts: 2, backoff: { base: 0, max: 0 }, counters })))
  t.ok(outcomes.every((o) => o.status === 'rejected' && (o.reason as pg.DatabaseError).code === '23505'), 'each one conflicted, twice')
  t.same(counters.snapshot(), { users_email_key: { retried: 50, recovered: 0, gaveUp: 50 } })
  t.equal(removed, 0, '100 conflicts, no connection destroyed')
  t.equal(created, pool.totalCount, 'none replaced')
  t.ok(pool.totalCount <= 4)
  t.equal(pool.idleCount, pool.totalCount, 'all idle again')

  await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(removed, 0, 'not even later')

  const before = pool.totalCount
  const removal = once(pool, 'remove')
  const error = await rejection(pool.query(CONFLICT))
  t.equal(error.code, '23505')
  t.equal(pool.totalCount, before - 1, 'for contrast: pool.query() destroys the connection its query failed on (a new backend for the next query)')
  await removal
})

t.test('a connection lost in a transaction: the error is thrown, the process survives, and only that client is dropped', async (t) => {
  const pool = db.newPool({ max: 1 })
  const removal = once(pool, 'remove')
  let thrown: unknown
  const error = await rejection(withTransaction(pool, async (c) => {
    const { rows } = await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
    await db.pool.query('SELECT pg_terminate_backend($1)', [rows[0]?.pid])
    await new Promise((resolve) => setTimeout(resolve, 50)) // the server's goodbye arrives while no query runs: an 'error' event
    await c.query('SELECT 1').catch((e: unknown) => { thrown = e; throw e })
  }, { retryOn: true }))
  t.equal(error, thrown, 'the error of the statement that met the lost connection')
  t.equal(pool.totalCount, 0, 'its client is dropped (ROLLBACK failed, so it was released with the error)')
  await removal
  t.equal(await withTransaction(pool, async (c) => (await c.query('SELECT 2 AS two')).rows[0].two), 2, 'the pool goes on')
})

t.test('a connection lost at a savepoint: the function\'s error is thrown, and not retried on a dead connection', async (t) => {
  const pool = db.newPool({ max: 1 })
  const client = await pool.connect()
  client.on('error', () => {}) // the caller owns this client, and its 'error' events
  t.teardown(() => { client.release(true) })
  const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid
  await client.query('BEGIN')
  const counters = new ConflictCounters()
  let calls = 0
  let conflict: unknown
  const error = await rejection(withTransaction(client, async (c) => {
    calls++
    await c.query(CONFLICT).catch((e: unknown) => { conflict = e })
    await db.pool.query('SELECT pg_terminate_backend($1)', [pid])
    await new Promise((resolve) => setTimeout(resolve, 50))
    throw conflict
  }, { retryOn: true, counters }))
  t.equal(error, conflict, 'the conflict, as the function threw it')
  t.equal(calls, 1)
  t.same(counters.snapshot(), {}, 'neither retried nor given up on: it could not be retried')
})

t.test('COMMIT answering ROLLBACK (the function swallowed an error) is reported, not taken for success', async (t) => {
  const pool = db.newPool({ max: 2 })
  let removed = 0
  pool.on('remove', () => { removed++ })
  let calls = 0
  const error = await rejection(withTransaction(pool, async (c) => {
    calls++
    await c.query("INSERT INTO audit VALUES ('lost')")
    await c.query(CONFLICT).catch(() => {}) // "it is there already, fine": but the transaction is dead
    return 'saved?'
  }, { retryOn: true }))
  t.ok(error instanceof RolledBackError)
  t.equal(error.code, 'PG_CONFLICT_ROLLED_BACK')
  t.match(error.message, /COMMIT answered ROLLBACK/)
  t.equal(calls, 1, 'not retried: what failed in it is not known')
  t.same(await notes(), [], 'nothing was saved')
  t.equal(removed, 0, 'the connection is fine and kept')
  t.equal(pool.idleCount, pool.totalCount)

  const client = await checkout(t)
  await client.query('BEGIN')
  await client.query("INSERT INTO audit VALUES ('outer')")
  const nested = await rejection(withTransaction(client, async (c) => {
    await c.query("INSERT INTO audit VALUES ('inner')")
    await c.query(CONFLICT).catch(() => {})
  }))
  t.equal(nested.code, 'PG_CONFLICT_ROLLED_BACK', 'at a savepoint too')
  t.match(nested.cause, { code: '25P02' })
  await client.query('COMMIT')
  t.same(await notes(), ['outer'], 'and there the enclosing transaction goes on without the function\'s work')
})

t.test('retry storms are bounded by attempts', async (t) => {
  const counters = new ConflictCounters()
  let calls = 0
  let last: unknown
  const error = await rejection(withTransaction(db.pool, async (c) => {
    calls++
    await c.query(CONFLICT).catch((e: unknown) => { last = e; throw e })
  }, { retryOn: [/^users_/], attempts: 4, backoff: { base: 1, max: 4 }, counters }))
  t.equal(calls, 4)
  t.equal(error, last, 'the last conflict is thrown as it was')
  t.same(counters.snapshot(), { users_email_key: { retried: 3, recovered: 0, gaveUp: 1 } })

  calls = 0
  await rejection(withTransaction(db.pool, async (c) => { calls++; await c.query(CONFLICT) }, { retryOn: true }))
  t.equal(calls, 3, 'three attempts by default')

  calls = 0
  t.match(await rejection(withTransaction(db.pool, async (c) => { calls++; await c.query(CONFLICT) })), { code: '23505' })
  t.equal(calls, 1, 'and no retry of a unique violation unless retryOn says so')
})

t.test('retry storms are bounded by maxTime: no attempt starts after it', async (t) => {
  const counters = new ConflictCounters()
  const starts: number[] = []
  const maxTime = 150
  await rejection(withTransaction(db.pool, async (c) => {
    starts.push(performance.now())
    await c.query('SELECT pg_sleep(0.04)')
    await c.query(CONFLICT)
  }, { retryOn: true, attempts: 20, maxTime, backoff: { base: 10, max: 10 }, counters }))
  const first = starts[0] ?? 0
  t.ok(starts.length >= 2 && starts.length < 20, `stopped by time, after ${starts.length} attempts`)
  // The decision to start an attempt is taken within maxTime (its backoff included); the timer
  // and the BEGIN before the function may add a few milliseconds.
  const latest = Math.max(...starts.map((start) => start - first))
  t.ok(latest <= maxTime + 50, `each attempt started within maxTime of the first (the last after ${Math.round(latest)} ms)`)
  t.ok(performance.now() - first < maxTime + 500, 'and the call ended soon after')
  t.same(counters.snapshot(), { users_email_key: { retried: starts.length - 1, recovered: 0, gaveUp: 1 } })
})

t.test('@fastify/postgres: fastify.pg is a pool, and a route\'s transaction (pg.transact) is kept with a savepoint', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPostgres, { connectionString: databaseUrl(), options: `-c search_path=${db.schema}`, max: 2 })
  let calls = 0
  app.post('/tags/:slug', { pg: { transact: true } }, async (request) => {
    const { slug } = request.params as { slug: string }
    const client = request.pg as pg.PoolClient
    await client.query("INSERT INTO audit VALUES ('request')")
    return await withTransaction(client, async (c) => {
      calls++
      const found = await c.query<{ id: number }>('SELECT id FROM tags WHERE slug = $1', [slug])
      if (found.rows[0] !== undefined) return { id: found.rows[0].id }
      if (calls === 1) await db.pool.query('INSERT INTO tags (slug) VALUES ($1)', [slug])
      return (await c.query<{ id: number }>('INSERT INTO tags (slug) VALUES ($1) RETURNING id', [slug])).rows[0]
    }, { retryOn: ['tags_slug_key'] })
  })
  await app.ready()
  const response = await app.inject({ method: 'POST', url: '/tags/raced' })
  t.equal(response.statusCode, 200)
  t.equal(calls, 2)
  t.same(await notes(), ['request'], 'the route\'s transaction committed its own work')

  t.equal(await withTransaction(app.pg, async (c) => (await c.query('SELECT 3 AS three')).rows[0].three), 3)
  t.equal(app.pg.pool.idleCount, app.pg.pool.totalCount, 'fastify.pg\'s clients are back')
})

t.test('bad options are refused before anything runs', async (t) => {
  const pool = db.newPool()
  let acquired = 0
  pool.on('acquire', () => { acquired++ })
  const run = async (): Promise<void> => {}
  const cases: Array<[unknown, RegExp]> = [
    ['serializable', /withTransaction options must be an object/],
    [[], /withTransaction options must be an object/],
    [{ retry: true }, /unknown option "retry" \(known: attempts, backoff, maxTime, retryOn, isolationLevel, counters\)/],
    [{ attempts: 0 }, /withTransaction options\.attempts must be a whole number from 1 to 20/],
    [{ attempts: 1.5 }, /options\.attempts/],
    [{ maxTime: -1 }, /options\.maxTime/],
    [{ backoff: { base: 10, max: 5 } }, /backoff\.max must not be less than backoff\.base/],
    [{ retryOn: 'users_email_key' }, /options\.retryOn must be true or an array/],
    [{ retryOn: false }, /options\.retryOn must be true or an array/],
    [{ retryOn: ['users_email_key', ''] }, /options\.retryOn\[1\] must be a constraint name or a RegExp/],
    [{ retryOn: [42] }, /options\.retryOn\[0\]/],
    [{ isolationLevel: 'SERIALIZABLE' }, /options\.isolationLevel must be one of "read committed", "repeatable read", "serializable"/],
    [{ counters: {} }, /options\.counters must be a ConflictCounters/]
  ]
  for (const [options, message] of cases) {
    const error = await rejection(withTransaction(pool, run, options as never))
    t.equal(error.code, 'PG_CONFLICT_INVALID_OPTION', JSON.stringify(options))
    t.match(error.message, message)
  }
  t.match(await rejection(withTransaction({} as never, run)), { code: 'PG_CONFLICT_INVALID_OPTION', message: /a pg\.Pool, fastify\.pg or a connected client/ })
  t.match(await rejection(withTransaction(pool, 'run' as never)), { code: 'PG_CONFLICT_INVALID_OPTION', message: /needs a function/ })
  t.equal(acquired, 0, 'no client was checked out')
})
