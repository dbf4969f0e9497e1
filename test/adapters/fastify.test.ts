// The plugin inside a real Fastify app: how it meets the application's own error handlers,
// hooks and schemas, what passes through untouched, and what it reads from the catalog when.
import t, { type Test } from 'tap'
import fastifyPostgres from '@fastify/postgres'
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify'
import type pg from 'pg'
import postgres from 'postgres'
import fastifyPgConflict, { conflictResponseSchema, isConflictError, type ConflictError, type ConflictBody, type Queryable } from '../../src/index.js'
import { CATALOG_VERSION_SQL } from '../../src/catalog/catalog.js'
import { checkPluginOptions } from '../../src/engine/options.js'
import { buildApp, INFO } from '../helpers/app.js'
import { databaseUrl, testDatabase } from '../helpers/db.js'

const db = await testDatabase(t, 'plugin')
await db.exec(`
  CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL UNIQUE, team_id int);
  CREATE TABLE teams (id int PRIMARY KEY, org_id int, name text, UNIQUE (org_id, name));
  ALTER TABLE users ADD CONSTRAINT users_team_fk FOREIGN KEY (team_id) REFERENCES teams (id);
  CREATE TABLE events (tenant int, id int, UNIQUE (tenant, id)) PARTITION BY LIST (tenant);
  CREATE TABLE events_1 PARTITION OF events FOR VALUES IN (1);
  INSERT INTO users (email) VALUES ('ada@example.com');
  INSERT INTO teams VALUES (1, 1, 'core');
  INSERT INTO events VALUES (1, 1);
`)

const DUPLICATE_USER = "INSERT INTO users (email) VALUES ('ada@example.com')"
/** A real unique violation, for handlers that throw one synchronously. */
const uniqueError = await db.errorOf(DUPLICATE_USER)

/** Registers routes that fail in the ways the tests need. */
function routes (app: FastifyInstance): void {
  app.post('/users', async () => { await db.pool.query(DUPLICATE_USER) })
  app.post('/sync', () => { throw uniqueError })
  app.post('/fk', async () => { await db.pool.query("INSERT INTO users (email, team_id) VALUES ('x@example.com', 99)") })
  app.post('/not-null', async () => { await db.pool.query('INSERT INTO users (email) VALUES (NULL)') })
  app.post('/syntax', async () => { await db.pool.query('INSERT INTO') })
  // 21000 without a HINT: a subquery returning two rows, the server's bug, not the client's.
  app.post('/subquery', async () => { await db.pool.query('SELECT (SELECT x FROM (VALUES (1), (2)) AS v(x))') })
  app.post('/teapot', async () => { throw Object.assign(new Error('short and stout'), { statusCode: 418, code: 'TEAPOT' }) })
  app.post('/boom', async () => { throw new Error('boom') })
  // Values that are not Errors, which JavaScript lets anyone throw.
  app.post('/throw-string', async () => { throw 'oops' }) // eslint-disable-line no-throw-literal
  app.post('/throw-object', async () => { throw { statusCode: 400, message: 'bad' } }) // eslint-disable-line no-throw-literal
  app.post('/throw-null', async () => { throw null }) // eslint-disable-line no-throw-literal
  app.post('/sync-throw-string', () => { throw 'oops' }) // eslint-disable-line no-throw-literal
  app.post('/events', async () => { await db.pool.query('INSERT INTO events VALUES (1, 1)') })
}

const catalogFor = { pool: db.pool, catalog: { schemas: [db.schema] } }

t.test('without an error handler of the application, the plugin answers 409 itself', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, catalogFor)
  routes(app)
  for (const url of ['/users', '/sync']) {
    const response = await app.inject({ method: 'POST', url })
    t.equal(response.statusCode, 409, `${url}: 409`)
    t.same(response.json(), {
      statusCode: 409, code: 'PG_UNIQUE_VIOLATION', error: 'Conflict', message: 'A record with this email already exists.', fields: ['email']
    }, `${url}: body`)
  }
})

