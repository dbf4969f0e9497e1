// The `openapi` option with @fastify/swagger: what the generated OpenAPI 3 document says of routes
// with `config.conflict`, what it leaves alone, and that the answers the routes send are still
// exactly those of routes without the option (Fastify serializes them with the added schemas).
import t from 'tap'
import createError from '@fastify/error'
import fastifySwagger from '@fastify/swagger'
import type { FastifyInstance, FastifySchema, RouteShorthandOptions } from 'fastify'
import fastifyPgConflict, {
  conflictResponseSchema, errorBodySchema, isIntegrityError, problemBodySchema, problemResponseSchema,
  type FastifyPgConflictOptions, type RouteConflictConfig
} from '../../src/index.js'
import { buildApp } from '../helpers/app.js'
import { testDatabase } from '../helpers/db.js'

const db = await testDatabase(t, 'openapi')
await db.exec(`
  CREATE TABLE teams (id int PRIMARY KEY);
  CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL UNIQUE, team_id int REFERENCES teams (id), age int CHECK (age >= 0));
  CREATE TABLE counters (id int PRIMARY KEY, n int NOT NULL);
  INSERT INTO teams VALUES (1);
  INSERT INTO users (email, team_id) VALUES ('ada@example.com', 1);
  INSERT INTO counters VALUES (1, 0);
`)

const plugin: FastifyPgConflictOptions = { pool: db.pool, catalog: { schemas: [db.schema] } }
const expose = { values: true, constraint: true }

/** A real 40001: a REPEATABLE READ transaction updates a row changed since its snapshot. */
async function serializationFailure (): Promise<void> {
  const client = await db.pool.connect()
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ')
    await client.query('SELECT n FROM counters WHERE id = 1')
    await db.pool.query('UPDATE counters SET n = n + 1 WHERE id = 1')
    await client.query('UPDATE counters SET n = n + 1 WHERE id = 1')
  } finally {
    await client.query('ROLLBACK')
    client.release()
  }
}

/** Handlers failing with each kind of integrity error, by the real server. */
const failing = {
  unique: async () => { await db.pool.query("INSERT INTO users (email) VALUES ('ada@example.com')") },
  'foreign-key': async () => { await db.pool.query("INSERT INTO users (email, team_id) VALUES ('fk@example.com', 99)") },
  'not-null': async () => { await db.pool.query('INSERT INTO users (email) VALUES (NULL)') },
  check: async () => { await db.pool.query("INSERT INTO users (email, age) VALUES ('check@example.com', -1)") },
  referenced: async () => { await db.pool.query('DELETE FROM teams WHERE id = 1') },
  serialization: serializationFailure
}
const STATUS: Readonly<Record<string, number>> = { unique: 409, 'foreign-key': 422, 'not-null': 422, check: 422, referenced: 409, serialization: 503 }

/** One route per kind of error under `prefix`, each with `config.conflict` and `schema`. */
async function failingRoutes (app: FastifyInstance, prefix: string, conflict: RouteConflictConfig | undefined, schema?: FastifySchema): Promise<void> {
  await app.register(async (scope) => {
    for (const [name, handler] of Object.entries(failing)) {
      const options: RouteShorthandOptions = {}
      if (conflict !== undefined) options.config = { conflict }
      if (schema !== undefined) options.schema = schema
      scope.post(`/${name}`, options, handler)
    }
  }, { prefix })
}

interface Documented { description: string, content?: Record<string, { schema: Record<string, unknown> }> }
interface OpenApi {
  openapi: string
  paths: Record<string, { post: { responses: Record<string, Documented> } }>
  components: { schemas: Record<string, Record<string, unknown>> }
}

/** The OpenAPI 3 document @fastify/swagger makes of the app. */
async function documentOf (app: FastifyInstance): Promise<OpenApi> {
  await app.ready()
  return app.swagger() as unknown as OpenApi
}

async function withSwagger (app: FastifyInstance): Promise<void> {
  await app.register(fastifySwagger, { openapi: { openapi: '3.0.3', info: { title: 'test', version: '1.0.0' } } })
}

