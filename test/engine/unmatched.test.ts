// A configured constraint that matches nothing in the database: the message (quoted, with the
// nearest names), and unknownConstraints: 'error', which refuses start-up, in real Fastify and
// Express apps against a real catalog.
import t from 'tap'
import express from 'express'
import Fastify from 'fastify'
import fastifyPgConflict, { InvalidOptionError } from '../../src/index.js'
import { pgConflict } from '../../src/adapters/express.js'
import { cutName, unknownConstraintsError, unmatchedMessage } from '../../src/engine/unmatched.js'
import { buildApp, WARN } from '../helpers/app.js'
import { testDatabase } from '../helpers/db.js'
import { memoryLogger } from '../helpers/express.js'

const db = await testDatabase(t, 'unmatched')
await db.exec(`
  CREATE TABLE users (id serial PRIMARY KEY, email text CONSTRAINT users_email_key UNIQUE, nick text CONSTRAINT users_nick_key UNIQUE);
  CREATE TABLE "ünïcode" (id int CONSTRAINT "${'ü'.repeat(32)}_key" PRIMARY KEY);
`)
const catalogFor = { pool: db.pool, catalog: { schemas: [db.schema] } }
const NAMES = ['users_pkey', 'users_email_key', 'users_nick_key', 'teams_org_id_name_key']

t.test('the message: the rule quoted as written, the nearest names suggested', async (t) => {
  t.equal(unmatchedMessage({ constraint: 'users_email_key ' }, '', NAMES),
    'fastify-pg-conflict: the configured constraint "users_email_key " matches no unique index or constraint in the database; did you mean "users_email_key"?',
    'a trailing space shows')
  t.equal(unmatchedMessage({ constraint: 'users_emal_key' }, 'route /users: ', NAMES),
    'fastify-pg-conflict: route /users: the configured constraint "users_emal_key" matches no unique index or constraint in the database; did you mean "users_email_key"?',
    'where it is')
  t.equal(unmatchedMessage({ constraint: 'users_key' }, '', NAMES),
    'fastify-pg-conflict: the configured constraint "users_key" matches no unique index or constraint in the database; did you mean "users_pkey"?')
  t.equal(unmatchedMessage({ constraint: 'users_emailnick_key' }, '', NAMES),
    'fastify-pg-conflict: the configured constraint "users_emailnick_key" matches no unique index or constraint in the database; did you mean "users_email_key" or "users_nick_key"?',
    'two names as near')
  t.equal(unmatchedMessage({ constraint: 'tab\there' }, '', NAMES),
    'fastify-pg-conflict: the configured constraint "tab\\there" matches no unique index or constraint in the database', 'a control character escaped; nothing near')
  t.equal(unmatchedMessage({ constraint: 'userz_', match: 'prefix' }, '', NAMES),
    'fastify-pg-conflict: the configured constraint prefix "userz_" matches no unique index or constraint in the database; did you mean "users_"?', 'a prefix: the names\' starts')
  t.equal(unmatchedMessage({ constraint: '_kez', match: 'suffix' }, '', NAMES),
    'fastify-pg-conflict: the configured constraint suffix "_kez" matches no unique index or constraint in the database; did you mean "_key"?', 'a suffix: the names\' ends')
  t.equal(unmatchedMessage({ constraint: /^orders_/i }, '', NAMES),
    'fastify-pg-conflict: the configured constraint pattern /^orders_/i matches no unique index or constraint in the database', 'a pattern: no suggestion')
  const long = `users_${'x'.repeat(60)}_key`
  t.match(unmatchedMessage({ constraint: long }, '', [...NAMES, cutName(long)]), new RegExp(`did you mean "${cutName(long)}"\\?$`), 'a name over 63 bytes: the name PostgreSQL cut it to')
})

t.test('cutName: 63 bytes, at a character boundary, as PostgreSQL cuts identifiers', async (t) => {
  const { rows } = await db.pool.query<{ name: string }>(`SELECT conname AS name FROM pg_constraint WHERE conrelid = '${db.schema}."ünïcode"'::regclass AND contype = 'p'`)
  const written = `${'ü'.repeat(32)}_key`
  t.equal(cutName(written), rows[0]?.name, 'the name PostgreSQL stored')
  t.equal(Buffer.byteLength(cutName(written)), 62, 'a two-byte character that would end past 63 bytes is left out whole')
  t.equal(cutName('short'), 'short')
})