t.test('errors the plugin does not answer (or is told not to) pass through exactly as without the plugin', async (t) => {
  const plain = buildApp(t).app
  routes(plain)
  const { app, logs } = buildApp(t)
  await app.register(fastifyPgConflict, { ...catalogFor, errors: { foreignKey: false, notNull: false } })
  routes(app)
  for (const url of ['/fk', '/not-null', '/syntax', '/subquery', '/teapot', '/boom', '/throw-string', '/throw-object', '/throw-null', '/sync-throw-string']) {
    const [want, got] = await Promise.all([plain.inject({ method: 'POST', url }), app.inject({ method: 'POST', url })])
    t.equal(got.statusCode, want.statusCode, `${url}: same status (${want.statusCode})`)
    t.same(got.body, want.body, `${url}: same body`)
    t.equal(got.headers['content-type'], want.headers['content-type'], `${url}: same content type`)
  }
  t.notOk(logs.some((line) => line.conflict !== undefined), 'no conflict was logged')
})

/** Collects what the application's error handler receives. */
function recordingHandler (seen: unknown[]) {
  return function (error: FastifyError, _request: unknown, reply: { code: (n: number) => { send: (b: unknown) => void } }): void {
    seen.push(error)
    reply.code(error.statusCode ?? 500).send({ handledBy: 'application', code: error.code, fields: (error as ConflictError).fields })
  }
}

function assertTranslated (t: Test, error: unknown): void {
  t.ok(isConflictError(error), 'the handler gets the translated error')
  const conflict = error as ConflictError
  t.equal(conflict.statusCode, 409)
  t.equal(conflict.code, 'PG_UNIQUE_VIOLATION')
  t.same(conflict.fields, ['email'])
  t.equal((conflict.cause as pg.DatabaseError).code, '23505', 'the original error is the cause')
  t.equal(conflict.conflict.constraint, 'users_email_key', 'the full description is there')
  t.same((conflict.body as ConflictBody).fields, ['email'], 'and the body the plugin would have sent')
  t.notOk(Object.keys(conflict).includes('conflict'), 'the description (with values) is not enumerable, so not logged with the error')
}

t.test("the application's setErrorHandler, set after the plugin, receives the translated 409", async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, catalogFor)
  const seen: unknown[] = []
  app.setErrorHandler(recordingHandler(seen))
  routes(app)
  const response = await app.inject({ method: 'POST', url: '/users' })
  t.same(response.json(), { handledBy: 'application', code: 'PG_UNIQUE_VIOLATION', fields: ['email'] })
  t.equal(response.statusCode, 409)
  assertTranslated(t, seen[0])
  const other = await app.inject({ method: 'POST', url: '/boom' })
  t.equal(other.statusCode, 500)
  t.equal((seen[1] as Error).message, 'boom', 'other errors reach it untouched')
})

t.test("the application's setErrorHandler, set before the plugin, receives the translated 409", async (t) => {
  const { app } = buildApp(t)
  const seen: unknown[] = []
  app.setErrorHandler(recordingHandler(seen))
  await app.register(fastifyPgConflict, catalogFor)
  routes(app)
  const response = await app.inject({ method: 'POST', url: '/sync' })
  t.equal(response.statusCode, 409)
  assertTranslated(t, seen[0])
})

t.test('an error handler in a child scope receives the translated 409; a sibling scope without one gets the plugin body', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, catalogFor)
  const seen: unknown[] = []
  await app.register(async (child) => {
    child.setErrorHandler(recordingHandler(seen))
    routes(child)
  }, { prefix: '/child' })
  await app.register(async (sibling) => { routes(sibling) }, { prefix: '/sibling' })
  const child = await app.inject({ method: 'POST', url: '/child/users' })
  t.equal(child.json().handledBy, 'application')
  assertTranslated(t, seen[0])
  const sibling = await app.inject({ method: 'POST', url: '/sibling/users' })
  t.same(sibling.json().fields, ['email'])
  t.equal(sibling.json().code, 'PG_UNIQUE_VIOLATION')
})

