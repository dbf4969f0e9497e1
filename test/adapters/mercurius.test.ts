// fastify-pg-conflict/mercurius: integrity errors raised in resolvers of a real mercurius app on
// real PostgreSQL (as a least-privilege role) become GraphQL errors whose extensions say what the
// HTTP answer says; their path is kept, several in one request each get their own, and every
// other error reaches the client exactly as without the plugin.
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { metrics } from '@opentelemetry/api'
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics'
import mercurius, { type MercuriusOptions } from 'mercurius'
import fastifyPgConflict, { snakeToCamel, type FastifyPgConflictOptions } from '../../src/index.js'
import pgConflictMercurius, { type ConflictExtensions } from '../../src/mercurius.js'
import { buildApp, ERROR, INFO, type LogLine } from '../helpers/app.js'
import { testDatabase } from '../helpers/db.js'
import { appRole } from '../helpers/roles.js'

const db = await testDatabase(t, 'mercurius')
await db.exec(`
  CREATE TABLE orgs (id int PRIMARY KEY);
  CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL CONSTRAINT users_email_key UNIQUE, age int CONSTRAINT users_age_check CHECK (age >= 0));
  CREATE TABLE teams (id serial PRIMARY KEY, org_id int NOT NULL CONSTRAINT teams_org_fk REFERENCES orgs (id), team_name text NOT NULL,
    CONSTRAINT teams_org_name_key UNIQUE (org_id, team_name));
  CREATE TABLE tickets (id serial PRIMARY KEY, note text);
  INSERT INTO orgs VALUES (1);
  INSERT INTO users (email) VALUES ('ada@example.com');
  INSERT INTO teams (org_id, team_name) VALUES (1, 'core');
  INSERT INTO tickets (id, note) SELECT g, 'imported' FROM generate_series(1, 3) g;
`)
const { pool } = await appRole(t, db, 'gql')

const schema = `
  type User { id: Int!, email: String! }
  type Team { id: Int!, teamName: String! }
  type Query {
    user(email: String!): User
    claim(email: String!): User
    version: String
    ticket: Int
    boom: String
    nothing: String
    oops: String
    syntax: String
    forged: String
    wrapped: String
  }
  type Mutation {
    createUser(email: String!, age: Int): User
    createUserOrFail(email: String!): User!
    createTeam(orgId: Int!, teamName: String!): Team
    createTicket: Int
  }
`

/** A real unique violation from node-postgres, for the resolvers that wrap or copy one. */
const uniqueError = await db.errorOf("INSERT INTO users (email) VALUES ('ada@example.com')")

async function insertUser (email: string, age: number | null = null): Promise<unknown> {
  const { rows } = await pool.query('INSERT INTO users (email, age) VALUES ($1, $2) RETURNING id, email', [email, age])
  return rows[0]
}

const resolvers: MercuriusOptions['resolvers'] = {
  Query: {
    user: async (_: unknown, { email }: { email: string }) => (await pool.query('SELECT id, email FROM users WHERE email = $1', [email])).rows[0],
    // A query that writes (get-or-create): queries run their fields in parallel.
    claim: async (_: unknown, { email }: { email: string }) => await insertUser(email),
    version: () => '1',
    ticket: async () => (await pool.query("INSERT INTO tickets (note) VALUES ('new') RETURNING id")).rows[0].id,
    boom: () => { throw new Error('boom') },
    nothing: () => { throw null }, // eslint-disable-line no-throw-literal
    oops: async () => { throw 'oops' }, // eslint-disable-line no-throw-literal
    syntax: async () => { await pool.query('SELECT FROM nowhere_at_all') },
    // The fields of a unique violation copied onto an Error: no driver made it.
    forged: () => { throw Object.assign(new Error('duplicate key value violates unique constraint "users_email_key"'), { code: '23505', constraint: 'users_email_key', table: 'users', detail: 'Key (email)=(ada@example.com) already exists.' }) },
    // The application answered the conflict itself, with extensions of its own.
    wrapped: () => { throw Object.assign(new mercurius.ErrorWithProps('That email is taken', { code: 'EMAIL_TAKEN' }), { cause: uniqueError }) }
  },
  Mutation: {
    createUser: async (_: unknown, { email, age }: { email: string, age?: number }) => await insertUser(email, age ?? null),
    createUserOrFail: async (_: unknown, { email }: { email: string }) => await insertUser(email),
    createTeam: async (_: unknown, { orgId, teamName }: { orgId: number, teamName: string }) =>
      (await pool.query('INSERT INTO teams (org_id, team_name) VALUES ($1, $2) RETURNING id, team_name AS "teamName"', [orgId, teamName])).rows[0],
    // Ids 1..3 were inserted explicitly: the sequence hands out 1, which collides.
    createTicket: async () => (await pool.query("INSERT INTO tickets (note) VALUES ('new') RETURNING id")).rows[0].id
  }
}