/** A documented answer: the body's schema under its content type, nothing required, other properties allowed. */
function documented (status: number, format: 'fastify' | 'problem' = 'fastify'): Documented {
  const description = { 409: 'Conflict', 422: 'Unprocessable Entity', 503: 'Service Unavailable' }[status] as string
  return format === 'problem'
    ? { description, content: { 'application/problem+json': { schema: problemBodySchema({ open: true }) } } }
    : { description, content: { 'application/json': { schema: errorBodySchema({ open: true }) } } }
}

const UNDOCUMENTED = { 200: { description: 'Default Response' } }

t.test('a route with config.conflict gets its 409, 422 and 503 documented with the default body; others are untouched', async (t) => {
  const { app } = buildApp(t)
  await withSwagger(app)
  await app.register(fastifyPgConflict, { ...plugin, openapi: true })
  await failingRoutes(app, '/configured', {})
  await failingRoutes(app, '/plain', undefined)
  app.post('/plain-with-schema', { schema: { response: { 200: { type: 'object', properties: { id: { type: 'integer' } } } } } }, failing.unique)
  app.post('/switched-off', { config: { conflict: false } }, failing.unique)
  const doc = await documentOf(app)
  t.equal(doc.openapi, '3.0.3')
  const responses = doc.paths['/configured/unique']?.post.responses
  t.same(Object.keys(responses ?? {}), ['409', '422', '503'], 'the three statuses the route can answer')
  for (const status of [409, 422, 503]) t.same(responses?.[status], documented(status), `${status}: the default body, as application/json`)
  const body = responses?.[409]?.content?.['application/json']?.schema as { properties: Record<string, unknown> }
  t.same(Object.keys(body.properties), ['statusCode', 'code', 'error', 'message', 'fields', 'constraint', 'table', 'values', 'conflicts'],
    'every property of the body is documented, exposed ones included')
  for (const name of Object.keys(failing)) {
    t.same(doc.paths[`/configured/${name}`]?.post.responses, responses, `/configured/${name}: documented the same`)
    t.same(doc.paths[`/plain/${name}`]?.post.responses, UNDOCUMENTED, `/plain/${name}: no config.conflict, nothing added`)
  }
  t.same(Object.keys(doc.paths['/plain-with-schema']?.post.responses ?? {}), ['200'], 'a schema of its own without config.conflict: nothing added')
  t.same(doc.paths['/switched-off']?.post.responses, UNDOCUMENTED, 'conflict: false: nothing added')
})

t.test('without the openapi option nothing is documented', async (t) => {
  const { app } = buildApp(t)
  await withSwagger(app)
  await app.register(fastifyPgConflict, plugin)
  await failingRoutes(app, '/configured', {})
  const doc = await documentOf(app)
  for (const name of Object.keys(failing)) t.same(doc.paths[`/configured/${name}`]?.post.responses, UNDOCUMENTED, name)
})