t.test("a route's own errorHandler receives the translated 409, and other errors untouched", async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, catalogFor)
  const seen: unknown[] = []
  const errorHandler = recordingHandler(seen)
  app.post('/users', { errorHandler }, async () => { await db.pool.query(DUPLICATE_USER) })
  app.post('/boom', { errorHandler }, async () => { throw new Error('boom') })
  t.equal((await app.inject({ method: 'POST', url: '/users' })).statusCode, 409)
  assertTranslated(t, seen[0])
  t.equal((await app.inject({ method: 'POST', url: '/boom' })).statusCode, 500)
  t.equal((seen[1] as Error).message, 'boom')
})

t.test('errors thrown by hooks are translated too', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, catalogFor)
  app.get('/pre-handler', { preHandler: async () => { await db.pool.query(DUPLICATE_USER) } }, async () => 'unreached')
  app.get('/on-request', { onRequest: (_request, _reply, done) => { done(uniqueError) } }, async () => 'unreached')
  for (const url of ['/pre-handler', '/on-request']) {
    const response = await app.inject({ url })
    t.equal(response.statusCode, 409, url)
    t.same(response.json().fields, ['email'], url)
  }
  const head = await app.inject({ method: 'HEAD', url: '/pre-handler' })
  t.equal(head.statusCode, 409, 'the HEAD route Fastify adds for a GET too')
})

t.test('a route with a 409 response schema: the exported schema, or its own', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { ...catalogFor, expose: { values: true, constraint: true } })
  app.post('/exported', { schema: { response: { 409: conflictResponseSchema } } }, async () => { await db.pool.query(DUPLICATE_USER) })
  app.post('/exported-again', { schema: { response: { 409: conflictResponseSchema } } }, async () => { await db.pool.query(DUPLICATE_USER) })
  app.addSchema(conflictResponseSchema)
  app.post('/by-ref', { schema: { response: { 409: { $ref: 'fastify-pg-conflict#' } } } }, async () => { await db.pool.query(DUPLICATE_USER) })
  app.post('/own', { schema: { response: { '4xx': { type: 'object', properties: { message: { type: 'string' } } } } } },
    async () => { await db.pool.query(DUPLICATE_USER) })
  const exported = await app.inject({ method: 'POST', url: '/exported' })
  t.equal(exported.statusCode, 409)
  t.same(exported.json(), {
    statusCode: 409,
    code: 'PG_UNIQUE_VIOLATION',
    error: 'Conflict',
    message: 'A record with this email already exists.',
    fields: ['email'],
    constraint: 'users_email_key',
    table: 'users',
    values: { email: 'ada@example.com' }
  })
  for (const url of ['/exported-again', '/by-ref']) {
    t.same((await app.inject({ method: 'POST', url })).json(), exported.json(), `${url}: the same body (inline on several routes, or by $ref)`)
  }
  const own = await app.inject({ method: 'POST', url: '/own' })
  t.equal(own.statusCode, 409)
  t.same(own.json(), { message: 'A record with this email already exists.' }, "the route's schema shapes the body")
})

t.test('config.conflict = false leaves the route alone', async (t) => {
  const plain = buildApp(t).app
  plain.post('/users', async () => { await db.pool.query(DUPLICATE_USER) })
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, catalogFor)
  app.post('/users', { config: { conflict: false } }, async () => { await db.pool.query(DUPLICATE_USER) })
  const [want, got] = await Promise.all([plain.inject({ method: 'POST', url: '/users' }), app.inject({ method: 'POST', url: '/users' })])
  t.equal(got.statusCode, 500)
  t.same(got.json(), want.json())
})

