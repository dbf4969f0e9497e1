// PostgreSQL connections killed under load (pg_terminate_backend from another session, picking the
// app's backends by application_name): a lost connection is a 500, never a 409, and never logged
// as a unique violation; the service recovers; no answered write is lost. And a catalog read
// killed at start-up or during a refresh: start-up completes, conflicts keep being described.
//
// Restarting the server is not an option on a shared PostgreSQL (CI's 127.0.0.1:5432 serves other
// runs at the same time); terminating the app's backends is what a restart, a failover or a
// pooler dropping connections looks like from the app's side, one connection at a time.
import t from 'tap'
import pg from 'pg'
import fastifyPgConflict, { snakeToCamel } from '../src/index.js'
import { databaseUrl, testDatabase } from '../test/helpers/db.js'
import { runLoad } from './helpers/http-load.js'
import {
  accountsRoutes, AccountPairs, ACCOUNTS_SQL, buildApp, listen, OUTCOME, WARN, watchProcess, type LogLine
} from './helpers/fixture.js'

const db = await testDatabase(t, 'load_fault')
await db.exec(ACCOUNTS_SQL)
await db.exec(`
  CREATE TABLE events (tenant int NOT NULL, id int NOT NULL, UNIQUE (tenant, id)) PARTITION BY LIST (tenant);
  CREATE TABLE events_1 PARTITION OF events FOR VALUES IN (1);
  CREATE TABLE events_2 PARTITION OF events FOR VALUES IN (2);
  INSERT INTO events VALUES (1, 1), (2, 1);
`)

/** Another session, as an operator (or a failover) would be: it kills the app's connections. */
const admin = new pg.Client({ connectionString: databaseUrl() })
await admin.connect()
t.teardown(() => admin.end())

/** Terminates every backend whose application_name is `name`; gives how many. */
async function terminate (name: string): Promise<number> {
  const { rows } = await admin.query(
    'SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
    [name])
  return (rows[0] as { n: number }).n
}

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** Waits (at most `ms`) until a backend of `name` runs a statement starting with `query`. */
async function running (name: string, query: string, ms = 15_000): Promise<boolean> {
  const until = performance.now() + ms
  while (performance.now() < until) {
    const { rows } = await admin.query(
      "SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND state = 'active' AND query LIKE $2", [name, `${query}%`])
    if (rows.length > 0) return true
    await sleep(20)
  }
  return false
}

/** What a lost connection looks like in node-postgres: the server's FATAL 57P01, or the socket gone. */
function isConnectionError (err: LogLine['err']): boolean {
  return err !== undefined && (err.code === '57P01' || /Connection terminated|not queryable|terminating connection/.test(err.message ?? ''))
}