interface GraphQLError { message: string, path?: Array<string | number>, locations?: unknown, extensions?: ConflictExtensions & Record<string, unknown> }
interface GraphQLResponse { status: number, data: Record<string, unknown> | null, errors: GraphQLError[] }

/** A Fastify app with mercurius and, unless `bare`, fastify-pg-conflict and its GraphQL plugin. */
async function graphqlApp (t: Test, options: { plugin?: FastifyPgConflictOptions, mercurius?: Partial<MercuriusOptions>, bare?: boolean } = {}): Promise<{ app: FastifyInstance, logs: LogLine[], query: (query: string) => Promise<GraphQLResponse> }> {
  const { app, logs } = buildApp(t)
  if (options.bare !== true) await app.register(fastifyPgConflict, { pool, catalog: { schemas: [db.schema] }, ...options.plugin })
  await app.register(mercurius, { schema, resolvers, ...options.mercurius } as MercuriusOptions)
  if (options.bare !== true) await app.register(pgConflictMercurius)
  // The same insert over plain HTTP, to compare the answers.
  app.post('/users', async (request) => await insertUser((request.body as { email: string }).email))
  // A route of the application's running GraphQL itself, with settings of its own.
  app.post('/own', { config: { conflict: { message: 'Taken, says the route.' } } }, async (request, reply) => await reply.graphql((request.body as { query: string }).query))
  await app.ready()
  const query = async (text: string): Promise<GraphQLResponse> => {
    const response = await app.inject({ method: 'POST', url: '/graphql', payload: { query: text } })
    return { status: response.statusCode, ...(response.json() as { data: Record<string, unknown> | null, errors: GraphQLError[] }) }
  }
  return { app, logs, query }
}

/** Errors of fields resolved in parallel come in the order they failed: sorted by their path. */
const byPath = (a: unknown[], b: unknown[]): number => JSON.stringify(a[0]).localeCompare(JSON.stringify(b[0]))

const camel: FastifyPgConflictOptions = {
  fieldName: snakeToCamel,
  constraints: [{ constraint: 'teams_org_name_key', message: 'That team already exists in this organisation.' }]
}