t.test('messages, fields and exposure: per constraint (exact, prefix, suffix, pattern), plugin-wide and per route', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, {
    ...catalogFor,
    message: 'Already taken.',
    fieldName: (column) => column.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()),
    constraints: [
      { constraint: 'users_email_key', message: 'This email is registered already.', fields: 'emailAddress' },
      { constraint: 'teams_', match: 'prefix', message: (conflict) => `Team ${conflict.values?.[1] ?? '?'} exists in this organisation.` },
      { constraint: '_pkey', match: 'suffix', message: 'Duplicate id.' },
      { constraint: /^events_/, expose: { constraint: true } }
    ]
  })
  app.post('/users', async () => { await db.pool.query(DUPLICATE_USER) })
  app.post('/teams', async () => { await db.pool.query("INSERT INTO teams VALUES (2, 1, 'core')") })
  app.post('/user-id', async () => { await db.pool.query("INSERT INTO users (id, email) VALUES (1, 'new@example.com')") })
  app.post('/events', async () => { await db.pool.query('INSERT INTO events VALUES (1, 1)') })
  app.post('/invite', {
    config: {
      conflict: {
        message: 'Could not invite: already a member.',
        expose: { values: true },
        constraints: [{ constraint: 'teams_org_id_name_key', fields: ['organisation', 'teamName'] }]
      }
    }
  }, async (request) => { await db.pool.query((request.body as { sql: string }).sql) })

  const body = async (url: string, payload?: object): Promise<Record<string, unknown>> =>
    (await app.inject({ method: 'POST', url, ...(payload === undefined ? {} : { payload }) })).json()

  t.match(await body('/users'), { message: 'This email is registered already.', fields: ['emailAddress'] }, 'exact name')
  t.match(await body('/teams'), { message: 'Team core exists in this organisation.', fields: ['orgId', 'name'] }, 'prefix, message function, fieldName')
  t.match(await body('/user-id'), { message: 'Duplicate id.', fields: ['id'] }, 'suffix')
  const events = await body('/events')
  t.match(events, { message: 'Already taken.', constraint: 'events_tenant_id_key', table: 'events' }, 'pattern; plugin-wide message')
  t.notOk('values' in events, 'values stay hidden where only the constraint is exposed')

  const invite = await body('/invite', { sql: "INSERT INTO teams VALUES (3, 1, 'core')" })
  t.match(invite, { message: 'Could not invite: already a member.', fields: ['organisation', 'teamName'], values: { organisation: '1', teamName: 'core' } },
    'route config wins over the plugin, its constraint rule over its own defaults')
  t.notOk('constraint' in invite)
  const inviteUser = await body('/invite', { sql: DUPLICATE_USER })
  t.match(inviteUser, { message: 'Could not invite: already a member.', fields: ['emailAddress'] }, "the plugin's rule still gives the field on the route")
})

t.test('with @fastify/postgres registered, its pool is used for the catalog without being asked', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPostgres, { connectionString: databaseUrl(), options: `-c search_path=${db.schema}` })
  await app.register(fastifyPgConflict, { catalog: { schemas: [db.schema] }, expose: { constraint: true } })
  app.post('/events', async function () { await this.pg.query('INSERT INTO events VALUES (1, 1)') })
  const body = (await app.inject({ method: 'POST', url: '/events' })).json()
  t.match(body, { constraint: 'events_tenant_id_key', table: 'events', fields: ['tenant', 'id'] },
    'the partition is reported as its parent, which only the catalog knows')
})

/** A pool that counts the catalog reads going through it (its unique indexes query), and the catalog version queries. */
function countingPool (pool: pg.Pool): Queryable & { reads: number, versions: number } {
  const counting = {
    reads: 0,
    versions: 0,
    query: async (text: string, values?: unknown[]) => {
      if (text === CATALOG_VERSION_SQL) counting.versions++
      else if (text.includes('pg_index')) counting.reads++
      return await pool.query(text, values)
    }
  }
  return counting
}