t.test('connections killed three times under load: 500s only for the requests on them, never a 409, nothing lost, service recovers', async (t) => {
  const watched = watchProcess(t)
  const name = `fpc-load-fault-${process.pid}`
  const pool = db.newPool({ max: 10, application_name: name })
  let poolErrors = 0
  pool.on('error', () => { poolErrors++ }) // idle connections killed: pg-pool drops them and says so here
  const { app, log } = buildApp(t, { keepConflictIds: true })
  await app.register(fastifyPgConflict, { pool, catalog: { schemas: [db.schema] }, fieldName: snakeToCamel, expose: { values: true, constraint: true } })
  accountsRoutes(app, pool)
  const port = await listen(app)

  const pairs = new AccountPairs('fault', 3000, 3) // 6000 requests
  const killAt = new Set([1500, 3000, 4500])
  const kills: Array<Promise<number>> = []
  const serverErrors: Array<{ i: number, status: number }> = []
  const ids = new Map<number, string>() // request → id of the row its 201 announced
  const outcome = await runLoad({
    port,
    connections: 100,
    total: pairs.total,
    deadlineMs: 60_000,
    idPrefix: 'fault-',
    request: (i) => {
      if (killAt.has(i)) kills.push(terminate(name))
      return { url: i % 4 === 3 ? '/accounts/tx' : '/accounts', body: pairs.account(i) }
    },
    onResponse: (i, _request, response) => {
      pairs.record(i, response.status, response.body)
      if (response.status === 201) ids.set(i, String((response.body as { id: unknown }).id))
      if (response.status >= 500) serverErrors.push({ i, status: response.status })
    }
  })
  const killed = await Promise.all(kills)

  t.ok(outcome.finished, `all ${pairs.total} requests answered before the deadline (in ${Math.round(outcome.elapsedMs)} ms)`)
  t.equal(outcome.clientErrors, 0, 'every request got an answer', { samples: outcome.clientErrorSamples })
  t.ok(killed.every((n) => n > 0), `each kill terminated the app's connections (${killed.join(', ')})`)
  t.ok(serverErrors.length > 0, `the kills broke requests in flight (${serverErrors.length} answered 5xx): otherwise this test shows nothing`)
  t.comment(`${pairs.counts.created} × 201, ${pairs.counts.conflict} × 409, ${serverErrors.length} × 5xx; ` +
    `${killed.reduce((a, b) => a + b, 0)} connections killed, ${poolErrors} idle ones reported by the pool`)

  // Connection errors are never conflicts.
  t.same([...new Set(serverErrors.map((e) => e.status))], [500], 'a lost connection is answered 500')
  t.equal(pairs.counts.other, 0, 'no status but 201, 409 and 500')
  t.equal(pairs.wrongCount, 0, 'every 409 names the key its pair shares: no connection error was answered as a conflict', { samples: pairs.wrong })
  const conflictIds = new Set<string>()
  for (let i = 0; i < pairs.total; i++) if (pairs.outcomes[i] === OUTCOME.conflict) conflictIds.add(`fault-${i}`)
  t.same([...log.conflictIds].filter((id) => !conflictIds.has(id)), [], "no 'unique violation' log line for anything but a 409")
  t.equal(log.conflictIds.size, conflictIds.size, "one 'unique violation' log line per 409")
  const errorLines = new Map<string, LogLine>()
  for (const line of log.problems) if (line.reqId !== undefined && line.err !== undefined) errorLines.set(line.reqId, line)
  const unexplained = serverErrors.filter(({ i }) => !isConnectionError(errorLines.get(`fault-${i}`)?.err))
    .map(({ i }) => `#${i}: ${JSON.stringify(errorLines.get(`fault-${i}`)?.err?.message)}`)
  t.same(unexplained, [], 'every 500 is logged with the connection error that caused it')
  t.comment(`errors behind the 500s: ${[...new Set(serverErrors.map(({ i }) => errorLines.get(`fault-${i}`)?.err?.message))].join(' | ')}`)
  // Not asserted: a killed connection can be handed to a waiting request before the pool sees it is dead.
  t.comment(`${serverErrors.length} requests failed for ${killed.reduce((a, b) => a + b, 0)} connections killed`)

  // Nothing lost: every 201 has its row; a 409 wrote nothing; a row no 201 announced can only
  // be a 500's whose COMMIT went through just before its connection died.
  const { rows } = await db.pool.query<{ id: string, email: string, handle: string }>(
    "SELECT id::text, email, handle FROM accounts WHERE handle LIKE 'fault-h%'")
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
  t.equal(rows.length - unannounced.length, pairs.counts.created, 'rows from requests answered 2xx == 2xx answers')
  t.comment(`${unannounced.length} row(s) from requests answered 500 (committed, then the connection died before the answer)`)

  // Recovery: the next requests all succeed.
  const again = new AccountPairs('again', 500, 5)
  const recovered = await runLoad({
    port,
    connections: 100,
    total: again.total,
    deadlineMs: 30_000,
    idPrefix: 'again-',
    request: (i) => ({ url: i % 4 === 3 ? '/accounts/tx' : '/accounts', body: again.account(i) }),
    onResponse: (i, _request, response) => { again.record(i, response.status, response.body) }
  })
  t.ok(recovered.finished && recovered.clientErrors === 0, `after the kills, ${again.total} more requests all answered`)
  t.equal(again.counts.serverError, 0, 'after the kills: no 5xx')
  t.equal(again.unevenPairs().count, 0, 'after the kills: one 201 and one 409 per pair, each 409 naming its key', { samples: again.wrong })
  t.equal(again.wrongCount, 0)
  const { rows: againRows } = await db.pool.query("SELECT count(*)::int AS n FROM accounts WHERE handle LIKE 'again-h%'")
  t.equal((againRows[0] as { n: number }).n, again.counts.created, 'after the kills: rows == 2xx')

  t.same(watched.unhandled, [], 'no unhandled rejection')
  t.same(watched.uncaught, [], 'no uncaught exception')
})