t.test("format: 'problem', plugin-wide or per route, is documented under application/problem+json", async (t) => {
  const { app } = buildApp(t)
  // The plugin first and swagger after it this time: both see the same route options.
  await app.register(fastifyPgConflict, { ...plugin, openapi: true, format: 'problem' })
  await withSwagger(app)
  app.post('/plugin-wide', { config: { conflict: {} } }, failing.unique)
  app.post('/route-default', { config: { conflict: { format: 'fastify' } } }, failing.unique)
  app.post('/own-format', { config: { conflict: { format: (parts) => ({ oops: parts.message }) } } }, failing.unique)
  const { app: other } = buildApp(t)
  await withSwagger(other)
  await other.register(fastifyPgConflict, { ...plugin, openapi: true })
  other.post('/route-problem', { config: { conflict: { format: 'problem' } } }, failing.unique)

  const doc = await documentOf(app)
  const problem = doc.paths['/plugin-wide']?.post.responses
  for (const status of [409, 422, 503]) t.same(problem?.[status], documented(status, 'problem'), `plugin-wide problem: ${status}`)
  const body = problem?.[409]?.content?.['application/problem+json']?.schema as { properties: Record<string, { items?: unknown }> }
  t.same(Object.keys(body.properties), ['type', 'title', 'status', 'detail', 'code', 'errors', 'instance', 'constraint', 'table', 'values'])
  t.same(body.properties.errors?.items, {
    type: 'object',
    properties: {
      detail: { type: 'string' }, pointer: { type: 'string' }, parameter: { type: 'string' }, in: { type: 'string', enum: ['path', 'query', 'header'] }, field: { type: 'string' }
    },
    additionalProperties: true
  }, 'errors[] documented: a pointer into the body, or a parameter and where it is')
  for (const status of [409, 422, 503]) t.same(doc.paths['/route-default']?.post.responses[status], documented(status), `the route's format: 'fastify' wins: ${status}`)
  t.same(doc.paths['/own-format']?.post.responses, UNDOCUMENTED, 'a format function makes bodies of the application\'s: nothing added')

  const otherDoc = await documentOf(other)
  for (const status of [409, 422, 503]) {
    t.same(otherDoc.paths['/route-problem']?.post.responses[status], documented(status, 'problem'), `the route's format: 'problem': ${status}`)
  }
})

t.test('a route that declares its own 409, 4xx, 5xx or default keeps it', async (t) => {
  const { app } = buildApp(t)
  await withSwagger(app)
  await app.register(fastifyPgConflict, { ...plugin, openapi: true })
  const own = { description: 'Ours', type: 'object', properties: { reason: { type: 'string' } } }
  const ownDoc = { description: 'Ours', content: { 'application/json': { schema: { description: 'Ours', type: 'object', properties: { reason: { type: 'string' } } } } } }
  const config = { conflict: {} }
  app.post('/own-409', { config, schema: { response: { 409: own } } }, failing.unique)
  app.post('/own-4xx', { config, schema: { response: { '4xx': own } } }, failing.unique)
  app.post('/own-4XX', { config, schema: { response: { '4XX': own } } }, failing.unique)
  app.post('/own-5xx', { config, schema: { response: { '5xx': own } } }, failing.unique)
  app.post('/own-default', { config, schema: { response: { default: own } } }, failing.unique)
  const doc = await documentOf(app)
  const responses = (url: string): Record<string, Documented> => doc.paths[url]?.post.responses ?? {}
  t.same(responses('/own-409'), { 409: ownDoc, 422: documented(422), 503: documented(503) }, 'its 409 kept, the others added')
  t.same(responses('/own-4xx'), { '4XX': ownDoc, 503: documented(503) }, '4xx covers 409 and 422')
  t.same(responses('/own-4XX'), { '4XX': ownDoc, 503: documented(503) }, '4XX too, as Fastify reads it')
  t.same(responses('/own-5xx'), { '5XX': ownDoc, 409: documented(409), 422: documented(422) }, '5xx covers 503')
  t.same(responses('/own-default'), { default: ownDoc }, 'default covers every status')

  for (const url of ['/own-409', '/own-4xx', '/own-4XX', '/own-default']) {
    const response = await app.inject({ method: 'POST', url })
    t.equal(response.statusCode, 409, url)
    t.equal(response.body, '{}', `${url}: the route's own schema shapes the body (it has no reason)`)
  }
})