t.test('the catalog is read once at start-up, and again only for an index it does not know', async (t) => {
  const pool = countingPool(db.pool)
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { pool, catalog: { schemas: [db.schema], minRefreshInterval: 60_000 }, expose: { constraint: true } })
  app.post<{ Body: { sql: string } }>('/run', async (request) => { await db.pool.query(request.body.sql) })
  await app.ready()
  t.equal(pool.reads, 1, 'read at start-up')
  for (let i = 0; i < 5; i++) await app.inject({ method: 'POST', url: '/run', payload: { sql: DUPLICATE_USER } })
  t.equal(pool.reads, 1, 'no read for known indexes, however many conflicts')

  // A migration while the app runs: a new partitioned table, whose conflicts only the catalog reports rightly.
  await db.exec(`CREATE TABLE visits (site int, day date, UNIQUE (site, day)) PARTITION BY LIST (site);
    CREATE TABLE visits_1 PARTITION OF visits FOR VALUES IN (1);
    CREATE TABLE visits_2 PARTITION OF visits FOR VALUES IN (2);
    INSERT INTO visits VALUES (1, '2026-01-01'), (2, '2026-01-01')`)
  const first = await app.inject({ method: 'POST', url: '/run', payload: { sql: "INSERT INTO visits VALUES (1, '2026-01-01')" } })
  t.match(first.json(), { constraint: 'visits_site_day_key', table: 'visits', fields: ['site', 'day'] }, 'the new index is known after one read')
  t.equal(pool.reads, 2)
  // A name no read can find (here made up by RAISE): the catalog's version says it has not changed,
  // which a rename would too: one read, then none within minRefreshInterval.
  const ghost = "DO $$ BEGIN RAISE unique_violation USING MESSAGE = 'taken', CONSTRAINT = 'ghost_key'; END $$"
  const versionsBefore = pool.versions
  for (let i = 0; i < 3; i++) {
    const response = await app.inject({ method: 'POST', url: '/run', payload: { sql: ghost } })
    t.match(response.json(), { statusCode: 409, fields: [], constraint: 'ghost_key' })
  }
  t.equal(pool.reads, 3, 'a name the catalog does not have, the catalog unchanged: one read, not one per conflict')
  t.equal(pool.versions - versionsBefore, 4, 'one version query each (two index probes), and the read\'s own')
  await app.pgConflict.refresh()
  t.equal(pool.reads, 4, 'pgConflict.refresh() reads it on demand')
})

t.test('a catalog that cannot be read: start-up goes on with a warning; conflicts are described from DETAIL', async (t) => {
  const { app, logs } = buildApp(t)
  const failing: Queryable = { query: async () => { throw new Error('permission denied for pg_index') } }
  await app.register(fastifyPgConflict, { pool: failing })
  routes(app)
  await app.ready()
  t.ok(logs.some((line) => line.level === 40 && line.msg.includes('could not read the catalog')), 'warned')
  const response = await app.inject({ method: 'POST', url: '/users' })
  t.equal(response.statusCode, 409)
  t.same(response.json().fields, ['email'])
})

t.test('a catalog read that hangs delays neither start-up nor a request beyond the timeout', async (t) => {
  const { app } = buildApp(t)
  const hanging: Queryable = { query: () => new Promise(() => {}) }
  await app.register(fastifyPgConflict, { pool: hanging, catalog: { timeout: 50, minRefreshInterval: 0 } })
  routes(app)
  const started = Date.now()
  await app.ready()
  const response = await app.inject({ method: 'POST', url: '/users' })
  t.equal(response.statusCode, 409)
  t.same(response.json().fields, ['email'])
  t.ok(Date.now() - started < 5000, 'answered without waiting for the catalog')
})