t.test('the catalog read killed at start-up and during a refresh: start-up completes, conflicts stay described, the catalog is read again', async (t) => {
  const watched = watchProcess(t)
  const name = `fpc-load-catalog-${process.pid}`
  const catalogPool = db.newPool({ max: 2, application_name: name })
  catalogPool.on('error', () => {})
  const appPool = db.newPool({ max: 10 })
  // The catalog read made slow enough to be killed in the middle: a pg_sleep on its connection
  // first, while `slow` is set. Catalog reads are counted.
  let slow = true
  let reads = 0
  const query = catalogPool.query.bind(catalogPool) as (text: string, values?: unknown[]) => Promise<pg.QueryResult>
  Object.assign(catalogPool, {
    query: async (text: string, values?: unknown[]) => {
      if (!text.includes('indisunique')) return await query(text, values) // the unique indexes query: the catalog read, not its version
      reads++
      if (!slow) return await query(text, values)
      slow = false
      const client = await catalogPool.connect()
      client.on('error', () => {})
      try {
        await client.query('SELECT pg_sleep(20)')
        const result = await client.query(text, values)
        client.release()
        return result
      } catch (error) {
        client.release(error as Error)
        throw error
      }
    }
  })
  const { app, log } = buildApp(t)
  await app.register(fastifyPgConflict, { pool: catalogPool, catalog: { schemas: [db.schema], timeout: 30_000 }, expose: { constraint: true } })
  app.post<{ Body: { tenant: number, id: number } }>('/events', async (request, reply) => {
    const client = await appPool.connect()
    try {
      await client.query('INSERT INTO events VALUES ($1, $2)', [request.body.tenant, request.body.id])
      return reply.code(201).send({})
    } finally {
      client.release()
    }
  })
  const catalogWarnings = (): LogLine[] => log.problems.filter((line) => line.level === WARN && line.msg.includes('could not read the catalog'))
  // Only the catalog knows that events_1_tenant_id_key belongs to events' events_tenant_id_key.
  const described = { statusCode: 409, code: 'PG_UNIQUE_VIOLATION', constraint: 'events_tenant_id_key', table: 'events', fields: ['tenant', 'id'] }

  const starting = listen(app)
  t.ok(await running(name, 'SELECT pg_sleep'), 'the start-up catalog read is under way')
  t.ok(await terminate(name) >= 1, 'its connection is killed')
  const port = await starting
  t.pass('start-up completed')
  t.equal(catalogWarnings().length, 1, 'a warning says the catalog could not be read')
  t.ok(isConnectionError(catalogWarnings()[0]?.err), 'naming the lost connection', { err: catalogWarnings()[0]?.err?.message })

  const send = async (tenant: number): Promise<unknown> => {
    const response = await fetch(`http://127.0.0.1:${port}/events`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ tenant, id: 1 })
    })
    return { statusCode: response.status, ...(await response.json() as object) }
  }
  t.match(await send(1), described, 'the first conflict reads the catalog again, and names the partitioned table')
  t.equal(reads, 2, 'one read at start-up (killed), one for that conflict')

  // A refresh killed while conflicts keep coming: they are described by the catalog read before.
  slow = true
  const refreshing = app.pgConflict.refresh()
  t.ok(await running(name, 'SELECT pg_sleep'), 'a refresh is under way')
  const during = await Promise.all(Array.from({ length: 50 }, async (_, i) => await send(1 + (i % 2))))
  t.ok(await terminate(name) >= 1, "the refresh's connection is killed")
  await refreshing
  t.pass('refresh() resolved')
  t.equal(catalogWarnings().length, 2, 'a warning says the catalog could not be read')
  t.match(during, Array.from({ length: 50 }, () => described), 'conflicts during the refresh: described by the catalog read before')
  t.match(await send(2), described, 'after the failed refresh: still')
  t.equal(reads, 3, 'no read for an index the cache knows')

  // The next schema change is picked up: the cache was not left broken.
  await db.exec('CREATE TABLE events_3 PARTITION OF events FOR VALUES IN (3); INSERT INTO events VALUES (3, 1)')
  t.match(await send(3), described, 'a partition added after the failed refresh: read, and named as its partitioned table')
  t.equal(reads, 4)

  t.same(watched.unhandled, [], 'no unhandled rejection')
  t.same(watched.uncaught, [], 'no uncaught exception')
})