t.test('a schema object shared between routes is never changed, and each route is documented as its own config says', async (t) => {
  const { app } = buildApp(t)
  await withSwagger(app)
  await app.register(fastifyPgConflict, { ...plugin, openapi: true })
  const shared: FastifySchema = {
    body: { type: 'object', properties: { email: { type: 'string' } } },
    response: { 201: { type: 'object', properties: { id: { type: 'integer' } } } }
  }
  const sharedResponse = { 201: { type: 'object', properties: { id: { type: 'integer' } } } }
  const sharedOwn: FastifySchema = { response: { 409: { type: 'object', properties: { message: { type: 'string' } } } } }
  const before = structuredClone({ shared, sharedResponse, sharedOwn })
  app.post('/a', { schema: shared, config: { conflict: {} } }, failing.unique)
  app.post('/b', { schema: shared, config: { conflict: { format: 'problem' } } }, failing.unique)
  app.post('/c', { schema: shared }, failing.unique)
  app.post('/d', { schema: { response: sharedResponse }, config: { conflict: {} } }, failing.unique)
  app.post('/e', { schema: { response: sharedResponse }, config: { conflict: { format: 'problem' } } }, failing.unique)
  app.post('/f', { schema: sharedOwn, config: { conflict: {} } }, failing.unique)
  app.post('/g', { schema: sharedOwn, config: { conflict: { format: 'problem' } } }, failing.unique)
  const doc = await documentOf(app)
  t.strictSame({ sharedResponse, sharedOwn }, { sharedResponse: before.sharedResponse, sharedOwn: before.sharedOwn },
    'the objects given only to routes with config.conflict are as they were, to the last symbol')
  // Fastify marks a schema object it is given with a symbol of its own: /c gave it `shared` itself.
  t.same(JSON.parse(JSON.stringify(shared)), before.shared, 'the one /c shares too is as it was')
  t.same(Object.keys(shared.response as object), ['201'])
  const responses = (url: string): Record<string, Documented> => doc.paths[url]?.post.responses ?? {}
  for (const url of ['/a', '/d']) {
    t.same(Object.keys(responses(url)), ['201', '409', '422', '503'], url)
    t.same(responses(url)[409], documented(409), `${url}: the default body`)
  }
  for (const url of ['/b', '/e']) {
    t.same(Object.keys(responses(url)), ['201', '409', '422', '503'], url)
    t.same(responses(url)[409], documented(409, 'problem'), `${url}: Problem Details`)
  }
  t.same(Object.keys(responses('/c')), ['201'], '/c: no config.conflict, nothing added')
  t.ok(doc.paths['/a'] !== undefined && (doc.paths['/a'] as { post: { requestBody?: unknown } }).post.requestBody !== undefined, 'the rest of the shared schema is there')
  for (const url of ['/f', '/g']) {
    t.same(Object.keys(responses(url)), ['409', '422', '503'], url)
    t.same(responses(url)[409]?.content?.['application/json']?.schema, { type: 'object', properties: { message: { type: 'string' } } }, `${url}: its own 409`)
  }
  t.same(responses('/g')[422], documented(422, 'problem'))
})