t.test('start-up warns about configured constraints that match no index, and names PostgreSQL would cut', async (t) => {
  const { app, logs } = buildApp(t)
  const long = `users_${'x'.repeat(60)}_key`
  await app.register(fastifyPgConflict, {
    ...catalogFor,
    constraints: [
      { constraint: 'users_email_key', message: 'fine' },
      { constraint: 'users_emial_key', message: 'typo' },
      { constraint: 'nothing_', match: 'prefix' },
      { constraint: long }
    ]
  })
  // A GET: its HEAD copy carries the same rules, which must not warn twice.
  app.get('/x', { config: { conflict: { constraints: [{ constraint: /^no_such_/ }, { constraint: long }] } } }, async () => 'ok')
  await app.ready()
  const warnings = logs.filter((line) => line.level === 40).map((line) => line.msg)
  t.ok(warnings.includes('fastify-pg-conflict: the configured constraint "users_emial_key" matches no unique index or constraint in the database; did you mean "users_email_key"?'),
    'a typo: quoted, with the nearest name')
  t.ok(warnings.includes('fastify-pg-conflict: the configured constraint prefix "nothing_" matches no unique index or constraint in the database'), 'a prefix that matches nothing')
  t.equal(warnings.filter((w) => w === 'fastify-pg-conflict: route /x: the configured constraint pattern /^no_such_/ matches no unique index or constraint in the database').length, 1,
    "a route's pattern, naming the route, once")
  t.equal(warnings.filter((w) => w.includes(long) && w.includes('63 bytes')).length, 2, 'a name over 63 bytes, plugin-wide and on the route')
  t.notOk(warnings.some((w) => w.includes('"users_email_key" matches')), 'no warning for a name that exists')
})

t.test('bad options are refused at registration with a clear error', async (t) => {
  const bad: Array<[unknown, RegExp]> = [
    [{ pool: {} }, /options\.pool must be a pg\.Pool/],
    [{ constraint: [] }, /unknown option "constraint"/],
    [{ constraints: {} }, /options\.constraints must be an array/],
    [{ constraints: [{ constraint: '' }] }, /options\.constraints\[0\]\.constraint must be a non-empty string or a RegExp/],
    [{ constraints: [{ constraint: 'a', match: 'start' }] }, /match must be "exact", "prefix" or "suffix"/],
    [{ constraints: [{ constraint: /a/, match: 'prefix' }] }, /does not apply to a RegExp/],
    [{ constraints: ['users_email_key'] }, /options\.constraints\[0\] must be an object/],
    [{ constraints: [{ constraint: 'a', feilds: ['x'] }] }, /unknown option "feilds"/],
    [{ message: 42 }, /options\.message must be a string or a function/],
    [{ fields: [1] }, /options\.fields must be a field name or an array/],
    [{ expose: true }, /options\.expose must be an object/],
    [{ expose: { values: 'yes' } }, /options\.expose\.values must be true or false/],
    [{ expose: { detail: true } }, /unknown option "detail"/],
    [{ fieldName: 'camel' }, /options\.fieldName must be a function/],
    [{ catalog: true }, /options\.catalog must be false or an object/],
    [{ catalog: { schemas: 'public' } }, /options\.catalog\.schemas must be a non-empty array/],
    [{ catalog: { schemas: [] } }, /options\.catalog\.schemas must be a non-empty array/],
    [{ catalog: { timeout: 2 ** 31 } }, /options\.catalog\.timeout must be a number of milliseconds from 0 to 2147483647/],
    [{ catalog: { timeout: -1 } }, /options\.catalog\.timeout must be a number/],
    [{ catalog: { minRefreshInterval: Number.NaN } }, /minRefreshInterval must be a number/],
    [{ catalog: { ttl: 5 } }, /unknown option "ttl"/]
  ]
  for (const [options, message] of bad) {
    const app = Fastify() // not closed: an app whose plugin failed to load rejects close() with the same error
    await t.rejects(async () => { await app.register(fastifyPgConflict, options as never) }, { code: 'PG_CONFLICT_INVALID_OPTION', message }, JSON.stringify(options))
  }
  // Fastify itself refuses options that are not an object before a plugin sees them; the check stands for other callers.
  t.throws(() => { checkPluginOptions([]) }, { code: 'PG_CONFLICT_INVALID_OPTION', message: /options must be an object/ })
})

