// What the plugin changes on the pools it keeps connections of (the `pool` option's, and
// @fastify/postgres's `fastify.pg.pool` with `fastify.pg.query`), and that closing the app puts
// them back; `keepConnections: false` changes nothing. Through real Fastify apps.
import t from 'tap'
import Fastify from 'fastify'
import fastifyPostgres from '@fastify/postgres'
import type pg from 'pg'
import fastifyPgConflict from '../../src/index.js'
import { pgConflict } from '../../src/express.js'
import { ConnectionKeeper } from '../../src/connections/keeper.js'
import { databaseUrl, testDatabase } from '../helpers/db.js'

const db = await testDatabase(t, 'connections_keeper')
await db.exec("CREATE TABLE users (email text CONSTRAINT users_email_key UNIQUE); INSERT INTO users VALUES ('ada@example.com')")
const pgOptions = { connectionString: databaseUrl(), options: `-c search_path=${db.schema}`, max: 1 }

type Holder = { pool: pg.Pool, query: (...args: unknown[]) => Promise<unknown> }
const pgOf = (app: object): Holder & { reports: Holder } => (app as { pg: Holder & { reports: Holder } }).pg

t.test('@fastify/postgres registered before: fastify.pg.query and the pool kept, named instances too; put back on close', async (t) => {
  const app = Fastify()
  await app.register(fastifyPostgres, pgOptions)
  await app.register(fastifyPostgres, { ...pgOptions, name: 'reports' })
  const bound = pgOf(app).query
  const boundReports = pgOf(app).reports.query
  await app.register(fastifyPgConflict, { catalog: false })
  await app.ready()
  const { pool, reports } = pgOf(app)
  t.ok(Object.hasOwn(pool, 'query'), "the pool's query is replaced")
  t.equal(pgOf(app).query, pool.query, "fastify.pg.query is the pool's kept query")
  t.equal(reports.query, reports.pool.query, 'and a named instance\'s')
  t.not(pgOf(app).query, bound)
  t.match(await pgOf(app).query("INSERT INTO users VALUES ('ada@example.com')").catch((error: unknown) => error), { code: '23505' })
  await app.close()
  t.equal(pgOf(app).query, bound, 'on close: fastify.pg.query is the bound one again')
  t.equal(reports.query, boundReports)
  t.notOk(Object.hasOwn(pool, 'query'), "and the pool has pg-pool's query")
})

t.test('@fastify/postgres registered after the plugin (before ready): kept at ready', async (t) => {
  const app = Fastify()
  await app.register(fastifyPgConflict, { catalog: false })
  await app.register(fastifyPostgres, pgOptions)
  t.notOk(Object.hasOwn(pgOf(app).pool, 'query'), 'not before ready')
  await app.ready()
  t.ok(Object.hasOwn(pgOf(app).pool, 'query'), 'at ready')
  t.equal(pgOf(app).query, pgOf(app).pool.query)
  await app.close()
})

t.test('keepConnections: false changes nothing', async (t) => {
  const app = Fastify()
  await app.register(fastifyPostgres, pgOptions)
  const bound = pgOf(app).query
  const pool = db.newPool({ max: 1 })
  await app.register(fastifyPgConflict, { pool, catalog: false, keepConnections: false })
  await app.ready()
  t.equal(pgOf(app).query, bound)
  t.notOk(Object.hasOwn(pgOf(app).pool, 'query'))
  t.notOk(Object.hasOwn(pool, 'query'))
  await app.close()
})

t.test("the `pool` option's pool; the same pool as @fastify/postgres's is kept once; an application's own fastify.pg.query stays", async (t) => {
  const app = Fastify()
  await app.register(fastifyPostgres, pgOptions)
  const theirs = async (...args: unknown[]): Promise<unknown> => await (pgOf(app).pool.query as (...a: unknown[]) => Promise<unknown>)(...args)
  pgOf(app).query = theirs
  await app.register(fastifyPgConflict, { pool: pgOf(app).pool, catalog: false })
  await app.ready()
  t.ok(Object.hasOwn(pgOf(app).pool, 'query'), 'the pool is kept')
  t.equal(pgOf(app).query, theirs, "fastify.pg.query of the application's own is left as it is (it calls the kept pool.query)")
  const other = db.newPool({ max: 1 })
  const second = Fastify()
  await second.register(fastifyPgConflict, { pool: other, catalog: false })
  await second.ready()
  t.ok(Object.hasOwn(other, 'query'))
  await second.close()
  t.notOk(Object.hasOwn(other, 'query'), 'put back on close')
  await app.close()
})

t.test('fastify.pg.query replaced by the application after the plugin: left as it is on close', async (t) => {
  const app = Fastify()
  await app.register(fastifyPostgres, pgOptions)
  await app.register(fastifyPgConflict, { catalog: false })
  await app.ready()
  const theirs = async (): Promise<void> => {}
  pgOf(app).query = theirs
  await app.close()
  t.equal(pgOf(app).query, theirs)
})

t.test('ConnectionKeeper: what is not a pool or a holder of one is left alone; close twice is fine', async (t) => {
  const keeper = new ConnectionKeeper(true)
  const query = async (): Promise<{ rows: unknown[] }> => ({ rows: [] })
  const wrapper = { query }
  const holder = { pool: wrapper, query: query.bind(wrapper) }
  keeper.pool(undefined)
  keeper.pool(wrapper)
  keeper.fastifyPostgres(undefined)
  keeper.fastifyPostgres(holder)
  keeper.fastifyPostgres(holder)
  t.equal(wrapper.query, query)
  t.not(holder.query, query, 'a holder of a pool that is not pg\'s: its query stays')
  t.equal(holder.query.name, 'bound query')
  keeper.close()
  keeper.close()
  const off = new ConnectionKeeper(false)
  const pool = db.newPool({ max: 1 })
  off.pool(pool)
  off.fastifyPostgres({ pool, query: pool.query.bind(pool) })
  t.notOk(Object.hasOwn(pool, 'query'), 'switched off: nothing')
})

t.test('the option is checked at registration', async (t) => {
  const app = Fastify()
  await t.rejects(async () => { await app.register(fastifyPgConflict, { keepConnections: 'yes' as unknown as boolean }) }, { code: 'PG_CONFLICT_INVALID_OPTION', message: /options\.keepConnections must be true or false/ })
  t.throws(() => pgConflict({ keepConnections: 1 as unknown as boolean }), { code: 'PG_CONFLICT_INVALID_OPTION', message: /options\.keepConnections must be true or false/ })
})

t.test('Express: the pool option\'s pool is kept, unless keepConnections: false', async (t) => {
  const kept = db.newPool({ max: 1 })
  pgConflict({ pool: kept, catalog: false })
  t.ok(Object.hasOwn(kept, 'query'))
  const left = db.newPool({ max: 1 })
  pgConflict({ pool: left, keepConnections: false })
  t.notOk(Object.hasOwn(left, 'query'))
})
