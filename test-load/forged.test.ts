// Forged errors mixed into load: one request in three goes to a route that copies the request's
// JSON onto an Error and throws it (what a route relaying an upstream service's error body does),
// each naming a new constraint on a table no route touches, with repairSequences on. Real HTTP,
// real PostgreSQL, 100 connections. Every forged error is passed on untouched (Fastify's own 500,
// with its message), the plugin makes no query during the load (no catalog read, no version
// query, no sequence check, no repair), the secret table's sequence does not move, and the real
// conflicts around them are answered as ever.
import t from 'tap'
import type pg from 'pg'
import fastifyPgConflict, { snakeToCamel } from '../src/index.js'
import { testDatabase } from '../test/helpers/db.js'
import { runLoad } from './helpers/http-load.js'
import { accountRows, accountsRoutes, AccountPairs, ACCOUNTS_SQL, buildApp, listen, watchProcess } from './helpers/fixture.js'

const CONNECTIONS = 100
const PAIRS = 4000 // 8 000 real requests
const FORGED = 4000 // and 4 000 forged ones, every third request

const db = await testDatabase(t, 'load_forged')
const secret = `${db.schema}_secret`
await db.exec(`${ACCOUNTS_SQL};
  DROP SCHEMA IF EXISTS ${secret} CASCADE; CREATE SCHEMA ${secret};
  CREATE TABLE ${secret}.ledger (id serial PRIMARY KEY, amount int);`)
t.teardown(() => db.exec(`DROP SCHEMA IF EXISTS ${secret} CASCADE`))

/** The plugin's pool: the pool itself (withTransaction needs it), its `query` counting what goes through it. */
function countQueries (pool: pg.Pool): { queries: string[] } {
  const counter = { queries: [] as string[] }
  const query = pool.query.bind(pool) as (text: string, values?: unknown[]) => Promise<pg.QueryResult>
  Object.assign(pool, {
    query: async (text: string, values?: unknown[]) => {
      if (counter.queries.length < 100) counter.queries.push(text.slice(0, 80))
      return await query(text, values)
    }
  })
  return counter
}

/** What the attacker sends: a unique violation on the secret table, its own constraint name each time, text of its own in DETAIL. */
function forged (n: number): Record<string, unknown> {
  return {
    length: 184,
    name: 'error',
    severity: 'ERROR',
    code: '23505',
    message: `forged ${n}`,
    detail: `Key (<img src=x onerror=alert(${n})>)=(50) already exists.`,
    schema: secret,
    table: 'ledger',
    constraint: `ledger_made_up_${n}_key`,
    file: 'nbtinsert.c',
    line: '664',
    routine: '_bt_check_unique'
  }
}

async function ledgerSequence (): Promise<unknown> {
  return (await db.pool.query(`SELECT last_value::text, is_called FROM ${secret}.ledger_id_seq`)).rows[0]
}

t.test(`${PAIRS * 2} real requests and ${FORGED} forged errors, 100 connections: the forged ones passed on, no query, no write`, async (t) => {
  const watched = watchProcess(t)
  const pool = db.newPool({ max: 10 })
  const { app, log } = buildApp(t)
  await app.register(fastifyPgConflict, {
    pool,
    catalog: { schemas: [db.schema, secret] },
    repairSequences: true,
    fieldName: snakeToCamel,
    expose: { values: true, constraint: true }
  })
  accountsRoutes(app, pool)
  app.post<{ Body: Record<string, unknown> }>('/upstream', async (request) => {
    throw Object.assign(new Error('upstream failed'), request.body)
  })
  const port = await listen(app)

  // Which request is which: every third one forged, the others the pairs' in their order.
  const pairs = new AccountPairs('forged', PAIRS, 13)
  const total = pairs.total + FORGED
  const real = new Int32Array(total).fill(-1)
  let r = 0
  let f = 0
  for (let i = 0; i < total; i++) {
    if ((i % 3 === 2 && f < FORGED) || r >= pairs.total) f++
    else real[i] = r++
  }
  // Warm-up: the per-column memories (sequence checks of the unique keys' columns) filled.
  const warm = new AccountPairs('forged-warm', 200, 5)
  await runLoad({
    port, connections: 20, total: warm.total, deadlineMs: 60_000, idPrefix: 'warm-',
    request: (i) => ({ url: '/accounts', body: warm.account(i) }),
    onResponse: (i, _request, response) => { warm.record(i, response.status, response.body) }
  })
  const sequenceBefore = await ledgerSequence()
  const counted = countQueries(pool)

  let forgedAnswers = 0
  const wrongForged: string[] = []
  const outcome = await runLoad({
    port,
    connections: CONNECTIONS,
    total,
    deadlineMs: 120_000,
    idPrefix: 'main-',
    request: (i) => {
      const index = real[i] as number
      return index === -1 ? { url: '/upstream', body: forged(i) } : { url: '/accounts', body: pairs.account(index) }
    },
    onResponse: (i, _request, response) => {
      const index = real[i] as number
      if (index !== -1) {
        pairs.record(index, response.status, response.body)
        return
      }
      forgedAnswers++
      // Fastify's own answer to the thrown Error, as without the plugin: a 500 with its message.
      const body = response.body as Record<string, unknown> | undefined
      if (response.status !== 500 || body?.message !== `forged ${i}` || body.code !== '23505' || JSON.stringify(body).includes('<img')) {
        if (wrongForged.length < 5) wrongForged.push(`#${i}: ${response.status} ${JSON.stringify(body)}`)
      }
    }
  })

  t.ok(outcome.finished, `all ${total} requests answered (${Math.round(outcome.elapsedMs)} ms)`)
  t.equal(outcome.clientErrors, 0, 'no request went unanswered', { samples: outcome.clientErrorSamples })
  t.equal(forgedAnswers, FORGED, 'every forged error answered')
  t.same(wrongForged, [], 'each one Fastify\'s own 500 with the error\'s message: passed on untouched, none of its DETAIL in the body')
  t.same(counted.queries, [], 'the plugin made no query during the load: no catalog read, no version query, no sequence check, no repair')
  t.same(await ledgerSequence(), sequenceBefore, 'the secret table\'s sequence did not move')

  t.equal(pairs.counts.created, PAIRS, 'the real requests: one 201 per pair')
  t.equal(pairs.counts.conflict, PAIRS, 'and one 409 per pair')
  t.equal(pairs.wrongCount, 0, 'every 409 body exactly the expected one', { samples: pairs.wrong })
  t.equal(await accountRows(db.pool, 'forged'), PAIRS, 'rows == 201s')
  t.same(log.problems.filter((line) => line.msg.includes('fastify-pg-conflict')), [], 'the plugin logged nothing at warn or above')
  t.comment(`${total} requests in ${Math.round(outcome.elapsedMs)} ms, ${Math.round(total / (outcome.elapsedMs / 1000))} requests/s`)
  t.same(watched.unhandled, [], 'no unhandled rejection')
  t.same(watched.uncaught, [], 'no uncaught exception')
})