t.test("a bad route config is refused when the route is added, naming the route", async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { catalog: false })
  t.throws(() => app.post('/x', { config: { conflict: { mesage: 'typo' } as never } }, async () => 'ok'),
    { code: 'PG_CONFLICT_INVALID_OPTION', message: /route POST \/x config\.conflict has an unknown option "mesage"/ })
  t.throws(() => app.post('/y', { config: { conflict: 'off' as never } }, async () => 'ok'), { message: /config\.conflict must be false or an object/ })
  t.throws(() => app.post('/z', { config: { conflict: { constraints: [{ constraint: 3 }] } as never } }, async () => 'ok'),
    { message: /config\.conflict\.constraints\[0\]\.constraint/ })
  t.throws(() => app.post('/w', { config: { conflict: { fieldName: 'x' } as never } }, async () => 'ok'), { message: /config\.conflict\.fieldName must be a function/ })
})

t.test('app.pgConflict.describe() gives application code the same description', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, catalogFor)
  await app.ready()
  const conflict = await app.pgConflict.describe(new Error('wrapped', { cause: uniqueError }))
  t.match(conflict, { constraint: 'users_email_key', table: 'users', columns: ['email'], fields: ['email'], values: ['ada@example.com'] })
  t.equal(await app.pgConflict.describe(new Error('other')), undefined)
})

t.test('one info line per conflict, also when the application handles the error', async (t) => {
  const { app, logs } = buildApp(t)
  await app.register(fastifyPgConflict, catalogFor)
  app.setErrorHandler((error: FastifyError, _request, reply) => { reply.code(409).send({ code: error.code }) })
  routes(app)
  await app.inject({ method: 'POST', url: '/users' })
  const lines = logs.filter((line) => line.conflict !== undefined)
  t.equal(lines.length, 1)
  t.match(lines[0], { level: INFO, conflict: { constraint: 'users_email_key', schema: db.schema, table: 'users', fields: ['email'], values: '[redacted]' } })
})

t.test('with no options and no @fastify/postgres, conflicts are described from DETAIL', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict)
  routes(app)
  const response = await app.inject({ method: 'POST', url: '/users' })
  t.equal(response.statusCode, 409)
  t.same(response.json().fields, ['email'])
})

t.test('registered again in a child scope, the closer registration decides for its routes', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { ...catalogFor, message: 'root' })
  const seen: unknown[] = []
  await app.register(async (child) => {
    await child.register(fastifyPgConflict, { catalog: false, message: 'child', fieldName: (c) => c.toUpperCase() })
    child.post('/users', { errorHandler: recordingHandler(seen) }, async () => { await db.pool.query(DUPLICATE_USER) })
    child.post('/plain', async () => { await db.pool.query(DUPLICATE_USER) })
    child.post('/off', { config: { conflict: false }, errorHandler: recordingHandler(seen) }, async () => { await db.pool.query(DUPLICATE_USER) })
  }, { prefix: '/child' })
  app.post('/users', async () => { await db.pool.query(DUPLICATE_USER) })

  t.match((await app.inject({ method: 'POST', url: '/users' })).json(), { message: 'root', fields: ['email'] })
  t.match((await app.inject({ method: 'POST', url: '/child/plain' })).json(), { message: 'child', fields: ['EMAIL'] })
  t.equal((await app.inject({ method: 'POST', url: '/child/users' })).statusCode, 409)
  t.equal(seen.length, 1, "the route's own handler ran once")
  t.equal((seen[0] as ConflictError).message, 'child')
  t.equal((await app.inject({ method: 'POST', url: '/child/off' })).statusCode, 500)
  t.equal((seen[1] as pg.DatabaseError).code, '23505', "with conflict: false the route's handler gets the original error")
})