t.test("unknownConstraints: 'error' refuses start-up, naming every rule that matches nothing; names that exist pass", async (t) => {
  const app = Fastify()
  await app.register(fastifyPgConflict, {
    ...catalogFor,
    unknownConstraints: 'error',
    constraints: [{ constraint: 'users_email_key' }, { constraint: 'users_email_key ' }, { constraint: 'user_', match: 'prefix' }]
  })
  app.post('/users', { config: { conflict: { constraints: [{ constraint: 'users_nik_key' }] } } }, async () => 'ok')
  const error = await app.ready().then(() => undefined, (err: unknown) => err as Error & { code: string })
  t.type(error, InvalidOptionError)
  t.equal(error?.code, 'PG_CONFLICT_INVALID_OPTION')
  t.equal(error?.message, [
    "fastify-pg-conflict: unknownConstraints is 'error' and 3 configured constraints match nothing in the database:",
    '  the configured constraint "users_email_key " matches no unique index or constraint in the database; did you mean "users_email_key"?',
    '  the configured constraint prefix "user_" matches no unique index or constraint in the database; did you mean "users"?',
    '  route /users: the configured constraint "users_nik_key" matches no unique index or constraint in the database; did you mean "users_nick_key"?'
  ].join('\n'))

  const { app: fine, logs } = buildApp(t)
  await fine.register(fastifyPgConflict, { ...catalogFor, unknownConstraints: 'error', constraints: [{ constraint: 'users_email_key' }, { constraint: 'users_', match: 'prefix' }] })
  await fine.ready()
  t.same(logs.filter((line) => line.level === WARN), [], 'every rule matches: started, nothing said')
})

t.test("unknownConstraints: checked like every option; 'error' needs the database", async (t) => {
  for (const [options, message] of [
    [{ unknownConstraints: 'fail' }, /options\.unknownConstraints must be "warn" or "error"/],
    [{ unknownConstraints: 'error', catalog: false }, /options\.unknownConstraints is "error", which needs the catalog to check the constraints against: it cannot be used with catalog: false/]
  ] as const) {
    const app = Fastify() // not closed: an app whose plugin failed to load rejects close() with the same error
    await t.rejects(async () => { await app.register(fastifyPgConflict, options as never) }, { code: 'PG_CONFLICT_INVALID_OPTION', message })
    t.throws(() => pgConflict(options as never), { code: 'PG_CONFLICT_INVALID_OPTION', message }, `Express: ${JSON.stringify(options)}`)
  }
  const app = Fastify()
  await app.register(fastifyPgConflict, { unknownConstraints: 'error' })
  await t.rejects(async () => { await app.ready() }, { code: 'PG_CONFLICT_INVALID_OPTION', message: /needs the database to check the constraints against: the pool option, or @fastify\/postgres/ }, 'Fastify without a pool: refused at ready')
  t.throws(() => pgConflict({ unknownConstraints: 'error' }), { message: /options\.unknownConstraints is "error", which needs the database to check the constraints against: give the pool option/ }, 'Express without a pool')
  const warned = Fastify()
  await warned.register(fastifyPgConflict, { unknownConstraints: 'warn' })
  await warned.ready()
  await warned.close()
})

t.test("Express: unknownConstraints: 'error' makes ready() reject; a first read started by a request warns instead", async (t) => {
  const constraints = [{ constraint: 'users_email_kye' }]
  const strict = pgConflict({ ...catalogFor, constraints, unknownConstraints: 'error' })
  await t.rejects(strict.ready(), { code: 'PG_CONFLICT_INVALID_OPTION', message: /"users_email_kye" matches no unique index or constraint in the database; did you mean "users_email_key"\?/ })
  await t.rejects(strict.ready(), { code: 'PG_CONFLICT_INVALID_OPTION' }, 'again')
  t.equal(await strict.describe(new Error('not an integrity error')), undefined, 'describe() still works')

  const logger = memoryLogger()
  const lazy = pgConflict({ ...catalogFor, constraints, unknownConstraints: 'error', logger })
  const app = express()
  app.post('/users', async () => { await db.pool.query("INSERT INTO users (email) VALUES ('a@example.com'), ('a@example.com')") })
  app.use(lazy)
  t.equal(await lazy.refresh(), undefined, 'refresh() starts the first read: it warns, and does not reject')
  t.ok(logger.lines.some((line) => line.level === 'warn' && line.msg?.includes('"users_email_kye"')), 'warned')
  await lazy.ready() // the read is done: nothing refused
})

t.test('unknownConstraintsError: one rule', async (t) => {
  t.equal(unknownConstraintsError(['fastify-pg-conflict: the configured constraint "x" matches no unique index or constraint in the database']).message,
    "fastify-pg-conflict: unknownConstraints is 'error' and a configured constraint matches nothing in the database:\n  the configured constraint \"x\" matches no unique index or constraint in the database")
})