t.test('a mutation failing on a unique violation: the HTTP answer\'s code, status, fields and message, at the field\'s path', async (t) => {
  const { app, logs, query } = await graphqlApp(t)
  const response = await query('mutation { createUser(email: "ada@example.com") { id } }')
  t.equal(response.status, 200, 'the HTTP status stays mercurius\'s: 200, as GraphQL over HTTP says for execution errors')
  t.same(response.data, { createUser: null }, 'the field is null')
  t.same(response.errors, [{
    message: 'A record with this email already exists.',
    locations: [{ line: 1, column: 12 }],
    path: ['createUser'],
    extensions: { code: 'PG_UNIQUE_VIOLATION', message: 'A record with this email already exists.', status: 409, fields: ['email'] }
  }], 'one error, with the path and locations GraphQL gives it')

  const http = await app.inject({ method: 'POST', url: '/users', payload: { email: 'ada@example.com' } })
  const body = http.json<{ statusCode: number, code: string, message: string, fields: string[] }>()
  t.same([response.errors[0]?.extensions?.code, response.errors[0]?.extensions?.status, response.errors[0]?.extensions?.fields, response.errors[0]?.message],
    [body.code, body.statusCode, body.fields, body.message], 'the same code, status, fields and message as the HTTP answer')

  const answered = logs.filter((line) => line.conflict !== undefined)
  t.equal(answered.length, 2, 'one log line per answered error (GraphQL and HTTP), as over HTTP')
  t.match(answered[0], { level: INFO, msg: 'unique violation', conflict: { constraint: 'users_email_key', fields: ['email'], values: '[redacted]' } })
  t.notOk(JSON.stringify(logs).includes('ada@example.com'), 'no log line carries the values, mercurius\'s own included')

  const strict = await query('mutation { createUserOrFail(email: "ada@example.com") { id } }')
  t.equal(strict.status, 200, 'a lone error on a non-null root field (no data at all): still 200, the status is in extensions')
  t.equal(strict.data, null)
  t.match(strict.errors, [{ path: ['createUserOrFail'], extensions: { code: 'PG_UNIQUE_VIOLATION', status: 409 } }])
})

t.test('an errorFormatter of the application\'s (docs/graphql.md): the status from extensions, the driver\'s error and the description on originalError', async (t) => {
  const seen: unknown[] = []
  const errorFormatter: MercuriusOptions['errorFormatter'] = (execution, context) => {
    seen.push(execution.errors[0]?.originalError)
    const formatted = mercurius.defaultErrorFormatter(execution, context)
    const status = execution.errors[0]?.extensions?.status
    return execution.data == null && typeof status === 'number' ? { ...formatted, statusCode: status } : formatted
  }
  const { query } = await graphqlApp(t, { mercurius: { errorFormatter } })
  t.equal((await query('mutation { createUserOrFail(email: "ada@example.com") { id } }')).status, 409, 'no data: the error\'s status')
  t.equal((await query('mutation { createUser(email: "ada@example.com") { id } }')).status, 200, 'data: mercurius\'s 200')
  t.match(seen[0], { cause: { code: '23505', constraint: 'users_email_key' }, conflict: { kind: 'unique', constraint: 'users_email_key', values: ['ada@example.com'] } })
})

t.test('several errors in one request: each its own extensions and path, the fields that succeed keep their data', async (t) => {
  const { query } = await graphqlApp(t, { plugin: camel })
  // Query fields run in parallel; these insert.
  const parallel = await query(`{
    version
    a: claim(email: "ada@example.com") { id }
    fresh: claim(email: "parallel-new@example.com") { email }
    b: claim(email: "ada@example.com") { id }
  }`)
  t.same(parallel.data, { version: '1', a: null, fresh: { email: 'parallel-new@example.com' }, b: null }, 'the new email is created, the duplicates are null')
  t.same(parallel.errors.map((error) => [error.path, error.extensions?.code, error.extensions?.fields]).sort(byPath),
    [[['a'], 'PG_UNIQUE_VIOLATION', ['email']], [['b'], 'PG_UNIQUE_VIOLATION', ['email']]], 'two errors, at their aliases')

  // Mutations run one after the other: every kind of integrity error in one request.
  const serial = await query(`mutation {
    dup: createUser(email: "ada@example.com") { id }
    team: createTeam(orgId: 1, teamName: "core") { id }
    noOrg: createTeam(orgId: 99, teamName: "x") { id }
    negative: createUser(email: "minus@example.com", age: -1) { id }
    ok: createTeam(orgId: 1, teamName: "platform") { teamName }
  }`)
  t.same(serial.data, { dup: null, team: null, noOrg: null, negative: null, ok: { teamName: 'platform' } })
  t.same(serial.errors.map(({ message, path, extensions }) => ({ message, path, extensions })), [
    { message: 'A record with this email already exists.', path: ['dup'], extensions: { code: 'PG_UNIQUE_VIOLATION', message: 'A record with this email already exists.', status: 409, fields: ['email'] } },
    { message: 'That team already exists in this organisation.', path: ['team'], extensions: { code: 'PG_UNIQUE_VIOLATION', message: 'That team already exists in this organisation.', status: 409, fields: ['orgId', 'teamName'] } },
    { message: 'The record referenced by orgId does not exist.', path: ['noOrg'], extensions: { code: 'PG_FOREIGN_KEY_VIOLATION', message: 'The record referenced by orgId does not exist.', status: 422, fields: ['orgId'] } },
    { message: 'The value of age is not allowed.', path: ['negative'], extensions: { code: 'PG_CHECK_VIOLATION', message: 'The value of age is not allowed.', status: 422, fields: ['age'] } }
  ], 'the per-constraint message, the fields through fieldName, each kind\'s code and status')
})

