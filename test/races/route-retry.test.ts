// Races between requests: the check-then-insert handler under real concurrency, route retries,
// onConflict hooks, and the bounds that keep a retry from becoming a storm.
import t from 'tap'
import fastifyPostgres from '@fastify/postgres'
import type pg from 'pg'
import { Readable } from 'node:stream'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import fastifyPgConflict, { type Conflict } from '../../src/index.js'
import { retryingHandler } from '../../src/races/route-retry.js'
import { ConflictCounters } from '../../src/races/counters.js'
import { DEFAULT_RETRY } from '../../src/races/retry.js'
import { buildApp } from '../helpers/app.js'
import { databaseUrl, testDatabase } from '../helpers/db.js'

const db = await testDatabase(t, 'races')
const pool = db.newPool({ max: 10 })
await db.exec('CREATE TABLE accounts (id serial PRIMARY KEY, email text NOT NULL CONSTRAINT accounts_email_key UNIQUE)')

/** A barrier: each caller waits until `n` have arrived (later callers pass at once). */
function barrier (n: number): () => Promise<void> {
  let arrived = 0
  let open: () => void = () => {}
  const opened = new Promise<void>((resolve) => { open = resolve })
  return async () => {
    if (++arrived >= n) open()
    await opened
  }
}

/**
 * The classic race: look for the email, and insert it when absent. `checked` holds every request
 * between its check and its insert until all have checked, so that all of them race. Queries run
 * on checked-out clients, released cleanly.
 */
async function checkThenInsert (email: string, reply: FastifyReply, checked: () => Promise<void>): Promise<unknown> {
  const existing = await pool.query('SELECT id, email FROM accounts WHERE email = $1', [email])
  if (existing.rows.length > 0) return existing.rows[0] // the application's own answer: the account exists
  await checked()
  const client = await pool.connect()
  try {
    const inserted = await client.query('INSERT INTO accounts (email) VALUES ($1) RETURNING id, email', [email])
    reply.code(201)
    return inserted.rows[0]
  } finally {
    client.release()
  }
}

async function race (app: FastifyInstance, email: string, n = 50): Promise<{ statuses: number[], rows: number }> {
  const responses = await Promise.all(Array.from({ length: n }, () =>
    app.inject({ method: 'POST', url: '/accounts', payload: { email } })))
  const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM accounts WHERE email = $1', [email])
  return { statuses: responses.map((r) => r.statusCode), rows: (rows[0] as { n: number }).n }
}

const count = (statuses: number[], pick: (s: number) => boolean): number => statuses.filter(pick).length

t.test('50 concurrent check-then-insert requests without retry: one row, one 201, the rest 409, no 5xx', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { pool: db.pool, catalog: { schemas: [db.schema] } })
  const checked = barrier(50)
  app.post<{ Body: { email: string } }>('/accounts', async (request, reply) => await checkThenInsert(request.body.email, reply, checked))
  const { statuses, rows } = await race(app, 'race-no-retry@example.com')
  t.equal(rows, 1, 'exactly one row')
  t.equal(count(statuses, (s) => s === 201), 1, 'one 201')
  t.equal(count(statuses, (s) => s === 409), 49, 'the 49 that lost the race: 409')
  t.equal(count(statuses, (s) => s >= 500), 0, 'no 5xx')
})

t.test('the same race with retry: every request 2xx (the retry sees the row), one row', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { pool: db.pool, catalog: { schemas: [db.schema] } })
  const checked = barrier(50)
  app.post<{ Body: { email: string } }>('/accounts', { config: { conflict: { retry: { constraints: ['accounts_email_key'] } } } },
    async (request, reply) => await checkThenInsert(request.body.email, reply, checked))
  const { statuses, rows } = await race(app, 'race-retry@example.com')
  t.equal(rows, 1, 'exactly one row')
  t.equal(count(statuses, (s) => s === 201), 1, 'one of them created it')
  t.equal(count(statuses, (s) => s === 200), 49, 'the 49 others, retried, found it: 200')
  const counts = app.pgConflict.counters().accounts_email_key
  t.ok(counts !== undefined && counts.retried > 0 && counts.recovered === counts.retried && counts.gaveUp === 0,
    `counters: ${JSON.stringify(counts)}`)
})

