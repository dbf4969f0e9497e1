// What the plugin believes (src/core/recognise.ts), tried as an attacker would on real PostgreSQL:
// a route that copies an upstream service's JSON error body onto an Error (a common pattern)
// hands the request's own text to the error path. Only an error a PostgreSQL driver made counts:
// a forged one is passed on untouched (the same answer as without the plugin), makes no query
// (no repair, no catalog read, whatever names it invents), and none of its text reaches a body.
// Names and columns in an answer come from the catalog, or from a DETAIL the catalog confirms.
// (The shapes of every client's errors are in test/clients/ and test/core/detail.test.ts.)
import t from 'tap'
import express from 'express'
import Fastify from 'fastify'
import fastifyPgConflict, { type Queryable } from '../../src/index.js'
import { pgConflict } from '../../src/express.js'
import { buildApp } from '../helpers/app.js'
import { testDatabase } from '../helpers/db.js'

const db = await testDatabase(t, 'recognise')
const secret = `${db.schema}_secret`
await db.exec(`
  CREATE TABLE users (id serial PRIMARY KEY, email text CONSTRAINT users_email_key UNIQUE);
  INSERT INTO users (email) VALUES ('ada@example.com');
  DROP SCHEMA IF EXISTS ${secret} CASCADE; CREATE SCHEMA ${secret};
  -- A table no route touches, its sequence never used.
  CREATE TABLE ${secret}.ledger (id serial PRIMARY KEY, amount int);
`)
t.teardown(() => db.exec(`DROP SCHEMA IF EXISTS ${secret} CASCADE`))

/** The plugin's pool, counting every query made through it. */
function counting (): Queryable & { queries: string[] } {
  const pool = {
    queries: [] as string[],
    query: async (text: string, values?: unknown[]) => {
      pool.queries.push(text)
      return await db.pool.query(text, values)
    }
  }
  return pool
}

async function ledgerSequence (): Promise<{ last_value: string, is_called: boolean }> {
  const { rows } = await db.pool.query(`SELECT last_value::text, is_called FROM ${secret}.ledger_id_seq`)
  return rows[0] as { last_value: string, is_called: boolean }
}

/** What the attacker sent: a unique violation on the secret table, naming its sequence's column. */
function forgedBody (constraint = 'ledger_pkey', key = 'id'): Record<string, unknown> {
  return {
    length: 184,
    name: 'error',
    severity: 'ERROR',
    code: '23505',
    message: `duplicate key value violates unique constraint "${constraint}"`,
    detail: `Key (${key})=(50) already exists.`,
    schema: secret,
    table: 'ledger',
    constraint,
    file: 'nbtinsert.c',
    line: '664',
    routine: '_bt_check_unique'
  }
}

const XSS = '<img src=x onerror=alert(1)>'

/** How a route may turn an upstream service's error body into a thrown value. */
const shapes: Record<string, (body: Record<string, unknown>) => unknown> = {
  'copied onto an Error': (body) => Object.assign(new Error('upstream failed'), body),
  'copied with a "__proto__" key naming DatabaseError (it becomes the prototype)': (body) =>
    Object.assign(new Error('upstream failed'), JSON.parse(`{"__proto__":{"constructor":{"name":"DatabaseError"}},${JSON.stringify(body).slice(1)}`)),
  'on cause': (body) => new Error('upstream failed', { cause: body }),
  'in an AggregateError': (body) => new AggregateError([body], 'upstream failed'),
  'wrapped as an ORM would (driverError, parent, original)': (body) => Object.assign(new Error('upstream failed'), { driverError: body, parent: body, original: body })
}

/** A Fastify app whose route throws what `shape` makes of the request's body; with the plugin or without. */
async function fastifyApp (withPlugin: boolean, pool: Queryable): Promise<import('fastify').FastifyInstance> {
  const app = withPlugin ? buildApp(t).app : Fastify()
  if (!withPlugin) t.teardown(() => app.close())
  if (withPlugin) await app.register(fastifyPgConflict, { pool, catalog: { schemas: [db.schema, secret] }, repairSequences: true, expose: { constraint: true, values: true } })
  app.post<{ Body: { shape: string, error: Record<string, unknown> } }>('/upstream', async (request) => {
    throw (shapes[request.body.shape] as (body: Record<string, unknown>) => unknown)(request.body.error)
  })
  await app.ready()
  return app
}