t.test('OpenTelemetry: each answer counted as the plugin\'s are, with the status it stands for', async (t) => {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })
  const provider = new MeterProvider({ readers: [reader] })
  metrics.disable()
  metrics.setGlobalMeterProvider(provider)
  t.teardown(async () => { metrics.disable(); await provider.shutdown() })
  const { query } = await graphqlApp(t)
  await query('mutation { a: createUser(email: "ada@example.com") { id } b: createTeam(orgId: 99, teamName: "x") { id } }')
  await reader.forceFlush()
  const answers = exporter.getMetrics().flatMap(({ scopeMetrics }) => scopeMetrics).flatMap(({ metrics: list }) => list)
    .filter((metric) => metric.descriptor.name === 'pg_conflict.answers')
    .flatMap((metric) => metric.dataPoints.map(({ attributes, value }) => ({ attributes, value: value as number })))
  t.same(answers.map(({ attributes, value }) => [attributes['db.response.status_code'], attributes['http.response.status_code'], value]).sort(),
    [['23503', 422, 1], ['23505', 409, 1]], 'a unique and a foreign key violation, 409 and 422')
})

t.test('no leak: internal names and values only as expose allows', async (t) => {
  const hidden = await graphqlApp(t, { plugin: { telemetry: false } })
  const quiet = await hidden.query('mutation { createTeam(orgId: 1, teamName: "core") { id } }')
  const text = JSON.stringify(quiet.errors)
  for (const name of ['teams_org_name_key', 'teams', 'core', 'duplicate key']) t.notOk(text.includes(name), `the error does not say ${name}`)

  const { query } = await graphqlApp(t, { plugin: { constraints: [{ constraint: 'teams_org_name_key', expose: { constraint: true, values: true } }] } })
  const exposed = await query('mutation { createTeam(orgId: 1, teamName: "core") { id } }')
  t.same(exposed.errors[0]?.extensions, {
    code: 'PG_UNIQUE_VIOLATION', message: 'A record with this org_id and team_name already exists.', status: 409, fields: ['org_id', 'team_name'], constraint: 'teams_org_name_key', table: 'teams', values: { org_id: '1', team_name: 'core' }
  }, 'exposed for that constraint: its name, table and values')
})

t.test('every other error reaches the client exactly as without the plugin', async (t) => {
  const plain = await graphqlApp(t, { bare: true })
  const { query, logs } = await graphqlApp(t, { plugin: { errors: { foreignKey: false } } })
  for (const text of [
    '{ boom }', // not the database's
    '{ nothing oops }', // not even Errors
    '{ syntax }', // the database's, not an integrity error
    '{ forged }', // a unique violation's fields on an Error no driver made
    '{ wrapped }', // the application's own GraphQL error, around a real unique violation
    'mutation { createTeam(orgId: 99, teamName: "x") { id } }', // a kind switched off
    '{ nope }' // not even valid
  ]) {
    const [want, got] = await Promise.all([plain.query(text), query(text)])
    t.same(got, want, `${text}: the same status, data and errors`)
  }
  t.equal((await query('{ wrapped }')).errors[0]?.extensions?.code, 'EMAIL_TAKEN', 'the application\'s extensions stay')
  t.notOk(logs.some((line) => line.conflict !== undefined), 'nothing was answered')
})