t.test('the same race with an onConflict hook that re-reads the winning row: all 2xx, one row', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { pool: db.pool, catalog: { schemas: [db.schema] } })
  const onConflict = async (conflict: Conflict, request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (conflict.constraint !== 'accounts_email_key') return
    const { rows } = await pool.query('SELECT id, email FROM accounts WHERE email = $1', [(request.body as { email: string }).email])
    await reply.code(200).send(rows[0]) // an idempotent create: here is the account
  }
  const checked = barrier(50)
  app.post<{ Body: { email: string } }>('/accounts', { config: { conflict: { onConflict } } },
    async (request, reply) => await checkThenInsert(request.body.email, reply, checked))
  const email = 'race-hook@example.com'
  const responses = await Promise.all(Array.from({ length: 50 }, () => app.inject({ method: 'POST', url: '/accounts', payload: { email } })))
  const { rows } = await db.pool.query('SELECT id FROM accounts WHERE email = $1', [email])
  t.equal(rows.length, 1, 'exactly one row')
  t.equal(responses.filter((r) => r.statusCode === 201).length, 1, 'one created it')
  t.equal(responses.filter((r) => r.statusCode === 200).length, 49, 'the hook answered the 49 others with the winning row')
  t.ok(responses.every((r) => r.json().id === (rows[0] as { id: number }).id), 'all name the same account')
})

t.test('retry storms are bounded: a constraint that always conflicts gives up after the attempts, then 409', async (t) => {
  await db.exec("INSERT INTO accounts (email) VALUES ('taken@example.com') ON CONFLICT DO NOTHING")
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { pool: db.pool, catalog: { schemas: [db.schema] } })
  let calls = 0
  const insertTaken = async (): Promise<void> => {
    calls++
    const client = await pool.connect()
    try { await client.query("INSERT INTO accounts (email) VALUES ('taken@example.com')") } finally { client.release() }
  }
  app.post('/by-attempts', { config: { conflict: { retry: { attempts: 4, backoff: { base: 1, max: 2 }, constraints: [/^accounts_/] } } } }, insertTaken)
  app.post('/by-time', { config: { conflict: { retry: { attempts: 20, backoff: { base: 40, max: 40 }, maxTime: 100 } } } }, insertTaken)

  const byAttempts = await app.inject({ method: 'POST', url: '/by-attempts' })
  t.equal(byAttempts.statusCode, 409, 'the normal 409 after the last attempt')
  t.same(byAttempts.json().fields, ['email'])
  t.equal(calls, 4, 'four attempts, no more')
  t.match(app.pgConflict.counters().accounts_email_key, { gaveUp: 1 })

  calls = 0
  const started = performance.now()
  const byTime = await app.inject({ method: 'POST', url: '/by-time' })
  const elapsed = performance.now() - started
  t.equal(byTime.statusCode, 409)
  t.ok(calls < 20 && calls >= 1, `maxTime stopped it after ${calls} attempts`)
  t.ok(elapsed < 2000, 'and it did not go on for long')
})

t.test('each attempt starts with the status and headers the reply had before the first', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { catalog: false })
  let calls = 0
  app.post('/flaky', {
    onRequest: async (_request, reply) => { reply.header('x-request-hook', 'kept') },
    config: { conflict: { retry: { backoff: { base: 0, max: 0 } } } }
  }, async (_request, reply) => {
    calls++
    if (calls === 1) {
      reply.code(202).header('x-from-failed-attempt', 'yes').header('x-request-hook', 'overwritten')
      await db.pool.query("INSERT INTO accounts (email) VALUES ('taken@example.com')")
    }
    return { attempt: calls }
  })
  const response = await app.inject({ method: 'POST', url: '/flaky' })
  t.equal(response.statusCode, 200, "the failed attempt's status is gone")
  t.same(response.json(), { attempt: 2 })
  t.equal(response.headers['x-from-failed-attempt'], undefined, "the failed attempt's header is gone")
  t.equal(response.headers['x-request-hook'], 'kept', 'what was set before the handler is back as it was')
})