t.test('the answers are exactly those of routes without the option: bodies, content types, headers', async (t) => {
  const Business = createError('BUSINESS_RULE', 'That is not allowed here.', 409)
  async function build (openapi: boolean): Promise<FastifyInstance> {
    const { app } = buildApp(t)
    await withSwagger(app)
    await app.register(fastifyPgConflict, { ...plugin, openapi, expose })
    await failingRoutes(app, '/default', {})
    await failingRoutes(app, '/problem', { format: 'problem' })
    await failingRoutes(app, '/hidden', { expose: { values: false, constraint: false } })
    const config = { conflict: {} }
    // The route's own answers at the documented statuses.
    app.post('/thrown', { config }, async () => { throw new Business() })
    app.post('/sent', { config }, async (_request, reply) => reply.code(409).send({ reason: 'taken', fields: ['email'], code: 'MINE' }))
    app.post('/sent-problem', { config: { conflict: { format: 'problem' } } }, async (_request, reply) =>
      reply.code(422).type('application/problem+json; charset=utf-8').send({ title: 'Mine', status: 422, errors: [{ detail: 'bad', path: '/a' }], extra: true }))
    // An error handler of the application's that sends the plugin's body itself.
    await app.register(async (scope) => {
      scope.setErrorHandler(async (error, _request, reply) => isIntegrityError(error) ? await reply.code(error.statusCode).send(error.body) : error)
      await failingRoutes(scope, '/handled', { expose })
      await failingRoutes(scope, '/handled-problem', { expose, format: 'problem' })
    })
    await app.ready()
    return app
  }
  const plain = await build(false)
  const documentedApp = await build(true)
  const doc = documentedApp.swagger() as unknown as OpenApi
  t.same(doc.paths['/problem/unique']?.post.responses[409], documented(409, 'problem'), 'the routes compared are documented')
  t.same(doc.paths['/handled/unique']?.post.responses[409], documented(409))

  const urls = ['/default', '/problem', '/hidden', '/handled', '/handled-problem'].flatMap((prefix) => Object.keys(failing).map((name) => `${prefix}/${name}`))
  for (const url of [...urls, '/thrown', '/sent', '/sent-problem']) {
    const want = await plain.inject({ method: 'POST', url })
    const got = await documentedApp.inject({ method: 'POST', url })
    t.equal(got.statusCode, want.statusCode, `${url}: status ${want.statusCode}`)
    // The plugin's bodies byte for byte; the route's own 409 the same JSON (Fastify's serializer puts the properties it knows first).
    if (url === '/sent') t.same(got.json(), want.json(), `${url}: the same body`)
    else t.equal(got.body, want.body, `${url}: the same body, byte for byte`)
    t.equal(got.headers['content-type'], want.headers['content-type'], `${url}: content type ${String(want.headers['content-type'])}`)
    t.equal(got.headers['retry-after'], want.headers['retry-after'], `${url}: retry-after`)
    const name = url.slice(url.lastIndexOf('/') + 1)
    if (STATUS[name] !== undefined) t.equal(got.statusCode, STATUS[name], `${url}: answered by the plugin`)
  }

  // What the comparison covers: nothing of the plugin's bodies is dropped.
  const unique = await documentedApp.inject({ method: 'POST', url: '/default/unique' })
  t.equal(unique.headers['content-type'], 'application/json; charset=utf-8')
  t.same(unique.json(), {
    statusCode: 409,
    code: 'PG_UNIQUE_VIOLATION',
    error: 'Conflict',
    message: 'A record with this email already exists.',
    fields: ['email'],
    constraint: 'users_email_key',
    table: 'users',
    values: { email: 'ada@example.com' }
  })
  const problem = await documentedApp.inject({ method: 'POST', url: '/problem/unique' })
  t.equal(problem.headers['content-type'], 'application/problem+json; charset=utf-8')
  t.same(problem.json(), {
    type: 'about:blank',
    title: 'Conflict',
    status: 409,
    detail: 'A record with this email already exists.',
    code: 'PG_UNIQUE_VIOLATION',
    errors: [{ detail: 'A record with this email already exists.', pointer: '#/email', field: 'email' }],
    instance: '/problem/unique',
    constraint: 'users_email_key',
    table: 'users',
    values: { email: 'ada@example.com' }
  })
  const hidden = await documentedApp.inject({ method: 'POST', url: '/hidden/unique' })
  t.same(Object.keys(hidden.json() as object), ['statusCode', 'code', 'error', 'message', 'fields'], 'nothing exposed: nothing added')
  const serialization = await documentedApp.inject({ method: 'POST', url: '/problem/serialization' })
  t.equal(serialization.headers['retry-after'], '1')
  t.match(serialization.json(), { status: 503, code: 'PG_SERIALIZATION_FAILURE', errors: [] })
  t.same((await documentedApp.inject({ method: 'POST', url: '/sent' })).json(), { reason: 'taken', fields: ['email'], code: 'MINE' },
    "a 409 body of the route's own keeps every property")
})

t.test("an error handler of the application's that passes the translated error on: Fastify serializes it with the added schema, fields kept", async (t) => {
  async function build (openapi: boolean): Promise<FastifyInstance> {
    const { app } = buildApp(t)
    await app.register(fastifyPgConflict, { ...plugin, openapi })
    app.setErrorHandler(async (error) => { throw error })
    app.post('/unique', { config: { conflict: {} } }, failing.unique)
    return app
  }
  const [plain, documentedApp] = [await build(false), await build(true)]
  const fastifyShape = { statusCode: 409, code: 'PG_UNIQUE_VIOLATION', error: 'Conflict', message: 'A record with this email already exists.' }
  t.same((await plain.inject({ method: 'POST', url: '/unique' })).json(), fastifyShape, "without the option: Fastify's error shape, no fields")
  const got = await documentedApp.inject({ method: 'POST', url: '/unique' })
  t.equal(got.statusCode, 409)
  t.same(got.json(), { ...fastifyShape, fields: ['email'] }, 'with it: the fields too')
})