t.test('a forged unique violation, in every shape: passed on untouched, no query, no write', async (t) => {
  const pool = counting()
  const app = await fastifyApp(true, pool)
  const control = await fastifyApp(false, db.pool)
  const before = await ledgerSequence()
  pool.queries.length = 0
  for (const shape of Object.keys(shapes)) {
    for (const error of [forgedBody(), forgedBody(`users_email_key`, XSS), forgedBody('ledger_pkey', 'amount')]) {
      const payload = { shape, error }
      const got = await app.inject({ method: 'POST', url: '/upstream', payload })
      const without = await control.inject({ method: 'POST', url: '/upstream', payload })
      t.equal(got.statusCode, without.statusCode, `${shape}: the status an app without the plugin answers (${without.statusCode})`)
      t.same(got.json(), without.json(), `${shape}: and the same body`)
      t.notOk(got.body.includes('PG_UNIQUE_VIOLATION'), `${shape}: not answered by the plugin`)
    }
  }
  t.same(pool.queries, [], 'the plugin made no query: no sequence check, no repair, no catalog read')
  t.same(await ledgerSequence(), before, `${secret}.ledger_id_seq did not move`)
})

t.test('two hundred forged errors, each naming a new constraint: no catalog read, no query at all', async (t) => {
  const pool = counting()
  const app = await fastifyApp(true, pool)
  pool.queries.length = 0
  for (let i = 0; i < 200; i++) {
    const response = await app.inject({ method: 'POST', url: '/upstream', payload: { shape: 'copied onto an Error', error: forgedBody(`made_up_${i}_key`) } })
    t.equal(response.statusCode, 500)
  }
  t.same(pool.queries, [])
})

t.test('Express: a forged error goes on to the next error handler untouched', async (t) => {
  const pool = counting()
  const app = express()
  app.post('/upstream', express.json(), () => { throw Object.assign(new Error('upstream failed'), forgedBody()) })
  app.use(pgConflict({ pool, catalog: { schemas: [db.schema, secret] }, repairSequences: true }))
  const seen: unknown[] = []
  app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => { seen.push(err); res.status(502).json({ error: 'upstream' }) })
  const server = app.listen(0)
  t.teardown(() => { server.close() })
  await new Promise((resolve) => server.once('listening', resolve))
  const { port } = server.address() as { port: number }
  const response = await fetch(`http://127.0.0.1:${port}/upstream`, { method: 'POST' })
  t.equal(response.status, 502, 'the application\'s own handler answered')
  t.equal(seen.length, 1)
  t.match(seen[0], { code: '23505', constraint: 'ledger_pkey' }, 'it got the forged error itself')
  t.notOk((seen[0] as { code?: string }).code === 'PG_UNIQUE_VIOLATION')
  t.same(pool.queries, [], 'no query')
})

t.test('a real unique violation inside an AggregateError (Promise.any over two statements) is answered', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { pool: db.pool, catalog: { schemas: [db.schema] } })
  app.post('/any', async () => {
    await Promise.any([
      db.pool.query("INSERT INTO users (email) VALUES ('ada@example.com')"),
      db.pool.query("INSERT INTO users (email) VALUES ('ada@example.com')")
    ])
  })
  const response = await app.inject({ method: 'POST', url: '/any' })
  t.equal(response.statusCode, 409)
  t.same(response.json().fields, ['email'])
})

t.test('a real error whose DETAIL the catalog does not confirm (a function\'s RAISE): no column from it reaches the body', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { pool: db.pool, catalog: { schemas: [db.schema] }, expose: { values: true } })
  app.post<{ Body: { constraint: string } }>('/raise', async (request) => {
    await db.pool.query(`DO $$ BEGIN RAISE unique_violation USING MESSAGE = 'taken', DETAIL = 'Key (${XSS})=(1) already exists.', CONSTRAINT = '${request.body.constraint}'; END $$`)
  })
  for (const constraint of ['users_email_key', 'not_in_the_catalog']) {
    const response = await app.inject({ method: 'POST', url: '/raise', payload: { constraint } })
    t.equal(response.statusCode, 409, constraint)
    t.same(response.json().fields, [], `${constraint}: no fields`)
    t.equal(response.json().message, 'A record with these values already exists.', `${constraint}: the message names none`)
    t.notOk(response.body.includes('<img'), `${constraint}: none of DETAIL's text`)
  }
  const { app: fixed } = buildApp(t)
  await fixed.register(fastifyPgConflict, { pool: db.pool, catalog: { schemas: [db.schema] }, fields: ['account'] })
  fixed.post('/raise', async () => { await db.pool.query("DO $$ BEGIN RAISE unique_violation USING MESSAGE = 'taken', CONSTRAINT = 'not_in_the_catalog'; END $$") })
  t.same((await fixed.inject({ method: 'POST', url: '/raise' })).json().fields, ['account'], 'fields the application configured are its own: kept')
})