t.test('never a retry once the reply was sent', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { catalog: false })
  let calls = 0
  app.post('/sent', { config: { conflict: { retry: true } } }, async (_request, reply) => {
    calls++
    await reply.send({ sent: true })
    await db.pool.query("INSERT INTO accounts (email) VALUES ('taken@example.com')")
  })
  const response = await app.inject({ method: 'POST', url: '/sent' })
  t.same(response.json(), { sent: true })
  t.equal(calls, 1)
})

t.test('a synchronous handler stays synchronous', async (t) => {
  const handler = (): string => 'done'
  const wrapped = retryingHandler(handler as never, {
    policy: DEFAULT_RETRY, retries: () => true, fallbackPolicy: DEFAULT_RETRY, hooks: [],
    describe: async () => { throw new Error('not called') }, counters: new ConflictCounters(), offered: new WeakSet(),
    sequenceColliding: async () => undefined, repair: undefined, mayRunAgain: true
  })
  const reply = { statusCode: 200, raw: { statusCode: 200 }, getHeaders: () => ({}), send: () => reply }
  t.equal((wrapped as (...args: unknown[]) => unknown).call(undefined, {}, reply), 'done', 'the value itself, not a promise')
})

t.test("onConflict: 'retry' from a hook retries with the default bounds; a conflict in a preHandler can be answered by the hook", async (t) => {
  const { app } = buildApp(t)
  const seen: number[] = []
  await app.register(fastifyPgConflict, {
    catalog: false,
    onConflict: (_conflict, request, reply, attempt) => {
      seen.push(attempt)
      if (request.url === '/hook-error') return void reply.code(200).send({ answeredBy: 'hook' })
      return 'retry'
    }
  })
  app.post('/always', async () => { await db.pool.query("INSERT INTO accounts (email) VALUES ('taken@example.com')") })
  app.post('/bounded', { config: { conflict: { retry: { attempts: 2, constraints: ['no_such_key'] } } } },
    async () => { await db.pool.query("INSERT INTO accounts (email) VALUES ('taken@example.com')") })
  app.post('/hook-error', { preHandler: async () => { await db.pool.query("INSERT INTO accounts (email) VALUES ('taken@example.com')") } }, async () => 'unreached')
  const always = await app.inject({ method: 'POST', url: '/always' })
  t.equal(always.statusCode, 409)
  t.same(seen, [1, 2, 3], `the hook saw attempts 1 to ${DEFAULT_RETRY.attempts}, then the 409 went out`)
  seen.length = 0
  t.equal((await app.inject({ method: 'POST', url: '/bounded' })).statusCode, 409)
  t.same(seen, [1, 2], "on a route with its own retry bounds, the hook's retry keeps to them")
  seen.length = 0
  const hookError = await app.inject({ method: 'POST', url: '/hook-error' })
  t.same(hookError.json(), { answeredBy: 'hook' })
  t.same(seen, [1], 'asked once, from the error path')
})

t.test('a route hook answers before the plugin-wide one is asked', async (t) => {
  const { app } = buildApp(t)
  let pluginHookCalls = 0
  await app.register(fastifyPgConflict, { catalog: false, onConflict: () => { pluginHookCalls++ } })
  app.post('/r', { config: { conflict: { onConflict: (_c, _req, reply) => { void reply.code(200).send({ by: 'route' }) } } } },
    async () => { await db.pool.query("INSERT INTO accounts (email) VALUES ('taken@example.com')") })
  t.same((await app.inject({ method: 'POST', url: '/r' })).json(), { by: 'route' })
  t.equal(pluginHookCalls, 0)
})

t.test('retry is refused on a route that runs inside a transaction it does not own (@fastify/postgres transact)', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { catalog: false })
  t.throws(() => app.post('/tx', { pg: { transact: true }, config: { conflict: { retry: true } } } as never, async () => 'x'),
    { code: 'PG_CONFLICT_INVALID_OPTION', message: /transaction it does not own.*25P02/ })
})