t.test('Fastify serializes these statuses with the added schema, found by the content type with its charset parameter', async (t) => {
  // Only a body at odds with the documented types shows it: the schema's types win.
  const { app } = buildApp(t)
  await withSwagger(app)
  await app.register(fastifyPgConflict, { ...plugin, openapi: true, format: 'problem' })
  const send = (type: string) => async (_request: unknown, reply: { code: (n: number) => { type: (t: string) => { send: (b: unknown) => unknown } } }) =>
    reply.code(409).type(type).send({ status: '409', title: 'Taken', extra: 1 })
  app.post('/charset', { config: { conflict: {} } }, send('application/problem+json; charset=utf-8'))
  app.post('/bare', { config: { conflict: {} } }, send('application/problem+json'))
  app.post('/json', { config: { conflict: {} } }, send('application/json; charset=utf-8'))
  for (const url of ['/charset', '/bare']) {
    t.equal((await app.inject({ method: 'POST', url })).body, '{"title":"Taken","status":409,"extra":1}', `${url}: serialized with the Problem Details schema`)
  }
  t.equal((await app.inject({ method: 'POST', url: '/json' })).body, '{"status":"409","title":"Taken","extra":1}', 'another content type: not')
})

t.test('the statuses documented: each kind the route answers, with its status, and each constraint rule\'s', async (t) => {
  const { app } = buildApp(t)
  await withSwagger(app)
  await app.register(fastifyPgConflict, {
    ...plugin, openapi: true, constraints: [{ constraint: 'users_age_check', status: 418 }]
  })
  app.post('/statuses', {
    config: {
      conflict: {
        errors: { serialization: false, foreignKey: { status: 400 } },
        constraints: [{ constraint: 'users_email_key', status: 499 }]
      }
    }
  }, failing.unique)
  const none = Object.fromEntries(['unique', 'exclusion', 'foreignKey', 'referenced', 'notNull', 'check', 'serialization', 'cardinality'].map((kind) => [kind, false]))
  app.post('/none', { config: { conflict: { errors: none } } }, failing.unique)
  const doc = await documentOf(app)
  const responses = doc.paths['/statuses']?.post.responses ?? {}
  t.same(Object.keys(responses), ['400', '409', '418', '422', '499'], 'no 503: serialization failures are not answered here')
  t.same(responses[418]?.description, "I'm a Teapot")
  t.same(responses[499], { ...documented(409), description: 'Error' }, 'a status without a reason phrase')
  t.same(doc.paths['/none']?.post.responses, UNDOCUMENTED, 'a route that answers nothing: nothing added')
  const answer = await app.inject({ method: 'POST', url: '/statuses' })
  t.equal(answer.statusCode, 499)
  t.same(answer.json(), { statusCode: 499, code: 'PG_UNIQUE_VIOLATION', error: 'Error', message: 'A record with this email already exists.', fields: ['email'] })
})

