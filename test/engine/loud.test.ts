// Warnings about the application's own configuration are heard without a logger: Fastify's is off
// by default and the Express middleware has none unless given one. Then they are process warnings
// (Node.js prints them on stderr); with a logger that shows warnings, they are its lines only.
import t from 'tap'
import Fastify from 'fastify'
import fastifyPgConflict from '../../src/index.js'
import { pgConflict } from '../../src/adapters/express.js'
import { WARNING_TYPE } from '../../src/engine/loud.js'
import { buildApp, WARN } from '../helpers/app.js'
import { testDatabase } from '../helpers/db.js'

const db = await testDatabase(t, 'loud')
await db.exec('CREATE TABLE users (id int PRIMARY KEY, email text CONSTRAINT users_email_key UNIQUE)')
const catalogFor = { pool: db.pool, catalog: { schemas: [db.schema] } }
const constraints = [{ constraint: 'users_email_key ' }, { constraint: `users_${'x'.repeat(60)}` }]

/** The process warnings emitted while `run` runs. */
async function processWarnings (run: () => Promise<unknown>): Promise<Array<{ name: string, code: string | undefined, message: string }>> {
  const seen: Error[] = []
  const listener = (warning: Error): void => { seen.push(warning) }
  process.on('warning', listener)
  try {
    await run()
    await new Promise((resolve) => setImmediate(resolve)) // process warnings are emitted on the next tick
  } finally {
    process.off('warning', listener)
  }
  return seen.map((warning) => ({ name: warning.name, code: (warning as { code?: string }).code, message: warning.message }))
}

t.test("Fastify without a logger (its default): a constraint that matches nothing, or that PostgreSQL would cut, is a process warning", async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  const warnings = await processWarnings(async () => {
    await app.register(fastifyPgConflict, { ...catalogFor, constraints })
    await app.ready()
  })
  t.same(warnings.map((w) => [w.name, w.code]), [[WARNING_TYPE, 'PG_CONFLICT_UNKNOWN_CONSTRAINT'], [WARNING_TYPE, 'PG_CONFLICT_UNKNOWN_CONSTRAINT'], [WARNING_TYPE, 'PG_CONFLICT_UNKNOWN_CONSTRAINT']])
  t.match(warnings[0]?.message, /is longer than 63 bytes/, 'at registration: the name too long')
  t.equal(warnings[1]?.message, 'fastify-pg-conflict: the configured constraint "users_email_key " matches no unique index or constraint in the database; did you mean "users_email_key"?')
  t.match(warnings[2]?.message, /"users_x+" matches no unique index/, 'at the first read: each rule that matches nothing, once')
})

t.test('Fastify with its logger on: the logger\'s warnings only', async (t) => {
  const { app, logs } = buildApp(t)
  const warnings = await processWarnings(async () => {
    await app.register(fastifyPgConflict, { ...catalogFor, constraints })
    await app.ready()
  })
  t.same(warnings, [], 'no process warning')
  t.equal(logs.filter((line) => line.level === WARN).length, 3)
  const silenced = buildApp(t, { logger: { level: 'error' } })
  const heard = await processWarnings(async () => {
    await silenced.app.register(fastifyPgConflict, { ...catalogFor, constraints: [{ constraint: 'nope' }] })
    await silenced.app.ready()
  })
  t.equal(heard.length, 1, 'a logger that does not show warnings: a process warning still')
})

t.test('Express without a logger: a process warning; never the console', async (t) => {
  const middleware = pgConflict({ ...catalogFor, constraints: [{ constraint: 'users_emial_key' }] })
  const calls: unknown[] = []
  const original = console.warn
  console.warn = (...args: unknown[]) => { calls.push(args) }
  let warnings
  try {
    warnings = await processWarnings(async () => { await middleware.ready() })
  } finally {
    console.warn = original
  }
  t.same(warnings.map((w) => w.message), ['fastify-pg-conflict: the configured constraint "users_emial_key" matches no unique index or constraint in the database; did you mean "users_email_key"?'])
  t.same(calls, [])
})