t.test('bad retry options are refused when the route is added', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { catalog: false })
  const bad: Array<[unknown, RegExp]> = [
    [{ attempts: 0 }, /retry\.attempts must be a whole number from 1 to 20/],
    [{ attempts: 1.5 }, /retry\.attempts must be a whole number/],
    [{ backoff: { base: 50, max: 10 } }, /backoff\.max must not be less than backoff\.base/],
    [{ backoff: 5 }, /retry\.backoff must be an object/],
    [{ backoff: { min: 1 } }, /backoff takes only base and max/],
    [{ maxTime: -1 }, /retry\.maxTime must be a whole number/],
    [{ constraints: 'accounts_email_key' }, /retry\.constraints must be an array/],
    [{ constraints: [''] }, /retry\.constraints must be an array of constraint names or RegExps/],
    [{ tries: 3 }, /unknown option "tries"/],
    ['yes', /retry must be true or an object/]
  ]
  let i = 0
  for (const [retry, message] of bad) {
    t.throws(() => app.post(`/bad-${i++}`, { config: { conflict: { retry } as never } }, async () => 'x'),
      { code: 'PG_CONFLICT_INVALID_OPTION', message }, JSON.stringify(retry))
  }
  t.throws(() => app.post('/bad-hook', { config: { conflict: { onConflict: 'retry' } as never } }, async () => 'x'), { message: /onConflict must be a function/ })
})

t.test('a synchronous handler that throws a conflict is retried too; a conflict without a constraint is counted as (none)', async (t) => {
  const taken = await db.errorOf("INSERT INTO accounts (email) VALUES ('taken@example.com')")
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { catalog: false })
  let calls = 0
  app.post('/sync', { config: { conflict: { retry: { attempts: 2, backoff: { base: 0, max: 0 } } } } }, () => {
    calls++
    if (calls === 1) throw taken
    return { attempt: calls }
  })
  app.post('/raised', { config: { conflict: { retry: { attempts: 2, backoff: { base: 0, max: 0 } } } } }, async () => {
    await db.pool.query("DO $$ BEGIN RAISE unique_violation USING MESSAGE = 'taken'; END $$")
  })
  t.same((await app.inject({ method: 'POST', url: '/sync' })).json(), { attempt: 2 })
  t.equal((await app.inject({ method: 'POST', url: '/raised' })).statusCode, 409)
  t.same(app.pgConflict.counters(), {
    accounts_email_key: { retried: 1, recovered: 1, gaveUp: 0 },
    '(none)': { retried: 1, recovered: 0, gaveUp: 1 }
  })
})

t.test('an onConflict hook that returns nothing lets the 409 go out, and is asked once', async (t) => {
  const { app } = buildApp(t)
  const seen: Array<string | undefined> = []
  await app.register(fastifyPgConflict, { catalog: false, onConflict: (conflict) => { seen.push(conflict.constraint) } })
  app.post('/plain', async () => { await db.pool.query("INSERT INTO accounts (email) VALUES ('taken@example.com')") })
  const response = await app.inject({ method: 'POST', url: '/plain' })
  t.equal(response.statusCode, 409)
  t.same(response.json().fields, ['email'])
  t.same(seen, ['accounts_email_key'])
})

t.test('retry.constraints limits retries to the constraints named', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { catalog: false })
  let calls = 0
  app.post('/other', { config: { conflict: { retry: { constraints: ['teams_name_key'] } } } }, async () => {
    calls++
    await db.pool.query("INSERT INTO accounts (email) VALUES ('taken@example.com')")
  })
  t.equal((await app.inject({ method: 'POST', url: '/other' })).statusCode, 409)
  t.equal(calls, 1, 'accounts_email_key is not listed: no retry')
})