t.test('conflictResponseSchema and problemResponseSchema, added once with addSchema and used by $ref', async (t) => {
  const exported = structuredClone({ conflictResponseSchema, problemResponseSchema })
  async function build (openapi: boolean): Promise<FastifyInstance> {
    const { app } = buildApp(t)
    await withSwagger(app)
    await app.register(fastifyPgConflict, { ...plugin, openapi, expose })
    app.addSchema(conflictResponseSchema)
    app.addSchema(problemResponseSchema)
    app.post('/ref', { config: { conflict: {} }, schema: { response: { 409: { $ref: 'fastify-pg-conflict#' } } } }, failing.unique)
    app.post('/ref-problem', {
      config: { conflict: { format: 'problem' } },
      schema: { response: { 409: { description: 'Conflict', content: { 'application/problem+json': { schema: { $ref: 'fastify-pg-conflict-problem#' } } } } } }
    }, failing.unique)
    await app.ready()
    return app
  }
  const app = await build(true)
  const plain = await build(false)
  for (const url of ['/ref', '/ref-problem']) {
    const [want, got] = [await plain.inject({ method: 'POST', url }), await app.inject({ method: 'POST', url })]
    t.equal(got.statusCode, 409, url)
    t.equal(got.body, want.body, `${url}: the same body`)
    t.equal(got.headers['content-type'], want.headers['content-type'], url)
  }
  t.match((await app.inject({ method: 'POST', url: '/ref' })).json(), { code: 'PG_UNIQUE_VIOLATION', fields: ['email'], constraint: 'users_email_key', values: { email: 'ada@example.com' } })
  t.match((await app.inject({ method: 'POST', url: '/ref-problem' })).json(), { status: 409, errors: [{ pointer: '#/email' }], values: { email: 'ada@example.com' } })

  const doc = app.swagger() as unknown as OpenApi
  const component = (schema: Record<string, unknown> | undefined): Record<string, unknown> | undefined =>
    doc.components.schemas[String(schema?.$ref).replace('#/components/schemas/', '')]
  const ref = doc.paths['/ref']?.post.responses
  t.match(component(ref?.[409]?.content?.['application/json']?.schema), { type: 'object', properties: { statusCode: { enum: [409] }, fields: { type: 'array' } } },
    "/ref: its 409 is the exported schema, a component of the document")
  t.same(ref?.[422], documented(422), '/ref: its 422 added')
  const refProblem = doc.paths['/ref-problem']?.post.responses
  t.match(component(refProblem?.[409]?.content?.['application/problem+json']?.schema), { type: 'object', required: ['type', 'title', 'status', 'detail', 'code', 'errors'] },
    '/ref-problem: its 409 is the exported Problem Details schema')
  t.same(refProblem?.[422], documented(422, 'problem'), '/ref-problem: its 422 added')
  t.same({ conflictResponseSchema, problemResponseSchema }, exported, 'the exported schemas are not changed by their use')
})

t.test('a field from the path, through the Problem Details schema (exported, or added by the openapi option): its parameter and where it is are kept', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { ...plugin, openapi: true, format: 'problem', fieldName: (column) => column === 'team_id' ? 'teamId' : column })
  app.addSchema(problemResponseSchema)
  const insert = async (request: { params: unknown }): Promise<void> => {
    await db.pool.query("INSERT INTO users (email, team_id) VALUES ('path@example.com', $1)", [(request.params as { teamId: string }).teamId])
  }
  app.post('/teams/:teamId/exported', { schema: { response: { 422: { $ref: 'fastify-pg-conflict-problem#' } } } }, insert)
  app.post('/teams/:teamId/added', { config: { conflict: {} } }, insert)
  await app.ready()
  for (const url of ['/teams/99/exported', '/teams/99/added']) {
    const response = await app.inject({ method: 'POST', url })
    t.equal(response.statusCode, 422, url)
    t.match(response.json(), { status: 422, errors: [{ parameter: 'teamId', in: 'path', field: 'teamId' }] }, url)
    t.notOk('pointer' in response.json().errors[0], `${url}: no pointer`)
  }
})

t.test('the exported body schemas: required properties, a new object each call', async (t) => {
  t.same(errorBodySchema().required, ['statusCode', 'code', 'error', 'message', 'fields'])
  const item = (problemBodySchema() as { properties: { errors: { items: { required: string[], properties: Record<string, unknown> } } } }).properties.errors.items
  t.same(item.required, ['detail', 'field'], 'an entry has a pointer (a body member) or a parameter and where it is (path, query, header)')
  t.same(item.properties.in, { type: 'string', enum: ['path', 'query', 'header'] })
  t.not(errorBodySchema(), errorBodySchema())
  t.not((errorBodySchema().properties as { values: unknown }).values, (errorBodySchema().properties as { values: unknown }).values)
  t.equal(errorBodySchema({ open: true }).required, undefined)
  t.equal(errorBodySchema({ open: true }).additionalProperties, true)
})