t.test('the GraphQL route\'s own config.conflict applies, and false leaves its errors alone', async (t) => {
  const routed = await graphqlApp(t, { mercurius: { additionalRouteOptions: { config: { conflict: { message: 'Taken.', errors: { check: { status: 400 } } } } } } })
  const response = await routed.query('mutation { dup: createUser(email: "ada@example.com") { id } negative: createUser(email: "neg@example.com", age: -1) { id } }')
  t.same(response.errors.map((error) => [error.message, error.extensions?.status]), [['Taken.', 409], ['The value of age is not allowed.', 400]], 'the route\'s message and status')

  const own = await routed.app.inject({ method: 'POST', url: '/own', payload: { query: 'mutation { createUser(email: "ada@example.com") { id } }' } })
  t.match(own.json(), { errors: [{ message: 'Taken, says the route.', extensions: { code: 'PG_UNIQUE_VIOLATION' } }] }, 'reply.graphql() in a route of the application\'s: that route\'s settings')

  const off = await graphqlApp(t, { mercurius: { additionalRouteOptions: { config: { conflict: false } } } })
  const untouched = await off.query('mutation { createUser(email: "ada@example.com") { id } }')
  t.match(untouched.errors, [{ message: /^duplicate key value violates unique constraint "users_email_key"/, path: ['createUser'] }], 'PostgreSQL\'s own error, as without the plugin')
  t.equal(untouched.errors[0]?.extensions, undefined)

  // app.graphql() called by the application: no request, the plugin's settings.
  const direct = await off.app.graphql('mutation { createUser(email: "ada@example.com") { id } }')
  t.match(direct.errors, [{ message: 'A record with this email already exists.', extensions: { code: 'PG_UNIQUE_VIOLATION' } }])
})

t.test('graphql-jit, loaders and a sync throw: the same answers', async (t) => {
  const { query } = await graphqlApp(t, {
    mercurius: {
      jit: 1, // compiled from the second run of a query on
      resolvers: { ...resolvers, Query: { ...resolvers?.Query as object, syntax: () => { throw uniqueError } } },
      loaders: { User: { email: async (queries: Array<{ obj: { email: string } }>) => await Promise.all(queries.map(async ({ obj }) => { await insertUser(obj.email); return obj.email })) } }
    }
  })
  const text = 'mutation { createUser(email: "ada@example.com") { id } }'
  for (const run of ['interpreted', 'compiled']) {
    t.match((await query(text)).errors, [{ path: ['createUser'], extensions: { code: 'PG_UNIQUE_VIOLATION', fields: ['email'] } }], run)
  }
  t.match((await query('{ syntax }')).errors, [{ path: ['syntax'], extensions: { code: 'PG_UNIQUE_VIOLATION' } }], 'thrown synchronously by the resolver')
  // The loader inserts each user's email again, in one batch: one error per user, at its own path.
  await insertUser('loaded@example.com')
  const loaded = await query('{ a: user(email: "ada@example.com") { email } b: user(email: "loaded@example.com") { id email } }')
  t.same(loaded.errors.map((error) => [error.path, error.extensions?.code]).sort(byPath), [[['a', 'email'], 'PG_UNIQUE_VIOLATION'], [['b', 'email'], 'PG_UNIQUE_VIOLATION']])
})

t.test('an id sequence behind its table: an internal error naming nothing, and the fix in the log', async (t) => {
  const { query, logs } = await graphqlApp(t)
  const response = await query('mutation { createTicket }')
  t.same(response.errors, [{ message: 'Internal Server Error', locations: [{ line: 1, column: 12 }], path: ['createTicket'], extensions: { code: 'INTERNAL_SERVER_ERROR', message: 'Internal Server Error', status: 500 } }])
  t.match(logs.find((line) => line.level === ERROR && line.sequence !== undefined), { msg: /behind .*tickets.id.*answered as an internal error/ })
})