t.test('a postgres.js error (constraint_name, table_name, schema_name) is recognised and resolved the same', async (t) => {
  const sql = postgres(databaseUrl(), { connection: { search_path: db.schema }, max: 1, onnotice: () => {} })
  t.teardown(() => sql.end())
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { ...catalogFor, expose: { constraint: true, values: true } })
  app.post('/users', async () => { await sql`INSERT INTO users (email) VALUES (${'ada@example.com'})` })
  app.post('/events', async () => { await sql`INSERT INTO events VALUES (1, 1)` })
  t.match((await app.inject({ method: 'POST', url: '/users' })).json(),
    { statusCode: 409, fields: ['email'], constraint: 'users_email_key', table: 'users', values: { email: 'ada@example.com' } })
  t.match((await app.inject({ method: 'POST', url: '/events' })).json(),
    { statusCode: 409, fields: ['tenant', 'id'], constraint: 'events_tenant_id_key', table: 'events' }, 'through the catalog, by schema_name')
})

t.test('an index replaced under the same name: DETAIL contradicts the cached keys, so the catalog is read again', async (t) => {
  await db.exec(`CREATE TABLE handles (email text, handle text);
    CREATE UNIQUE INDEX handles_key ON handles (email);
    INSERT INTO handles VALUES ('ada@example.com', 'ada')`)
  const pool = countingPool(db.pool)
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { pool, catalog: { schemas: [db.schema] }, expose: { values: true } })
  app.post('/handles', async () => { await db.pool.query("INSERT INTO handles VALUES ('grace@example.com', 'ada')") })
  await app.ready()
  await db.exec('DROP INDEX handles_key; CREATE UNIQUE INDEX handles_key ON handles (handle)')
  const body = (await app.inject({ method: 'POST', url: '/handles' })).json()
  t.match(body, { fields: ['handle'], values: { handle: 'ada' }, message: 'A record with this handle already exists.' })
  t.equal(pool.reads, 2, 'one more read, for the replaced index')
})

t.test("a message or fieldName of the application's that throws or returns a non-string: still a 409, and an error logged", async (t) => {
  const cases: Array<[string, object, object]> = [
    ['message throws', { message: () => { throw new Error('bug') } }, { message: 'A record with this email already exists.', fields: ['email'] }],
    ['message returns a number', { message: () => 42 }, { message: 'A record with this email already exists.', fields: ['email'] }],
    ['fieldName throws', { fieldName: () => { throw new Error('bug') } }, { message: 'A record with this email already exists.', fields: ['email'] }],
    ['fieldName returns undefined', { fieldName: () => undefined }, { fields: ['email'] }],
    ['fieldName returns an empty string', { fieldName: () => '' }, { fields: ['email'] }],
    ['fieldName gets only the column', { fieldName: (...args: unknown[]) => `${args.length}` }, { fields: ['1'] }]
  ]
  for (const [name, options, expected] of cases) {
    const { app, logs } = buildApp(t)
    await app.register(fastifyPgConflict, { catalog: false, ...options })
    routes(app)
    const response = await app.inject({ method: 'POST', url: '/users' })
    t.equal(response.statusCode, 409, `${name}: 409`)
    t.match(response.json(), expected, `${name}: the body`)
    if (name !== 'fieldName gets only the column') {
      t.ok(logs.some((line) => line.level === 50 && line.msg.startsWith('fastify-pg-conflict:')), `${name}: logged as an error`)
    }
  }
})

t.test("Fastify's own register options (prefix, logLevel) are accepted", async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { catalog: false, prefix: '/api', logLevel: 'warn' } as never)
  routes(app)
  t.equal((await app.inject({ method: 'POST', url: '/users' })).statusCode, 409)
})