t.test('app.pgConflict.withTransaction: the plugin pool (or @fastify/postgres), retried races counted with the routes', async (t) => {
  await db.exec('CREATE TABLE tags (id serial PRIMARY KEY, slug text CONSTRAINT tags_slug_key UNIQUE)')
  const { app } = buildApp(t)
  await app.register(fastifyPostgres, { connectionString: databaseUrl(), options: `-c search_path=${db.schema}`, max: 10 })
  await app.register(fastifyPgConflict, { catalog: false })
  await app.ready()
  // The race made sure of: the first two calls to find no tag both go on to insert it (however
  // slowly the pool's connections open), so one of them meets the other's row.
  let empty = 0
  let bothChecked!: () => void
  const barrier = new Promise<void>((resolve) => { bothChecked = resolve })
  const results = await Promise.all(Array.from({ length: 20 }, async () => await app.pgConflict.withTransaction(async (client: pg.PoolClient) => {
    const found = await client.query('SELECT id FROM tags WHERE slug = $1', ['news'])
    if (found.rows.length > 0) return (found.rows[0] as { id: number }).id
    if (++empty === 2) bothChecked()
    if (empty <= 2) await barrier
    const { rows } = await client.query('INSERT INTO tags (slug) VALUES ($1) RETURNING id', ['news'])
    return (rows[0] as { id: number }).id
  }, { retryOn: ['tags_slug_key'], attempts: 5 })))
  t.equal(new Set(results).size, 1, 'every call returns the one tag')
  const counts = app.pgConflict.counters().tags_slug_key
  t.ok(counts !== undefined && counts.retried > 0 && counts.gaveUp === 0, `counted: ${JSON.stringify(counts)}`)

  const { app: bare } = buildApp(t)
  await bare.register(fastifyPgConflict, { catalog: false })
  await bare.ready()
  await t.rejects(bare.pgConflict.withTransaction(async () => 1), { code: 'PG_CONFLICT_INVALID_OPTION', message: /needs a pool/ })

  const { app: queryOnly } = buildApp(t)
  await queryOnly.register(fastifyPgConflict, { catalog: false, pool: { query: async (text: string, values?: unknown[]) => await pool.query(text, values) } })
  await queryOnly.ready()
  await t.rejects(queryOnly.pgConflict.withTransaction(async () => 1), { code: 'PG_CONFLICT_INVALID_OPTION', message: /has only query\(\)/ },
    'a query-only pool is refused: its statements could land on different connections')
})

t.test('on a wrapped route, a handler that returns reply (a stream, a plain send) is left alone', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { catalog: false, onConflict: () => {} }) // a plugin-wide hook: every route wrapped
  app.get('/stream', (_request, reply) => reply.type('text/plain').send(Readable.from(['hello ', 'world'])))
  app.get('/plain', (_request, reply) => reply.send({ ok: true }))
  const stream = await app.inject({ url: '/stream' })
  t.equal(stream.statusCode, 200)
  t.equal(stream.body, 'hello world')
  t.same((await app.inject({ url: '/plain' })).json(), { ok: true })
})

t.test('a hook answering behind a slow onSend hook: its answer goes out, not a 409 over it', async (t) => {
  const { app: slow } = buildApp(t)
  await slow.register(fastifyPgConflict, { catalog: false })
  slow.addHook('onSend', async () => { await new Promise((resolve) => setTimeout(resolve, 30)) })
  slow.post('/hook-answers', {
    config: { conflict: { onConflict: async (_c, _req, reply) => { void reply.code(200).send({ existing: true }) } } }
  }, async () => { await db.pool.query("INSERT INTO accounts (email) VALUES ('taken@example.com')") })
  const answered = await slow.inject({ method: 'POST', url: '/hook-answers' })
  t.equal(answered.statusCode, 200, "the hook's answer, not a 409 over it")
  t.same(answered.json(), { existing: true })
})

t.test('a retried attempt starts clean: set-cookie not repeated, a redirect keeps its 302, hooks see no failed status', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { catalog: false })
  let calls = 0
  const conflictOnFirstTwo = async (): Promise<void> => {
    if (++calls <= 2) await db.pool.query("INSERT INTO accounts (email) VALUES ('taken@example.com')")
  }
  app.post('/cookie', {
    onRequest: async (_request, reply) => { reply.header('set-cookie', ['session=1', 'theme=dark']).header('x-trace', 't1') },
    config: { conflict: { retry: { backoff: { base: 0, max: 0 } } } }
  }, async (_request, reply) => {
    reply.header('set-cookie', `attempt=${calls + 1}`)
    await conflictOnFirstTwo()
    return { ok: true }
  })
  app.post('/redirect', { config: { conflict: { retry: { backoff: { base: 0, max: 0 } } } } }, async (_request, reply) => {
    await conflictOnFirstTwo()
    return reply.redirect('/accounts/1')
  })
  app.post('/hook-sees-clean-reply', {
    config: { conflict: { onConflict: (_c, _req, reply) => { void reply.send({ existing: true }) } } }
  }, async (_request, reply) => {
    reply.code(201).header('location', '/accounts/999')
    await db.pool.query("INSERT INTO accounts (email) VALUES ('taken@example.com')")
  })
  const cookie = await app.inject({ method: 'POST', url: '/cookie' })
  t.same(cookie.headers['set-cookie'], ['session=1', 'theme=dark', 'attempt=3'], "the hook's cookies once, and only the last attempt's")
  t.equal(cookie.headers['x-trace'], 't1')
  calls = 0
  const redirect = await app.inject({ method: 'POST', url: '/redirect' })
  t.equal(redirect.statusCode, 302)
  t.equal(redirect.headers.location, '/accounts/1')

  const hooked = await app.inject({ method: 'POST', url: '/hook-sees-clean-reply' })
  t.equal(hooked.statusCode, 200, "not the failed attempt's 201")
  t.equal(hooked.headers.location, undefined, "nor its location header")
})