t.test('with repairSequences: repaired once per request, and the next insert succeeds', async (t) => {
  await db.exec("SELECT setval('tickets_id_seq', 1, false)")
  // The plugin reads and repairs as the tables' owner; the resolvers insert as the application's role.
  const { app, query, logs } = await graphqlApp(t, { plugin: { pool: db.pool, repairSequences: true } })
  // Two fields in parallel draw ids 1 and 2, both taken.
  const both = await query('{ a: ticket b: ticket }')
  t.same(both.errors.map((error) => error.extensions?.code), ['INTERNAL_SERVER_ERROR', 'INTERNAL_SERVER_ERROR'])
  t.equal(logs.filter((line) => /repaired the sequence/.test(line.msg)).length, 1, 'one repair for the request')
  t.same((await query('mutation { createTicket }')).data, { createTicket: 4 }, 'the sequence is past the table\'s maximum')

  await db.exec("SELECT setval('tickets_id_seq', 1, false)")
  const direct = await app.graphql('mutation { a: createTicket b: createTicket }')
  t.match(direct, { data: { a: null, b: 5 }, errors: [{ path: ['a'], extensions: { code: 'INTERNAL_SERVER_ERROR' } }] }, 'app.graphql() called directly: repaired too')
})

t.test('mercurius registered before the plugin: resolvers answered with the plugin\'s settings, the route\'s unseen', async (t) => {
  const { app, logs } = buildApp(t)
  await app.register(mercurius, { schema, resolvers, additionalRouteOptions: { config: { conflict: { message: 'Taken.' } } } })
  await app.register(fastifyPgConflict, { pool, catalog: { schemas: [db.schema] } })
  await app.register(pgConflictMercurius)
  await app.register(pgConflictMercurius) // twice: each resolver is wrapped once, each error answered once
  // A plugin registered later defines its resolvers: wrapped too, when the app is ready.
  await app.register(async (scope) => { scope.graphql.defineResolvers({ Query: { claim: async (_: unknown, { email }: { email: string }) => await insertUser(email) } }) })
  const response = await app.inject({ method: 'POST', url: '/graphql', payload: { query: 'mutation { createUser(email: "ada@example.com") { id } }' } })
  t.match(response.json(), { errors: [{ message: 'A record with this email already exists.', extensions: { code: 'PG_UNIQUE_VIOLATION' } }] })
  const later = await app.inject({ method: 'POST', url: '/graphql', payload: { query: '{ claim(email: "ada@example.com") { id } }' } })
  t.match(later.json(), { errors: [{ path: ['claim'], extensions: { code: 'PG_UNIQUE_VIOLATION' } }] }, 'the later plugin\'s resolver')
  t.ok(logs.some((line) => /declared before the plugin was registered/.test(line.msg) && line.msg.includes('/graphql')), 'the plugin warned of the route it never saw')
  t.equal(logs.filter((line) => line.conflict !== undefined).length, 2, 'each answered once')
})

t.test('registered without what it needs, or with options it does not know: a clear error', async (t) => {
  const noMercurius = buildApp(t).app
  await noMercurius.register(fastifyPgConflict, { catalog: false })
  await t.rejects(async () => { await noMercurius.register(pgConflictMercurius) }, { code: 'PG_CONFLICT_INVALID_OPTION', message: /needs mercurius registered first/ })

  const noPlugin = buildApp(t).app
  await noPlugin.register(mercurius, { schema, resolvers })
  await t.rejects(async () => { await noPlugin.register(pgConflictMercurius) }, { code: 'PG_CONFLICT_INVALID_OPTION', message: /needs the fastify-pg-conflict plugin registered first/ })

  const unknown = buildApp(t).app
  await unknown.register(fastifyPgConflict, { catalog: false })
  await unknown.register(mercurius, { schema, resolvers })
  await t.rejects(async () => { await unknown.register(pgConflictMercurius, { errorFormatter: true } as object) }, { code: 'PG_CONFLICT_INVALID_OPTION', message: /unknown option "errorFormatter"/ })
})
