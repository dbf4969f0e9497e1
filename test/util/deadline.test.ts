// One deadline per request for all the plugin's own queries (src/util/deadline.ts), against a pool
// really saturated: every connection taken, so the plugin's queries wait for one. The request is
// answered once the deadline passes, from what the error alone says, whatever it was waiting for
// (a sequence check, a catalog version, a repair), and however many waits it has in a row.
import t, { type Test } from 'tap'
import express from 'express'
import type pg from 'pg'
import fastifyPgConflict, { type Queryable } from '../../src/index.js'
import { pgConflict } from '../../src/express.js'
import { Deadline } from '../../src/util/deadline.js'
import { buildApp, WARN } from '../helpers/app.js'
import { testDatabase } from '../helpers/db.js'

const db = await testDatabase(t, 'deadline')
await db.exec(`
  CREATE TABLE items (id serial PRIMARY KEY, note text);
  INSERT INTO items (id, note) SELECT g, 'imported' FROM generate_series(1, 5) g;
  CREATE TABLE done (id serial PRIMARY KEY, note text);
  INSERT INTO done (note) VALUES ('a'), ('b');
`)

/** The deadline the tests give the plugin (`catalog.timeout`), ms. */
const TIMEOUT = 600
/** Twice the deadline: what the answer took when each wait had a deadline of its own. */
const TWICE = 2 * TIMEOUT

/** A pool of one connection, which the test then holds: every query through it waits. */
async function saturated (test: Test): Promise<{ pool: pg.Pool, hold: () => Promise<void> }> {
  const pool = db.newPool({ max: 1 })
  let held: pg.PoolClient | undefined
  test.teardown(() => { held?.release() })
  return { pool, hold: async () => { held = await pool.connect() } }
}

async function timed<T> (run: () => Promise<T>): Promise<{ value: T, ms: number }> {
  const started = performance.now()
  const value = await run()
  return { value, ms: performance.now() - started }
}

t.test('Deadline: one budget, shared by the waits in a row', async (t) => {
  const deadline = new Deadline(50)
  const never = new Promise<never>(() => {})
  t.equal(await deadline.within(Promise.resolve(1)), 1, 'a value in time')
  t.equal(await deadline.within(never), undefined, 'then nothing, at the deadline')
  // At once (a timer of 0 ms): before a timer of 30 ms set after it, which Node fires later
  // whatever else the machine is doing; a wait of its own would take the whole 50 ms.
  const second = await Promise.race([deadline.within(never).then(() => 'ended'), new Promise((resolve) => setTimeout(() => resolve('waited'), 30))])
  t.equal(second, 'ended', 'a second wait after the deadline ends at once')
  t.equal(deadline.remaining(), 0)
})

t.test('a sequence check waiting for a saturated pool: the answer comes at the deadline, once, not once per wait', async (t) => {
  const { pool, hold } = await saturated(t)
  const { app } = buildApp(t)
  // An onConflict hook: the route's handler is wrapped, so the conflict is described (and its
  // sequence checked) there, and again in the error handler: two waits for one request.
  await app.register(fastifyPgConflict, { pool, catalog: { schemas: [db.schema], timeout: TIMEOUT }, onConflict: () => {} })
  app.post('/done', async () => { await db.pool.query("INSERT INTO done (id, note) VALUES (1, 'again')") })
  await app.ready()
  await hold()
  const { value: response, ms } = await timed(() => app.inject({ method: 'POST', url: '/done' }))
  t.equal(response.statusCode, 409, 'the check did not come in time: the answer the error supports')
  t.same(response.json().fields, ['id'])
  t.ok(ms >= TIMEOUT - 50 && ms < TWICE - 100, `answered at the deadline (${ms.toFixed(0)} ms; ${TIMEOUT} ms given), not after twice it`)
})

t.test('a catalog version waiting for a saturated pool: the same deadline', async (t) => {
  const { pool, hold } = await saturated(t)
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { pool, catalog: { schemas: [db.schema], timeout: TIMEOUT }, onConflict: () => {} })
  app.post('/ghost', async () => { await db.pool.query("DO $$ BEGIN RAISE unique_violation USING MESSAGE = 'taken', CONSTRAINT = 'ghost_key'; END $$") })
  await app.ready()
  await hold()
  const { value: response, ms } = await timed(() => app.inject({ method: 'POST', url: '/ghost' }))
  t.equal(response.statusCode, 409)
  t.ok(ms < TWICE - 100, `answered within the deadline (${ms.toFixed(0)} ms)`)
})

t.test('a repair waiting for a connection: the request answered at the deadline, the repair left to go on', async (t) => {
  const { pool: busy, hold } = await saturated(t)
  // The checks go through a free pool; the repair (its LOCK TABLE) through the saturated one.
  const plugin: Queryable = {
    query: async (text, values) => text.includes('LOCK TABLE') ? await busy.query(text) : await db.pool.query(text, values)
  }
  const { app, logs } = buildApp(t)
  await app.register(fastifyPgConflict, { pool: plugin, catalog: { schemas: [db.schema], timeout: TIMEOUT }, repairSequences: true })
  app.post('/items', async (_request, reply) => reply.code(201).send((await db.pool.query("INSERT INTO items (note) VALUES ('new') RETURNING id")).rows[0]))
  await app.ready()
  await hold()
  const { value: response, ms } = await timed(() => app.inject({ method: 'POST', url: '/items' }))
  t.equal(response.statusCode, 500, 'the fault, not repaired in time: a 500, as without repairSequences')
  t.ok(ms < TWICE - 100, `answered within the deadline (${ms.toFixed(0)} ms)`)
  t.ok(logs.some((l) => l.level === WARN && l.msg.includes('had not ended by the request\'s deadline')), 'the late repair is said')
})

t.test('Express: the first catalog read and the sequence check share the request\'s deadline', async (t) => {
  const { pool, hold } = await saturated(t)
  await hold() // saturated before the middleware's first (lazy) catalog read
  const app = express()
  app.post('/done', async () => { await db.pool.query("INSERT INTO done (id, note) VALUES (1, 'again')") })
  app.use(pgConflict({ pool, catalog: { schemas: [db.schema], timeout: TIMEOUT } }))
  const server = app.listen(0)
  t.teardown(() => { server.close() })
  await new Promise((resolve) => server.once('listening', resolve))
  const { port } = server.address() as { port: number }
  const { value: response, ms } = await timed(() => fetch(`http://127.0.0.1:${port}/done`, { method: 'POST' }))
  t.equal(response.status, 409)
  t.same((await response.json() as { fields: string[] }).fields, ['id'], 'DETAIL alone: no catalog could be read')
  t.ok(ms >= TIMEOUT - 50 && ms < TWICE - 100, `answered at the deadline (${ms.toFixed(0)} ms)`)
})