t.test('on a route inside a transaction it does not own (@fastify/postgres transact), nothing runs the handler again', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPostgres, { connectionString: databaseUrl(), options: `-c search_path=${db.schema}` })
  await app.register(fastifyPgConflict, { catalog: false, onConflict: () => 'retry' })
  let calls = 0
  app.post('/tx', { pg: { transact: true } }, async (request) => {
    calls++
    await (request as unknown as { pg: pg.PoolClient }).pg.query("INSERT INTO accounts (email) VALUES ('taken@example.com')")
  })
  const response = await app.inject({ method: 'POST', url: '/tx' })
  t.equal(response.statusCode, 409, 'the conflict, not 25P02')
  t.equal(calls, 1, "the hook's 'retry' is not honoured there")
})

t.test('counters: one recovery per request however many retries; a bounded give-up counted once', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { catalog: false })
  let calls = 0
  app.post('/third-time', { config: { conflict: { retry: { attempts: 3, backoff: { base: 0, max: 0 } } } } }, async () => {
    if (++calls < 3) await db.pool.query("INSERT INTO accounts (email) VALUES ('taken@example.com')")
    return { attempt: calls }
  })
  app.post('/one-attempt', { config: { conflict: { retry: { attempts: 1 } } } }, async () => {
    await db.pool.query("INSERT INTO accounts (email) VALUES ('taken@example.com')")
  })
  t.same((await app.inject({ method: 'POST', url: '/third-time' })).json(), { attempt: 3 })
  t.equal((await app.inject({ method: 'POST', url: '/one-attempt' })).statusCode, 409)
  t.same(app.pgConflict.counters(), { accounts_email_key: { retried: 2, recovered: 1, gaveUp: 1 } })
})

t.test('the client gone during the backoff: the handler is not run again', async (t) => {
  const conflict = await db.errorOf("INSERT INTO accounts (email) VALUES ('taken@example.com')")
  let calls = 0
  const reply = { statusCode: 200, raw: { statusCode: 200, headersSent: false, destroyed: false }, sent: false, getHeaders: () => ({}), removeHeader: () => reply, header: () => reply, send: () => reply }
  const wrapped = retryingHandler((() => { calls++; throw conflict }) as never, {
    policy: { attempts: 3, baseDelay: 0, maxDelay: 0, maxTime: 1000 }, retries: () => true, fallbackPolicy: DEFAULT_RETRY, mayRunAgain: true, hooks: [],
    describe: async () => {
      reply.raw.destroyed = true // the client hangs up while the conflict is being looked at
      return { constraint: 'accounts_email_key' } as Conflict
    },
    counters: new ConflictCounters(), offered: new WeakSet(), sequenceColliding: async () => undefined, repair: undefined
  })
  await t.rejects((wrapped as (...args: unknown[]) => Promise<unknown>).call(undefined, {}, reply), conflict, 'the conflict goes on to the error path')
  t.equal(calls, 1)
})

t.test('repairSequences needs the database: refused with catalog: false, warned about without a pool', async (t) => {
  await t.rejects(async () => { await Fastify().register(fastifyPgConflict, { repairSequences: true, catalog: false }) },
    { code: 'PG_CONFLICT_INVALID_OPTION', message: /repairSequences needs the database/ })
  const { app, logs } = buildApp(t)
  await app.register(fastifyPgConflict, { repairSequences: true })
  await app.ready()
  t.ok(logs.some((l) => l.level === 40 && l.msg.includes('repairSequences does nothing without a pool')))
})
