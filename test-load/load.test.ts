// 20 000 requests over 100 connections, half of them duplicates, against real PostgreSQL on real
// HTTP: no 5xx, one row per 2xx, every 409 naming the key its pair shares, no unhandled
// rejection, no catalog read per request, and a heap that ends where it began.
import t from 'tap'
import type pg from 'pg'
import fastifyPgConflict, { snakeToCamel } from '../src/index.js'
import { testDatabase } from '../test/helpers/db.js'
import { runLoad, type LoadOutcome } from './helpers/http-load.js'
import {
  accountRows, accountsRoutes, AccountPairs, ACCOUNTS_SQL, buildApp, countConnections, listen, MB, settledHeap, watchProcess
} from './helpers/fixture.js'

const CONNECTIONS = 100
const PAIRS = 10_000 // 20 000 requests
/** The heap may end this much above where it began (a leak of 250 bytes a request would exceed it). */
const HEAP_BOUND = 5 * MB

const db = await testDatabase(t, 'load_http')
await db.exec(ACCOUNTS_SQL)

/**
 * Counts the catalog reads made through `pool.query`. The pool itself stays what the plugin gets
 * (a wrapper with only `query` would make `app.pgConflict.withTransaction` run its statements on
 * different connections: see test-load/README.md).
 */
function countCatalogReads (pool: pg.Pool): { reads: number } {
  const counter = { reads: 0 }
  const query = pool.query.bind(pool) as (text: string, values?: unknown[]) => Promise<pg.QueryResult>
  Object.assign(pool, {
    query: async (text: string, values?: unknown[]) => {
      if (text.includes('indisunique')) counter.reads++ // the unique indexes query: a catalog read, not a version query
      return await query(text, values)
    }
  })
  return counter
}

t.test('20 000 requests, half duplicates, 100 connections: no 5xx, rows == 2xx, every 409 names its key, heap bounded', async (t) => {
  const watched = watchProcess(t)
  const pool = db.newPool({ max: 10, application_name: `fpc-load-http-${process.pid}` })
  const poolErrors: string[] = []
  pool.on('error', (error) => { poolErrors.push(error.message) })
  const catalog = countCatalogReads(pool)
  const { app, log } = buildApp(t)
  await app.register(fastifyPgConflict, {
    pool,
    catalog: { schemas: [db.schema] },
    fieldName: snakeToCamel,
    expose: { values: true, constraint: true }
  })
  accountsRoutes(app, pool)
  const port = await listen(app)
  const connections = countConnections(app)
  t.equal(catalog.reads, 1, 'the catalog is read once, at start-up')

  const run = async (pairs: AccountPairs): Promise<LoadOutcome> => await runLoad({
    port,
    connections: CONNECTIONS,
    total: pairs.total,
    deadlineMs: 90_000,
    idPrefix: `${pairs.prefix}-`,
    // One request in four through withTransaction, the rest on a client checked out by hand.
    request: (i) => ({ url: i % 4 === 3 ? '/accounts/tx' : '/accounts', body: pairs.account(i) }),
    onResponse: (i, _request, response) => { pairs.record(i, response.status, response.body) }
  })

  // Warm-up: the code paths compiled, the pool's connections open, the plugin's per-column
  // memories (sequence checks) filled. The heap is measured after it.
  const warm = new AccountPairs('warm', 1000, 7)
  const warmed = await run(warm)
  t.ok(warmed.finished, `warm-up: ${warm.total} requests answered`)
  const main = new AccountPairs('main', PAIRS, 11) // made before the heap is measured: its arrays are the test's, not the app's
  const conflictLinesBefore = log.conflictLines
  const heapBefore = await settledHeap()
  connections.count = 0

  const outcome = await run(main)

  const heapAfter = await settledHeap()
  t.ok(outcome.finished, `all ${main.total} requests answered before the deadline (${outcome.answered} answered, in ${Math.round(outcome.elapsedMs)} ms)`)
  t.equal(outcome.clientErrors, 0, 'no request went unanswered', { samples: outcome.clientErrorSamples })
  t.equal(connections.count, CONNECTIONS, `over ${CONNECTIONS} connections`)

  t.equal(main.counts.serverError, 0, 'no 5xx')
  t.equal(main.counts.other, 0, 'no status but 201 and 409')
  t.equal(main.counts.created, PAIRS, 'one 201 per pair')
  t.equal(main.counts.conflict, PAIRS, 'one 409 per pair')
  t.equal(main.wrongCount, 0, 'every 409 body names the key its pair shares (fields, constraint, table, values, message)', { samples: main.wrong })
  const uneven = main.unevenPairs()
  t.equal(uneven.count, 0, 'in every pair, one request created the row and the other got the 409', { samples: uneven.samples })
  t.equal(await accountRows(db.pool, 'main'), main.counts.created, 'rows in the table == 2xx answers')
  t.equal(log.conflictLines - conflictLinesBefore, main.counts.conflict, "one 'unique violation' log line per 409")
  t.equal(log.problemCount, 0, 'nothing logged at warn or above', { first: log.problems.slice(0, 3) })

  t.equal(catalog.reads, 1, 'no catalog read during the load: the cache answered every conflict')
  const growth = heapAfter - heapBefore
  t.comment(`heap after warm-up ${(heapBefore / MB).toFixed(1)} MB, after ${main.total} requests ${(heapAfter / MB).toFixed(1)} MB (${growth >= 0 ? '+' : ''}${(growth / MB).toFixed(2)} MB); ` +
    `${Math.round(outcome.elapsedMs)} ms, ${Math.round(main.total / (outcome.elapsedMs / 1000))} requests/s`)
  t.ok(growth < HEAP_BOUND, `the heap after the load is within ${HEAP_BOUND / MB} MB of the heap before (grew ${(growth / MB).toFixed(2)} MB)`)

  t.same(watched.unhandled, [], 'no unhandled rejection')
  t.same(watched.uncaught, [], 'no uncaught exception')
  t.same(poolErrors, [], 'no pool error')
})
