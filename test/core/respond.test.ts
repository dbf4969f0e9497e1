// The response formats, with real PostgreSQL errors through a real Fastify app: RFC 9457 Problem
// Details (plugin-wide and per route), a format function of the application's (and one that
// throws), and what the application's error handler gets in each.
import t, { type Test } from 'tap'
import type { FastifyError } from 'fastify'
import fastifyPgConflict, { isIntegrityError, snakeToCamel, type AnswerParts, type FastifyPgConflictOptions, type IntegrityError } from '../../src/index.js'
import { pointerTo } from '../../src/core/respond.js'
import { buildApp, ERROR, INFO, type LogLine } from '../helpers/app.js'
import { ALL_SCENARIOS, integrityDatabase, runSession, scenarioRoutes, type Scenario } from '../helpers/integrity.js'

const db = await integrityDatabase(t, 'formats')
const catalogFor = { pool: db.pool, catalog: { schemas: [db.schema] } }
const PROBLEM_TYPE = 'application/problem+json; charset=utf-8'
const JSON_TYPE = 'application/json; charset=utf-8'

async function appWith (t: Test, options: FastifyPgConflictOptions = {}, scenarios: readonly Scenario[] = ALL_SCENARIOS): Promise<ReturnType<typeof buildApp>> {
  const built = buildApp(t)
  await built.app.register(fastifyPgConflict, { ...catalogFor, fieldName: snakeToCamel, ...options })
  scenarioRoutes(built.app, db.pool, scenarios)
  built.app.post('/unique', async () => { await runSession(db.pool, ['INSERT INTO orgs VALUES (1)']) })
  await built.app.ready()
  return built
}

function conflictLines (logs: LogLine[]): LogLine[] {
  return logs.filter((line) => line.conflict !== undefined)
}

const FK_MESSAGE = 'The record referenced by orgId does not exist.'

t.test("format: 'problem' plugin-wide: RFC 9457 bodies as application/problem+json", async (t) => {
  const { app, logs } = await appWith(t, { format: 'problem' })
  const problem = async (url: string): Promise<{ status: number, type: unknown, retryAfter: unknown, body: unknown }> => {
    const response = await app.inject({ method: 'POST', url })
    return { status: response.statusCode, type: response.headers['content-type'], retryAfter: response.headers['retry-after'], body: response.json() }
  }

  t.same(await problem('/fk-insert'), {
    status: 422,
    type: PROBLEM_TYPE,
    retryAfter: undefined,
    body: {
      type: 'about:blank',
      title: 'Unprocessable Entity',
      status: 422,
      detail: FK_MESSAGE,
      instance: '/fk-insert',
      code: 'PG_FOREIGN_KEY_VIOLATION',
      errors: [{ detail: FK_MESSAGE, pointer: '#/orgId', field: 'orgId' }]
    }
  }, 'a missing referenced row')

  const composite = 'The record referenced by officeCountry and officeRegion does not exist.'
  t.same((await problem('/fk-composite-insert?dry=1&api_key=SECRET123')).body, {
    type: 'about:blank',
    title: 'Unprocessable Entity',
    status: 422,
    detail: composite,
    instance: '/fk-composite-insert',
    code: 'PG_FOREIGN_KEY_VIOLATION',
    errors: [
      { detail: composite, pointer: '#/officeCountry', field: 'officeCountry' },
      { detail: composite, pointer: '#/officeRegion', field: 'officeRegion' }
    ]
  }, 'one entry per field; instance is the request path, without the query string (which may hold secrets)')

  const odd = 'A value for a/b~c d is required.'
  t.same((await problem('/not-null-odd-name')).body, {
    type: 'about:blank',
    title: 'Unprocessable Entity',
    status: 422,
    detail: odd,
    instance: '/not-null-odd-name',
    code: 'PG_NOT_NULL_VIOLATION',
    errors: [{ detail: odd, pointer: '#/a~1b~0c%20d', field: 'a/b~c d' }]
  }, 'a field holding "/", "~" and a space: escaped per RFC 6901 (~1, ~0), then percent-encoded for the fragment')

  t.same(await problem('/serialization'), {
    status: 503,
    type: PROBLEM_TYPE,
    retryAfter: '1',
    body: {
      type: 'about:blank',
      title: 'Service Unavailable',
      status: 503,
      detail: 'The request conflicted with another one running at the same time; try again.',
      instance: '/serialization',
      code: 'PG_SERIALIZATION_FAILURE',
      errors: []
    }
  }, 'a serialization failure: Retry-After too')

  t.same(await problem('/unique'), {
    status: 409,
    type: PROBLEM_TYPE,
    retryAfter: undefined,
    body: {
      type: 'about:blank',
      title: 'Conflict',
      status: 409,
      detail: 'A record with this id already exists.',
      instance: '/unique',
      code: 'PG_UNIQUE_VIOLATION',
      errors: [{ detail: 'A record with this id already exists.', pointer: '#/id', field: 'id' }]
    }
  }, 'a unique violation')

  t.same((await problem('/check-domain')).body, {
    type: 'about:blank', title: 'Unprocessable Entity', status: 422, detail: 'A value is not allowed.', instance: '/check-domain', code: 'PG_CHECK_VIOLATION', errors: []
  }, 'no fields: no entries')
  t.equal(conflictLines(logs).length, 6, 'one conflict line each')
})

t.test('JSON Pointer escapes: "~" before "/", so that "~1" stays itself', async (t) => {
  t.equal(pointerTo('email'), '#/email')
  t.equal(pointerTo('a/b'), '#/a~1b')
  t.equal(pointerTo('a~b'), '#/a~0b')
  t.equal(pointerTo('~1'), '#/~01')
  t.equal(pointerTo('/~'), '#/~1~0')
  t.equal(pointerTo('straße'), '#/stra%C3%9Fe')
  t.equal(pointerTo(''), '#/')
})

t.test('Problem Details type: the kind’s URI, a constraint rule’s over it; constraint and table as extension members when exposed', async (t) => {
  const { app } = await appWith(t, {
    format: 'problem',
    expose: { constraint: true },
    errors: { check: { type: 'https://example.com/problems/invalid-value' }, foreignKey: { type: 'https://example.com/problems/missing-parent', status: 404 } },
    constraints: [{ constraint: 'people_age_check', type: 'https://example.com/problems/age', message: 'Age must not be negative.' }]
  }, ['check-column', 'check-table', 'fk-insert'])
  const body = async (url: string): Promise<unknown> => (await app.inject({ method: 'POST', url })).json()
  t.same(await body('/check-column'), {
    type: 'https://example.com/problems/age',
    title: 'Unprocessable Entity',
    status: 422,
    detail: 'Age must not be negative.',
    instance: '/check-column',
    code: 'PG_CHECK_VIOLATION',
    errors: [{ detail: 'Age must not be negative.', pointer: '#/age', field: 'age' }],
    constraint: 'people_age_check',
    table: 'people'
  }, "the constraint rule's type and message")
  t.match(await body('/check-table'), { type: 'https://example.com/problems/invalid-value', constraint: 'periods_order', table: 'periods' }, "the kind's type")
  t.match(await body('/fk-insert'), { type: 'https://example.com/problems/missing-parent', title: 'Not Found', status: 404 }, "the kind's type and status")
})

t.test('format per route: over the plugin’s, either way', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { ...catalogFor, format: 'problem' })
  await app.register(async (scope) => { scenarioRoutes(scope, db.pool, ['fk-insert'], { config: { conflict: { format: 'fastify' } } }) }, { prefix: '/fastify' })
  await app.register(async (scope) => { scenarioRoutes(scope, db.pool, ['fk-insert']) }, { prefix: '/plugin' })
  const plain = buildApp(t).app
  await plain.register(fastifyPgConflict, catalogFor)
  await plain.register(async (scope) => { scenarioRoutes(scope, db.pool, ['fk-insert'], { config: { conflict: { format: 'problem', errors: { foreignKey: { type: 'urn:problem:fk' } } } } }) }, { prefix: '/problem' })
  await plain.register(async (scope) => { scenarioRoutes(scope, db.pool, ['fk-insert']) }, { prefix: '/plugin' })

  const fastifyBody = { statusCode: 422, code: 'PG_FOREIGN_KEY_VIOLATION', error: 'Unprocessable Entity', message: 'The record referenced by org_id does not exist.', fields: ['org_id'] }
  const routeFastify = await app.inject({ method: 'POST', url: '/fastify/fk-insert' })
  t.equal(routeFastify.headers['content-type'], JSON_TYPE)
  t.same(routeFastify.json(), fastifyBody, "the route's 'fastify' over the plugin's 'problem'")
  const pluginProblem = await app.inject({ method: 'POST', url: '/plugin/fk-insert' })
  t.equal(pluginProblem.headers['content-type'], PROBLEM_TYPE)
  t.match(pluginProblem.json(), { type: 'about:blank', instance: '/plugin/fk-insert' })

  const routeProblem = await plain.inject({ method: 'POST', url: '/problem/fk-insert' })
  t.equal(routeProblem.statusCode, 422)
  t.equal(routeProblem.headers['content-type'], PROBLEM_TYPE)
  t.same(routeProblem.json(), {
    type: 'urn:problem:fk',
    title: 'Unprocessable Entity',
    status: 422,
    detail: 'The record referenced by org_id does not exist.',
    instance: '/problem/fk-insert',
    code: 'PG_FOREIGN_KEY_VIOLATION',
    errors: [{ detail: 'The record referenced by org_id does not exist.', pointer: '#/org_id', field: 'org_id' }]
  }, "the route's 'problem' over the plugin's default, with the route's type")
  t.same((await plain.inject({ method: 'POST', url: '/plugin/fk-insert' })).json(), fastifyBody)
})

t.test('a format function gets the parts and the request; its body is sent with the status and headers', async (t) => {
  const calls: Array<{ parts: AnswerParts, url: string, header: unknown }> = []
  const { app, logs } = await appWith(t, {
    format: (parts, request) => {
      calls.push({ parts, url: request.url, header: request.headers['x-trace'] })
      return { error: { kind: parts.conflict.kind, code: parts.code, message: parts.message, fields: parts.fields, status: parts.status, trace: request.headers['x-trace'] } }
    }
  }, ['fk-delete', 'deadlock'])
  const response = await app.inject({ method: 'POST', url: '/fk-delete', headers: { 'x-trace': 'abc' } })
  t.equal(response.statusCode, 409)
  t.equal(response.headers['content-type'], JSON_TYPE)
  t.same(response.json(), { error: { kind: 'referenced', code: 'PG_STILL_REFERENCED', message: 'The record is still referenced by other records.', fields: ['id'], status: 409, trace: 'abc' } })
  t.equal(calls.length, 1)
  const { parts, url } = calls[0] as { parts: AnswerParts, url: string }
  t.equal(url, '/fk-delete')
  t.same(parts.body, { statusCode: 409, code: 'PG_STILL_REFERENCED', error: 'Conflict', message: 'The record is still referenced by other records.', fields: ['id'] }, 'the default body')
  t.match(parts.conflict, { kind: 'referenced', constraint: 'projects_org_id_fkey', schema: db.schema, table: 'orgs', columns: ['id'], fields: ['id'] }, 'the full description')
  t.equal(parts.conflict.error.code, '23503')
  t.equal(conflictLines(logs).length, 1)

  const deadlock = await app.inject({ method: 'POST', url: '/deadlock' })
  t.equal(deadlock.statusCode, 503)
  t.equal(deadlock.headers['retry-after'], '1', 'the headers stay the plugin’s')
  t.same(deadlock.json(), { error: { kind: 'serialization', code: 'PG_SERIALIZATION_FAILURE', message: 'The request conflicted with another one running at the same time; try again.', fields: [], status: 503 } })
})

t.test('a format function that throws: the default body is sent, and the bug logged', async (t) => {
  const { app, logs } = await appWith(t, { format: () => { throw new Error('format bug') } }, ['check-table', 'serialization'])
  const response = await app.inject({ method: 'POST', url: '/check-table' })
  t.equal(response.statusCode, 422)
  t.equal(response.headers['content-type'], JSON_TYPE)
  t.same(response.json(), {
    statusCode: 422, code: 'PG_CHECK_VIOLATION', error: 'Unprocessable Entity', message: 'The value of startsOn and endsOn is not allowed.', fields: ['startsOn', 'endsOn']
  })
  const errors = logs.filter((line) => line.level === ERROR)
  t.equal(errors.length, 1, 'one error line')
  t.match(errors[0], { msg: 'fastify-pg-conflict: the format function threw; the default body is sent', err: { message: 'format bug' } })
  t.match(conflictLines(logs), [{ level: INFO, msg: 'check violation', conflict: { kind: 'check', constraint: 'periods_order' } }], 'and the conflict line, as always')

  const serialization = await app.inject({ method: 'POST', url: '/serialization' })
  t.equal(serialization.statusCode, 503)
  t.equal(serialization.headers['retry-after'], '1')
  t.equal(serialization.json().code, 'PG_SERIALIZATION_FAILURE')
})

t.test("a route's format function over the plugin's Problem Details", async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { ...catalogFor, format: 'problem' })
  scenarioRoutes(app, db.pool, ['exclusion'], { config: { conflict: { format: (parts) => ({ clash: parts.fields }) } } })
  const response = await app.inject({ method: 'POST', url: '/exclusion' })
  t.equal(response.statusCode, 409)
  t.equal(response.headers['content-type'], JSON_TYPE)
  t.same(response.json(), { clash: ['during'] })
})

t.test("the application's error handler gets the body in the route's format", async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { ...catalogFor, format: 'problem' })
  const seen: IntegrityError[] = []
  app.setErrorHandler((error: FastifyError, _request, reply) => {
    seen.push(error as unknown as IntegrityError)
    return isIntegrityError(error) ? reply.code(error.statusCode).headers(error.replyHeaders).send(error.body) : reply.send(error)
  })
  scenarioRoutes(app, db.pool, ['check-column'])
  const response = await app.inject({ method: 'POST', url: '/check-column' })
  t.equal(response.statusCode, 422)
  const problem = {
    type: 'about:blank',
    title: 'Unprocessable Entity',
    status: 422,
    detail: 'The value of age is not allowed.',
    instance: '/check-column',
    code: 'PG_CHECK_VIOLATION',
    errors: [{ detail: 'The value of age is not allowed.', pointer: '#/age', field: 'age' }]
  }
  t.same(response.json(), problem)
  t.same(seen[0]?.body, problem)
  t.equal(seen[0]?.code, 'PG_CHECK_VIOLATION')
  t.equal(response.headers['content-type'], PROBLEM_TYPE, 'the recipe keeps the Problem Details content type')
  t.equal(seen[0]?.headers, undefined, 'no headers to carry for a 422')
})

t.test("the README's recipe for the application's own error handler sends exactly what the plugin would: status, content type, Retry-After, body", async (t) => {
  for (const format of ['fastify', 'problem'] as const) {
    const plain = await appWith(t, { format }, ['serialization', 'fk-insert'])
    const { app } = buildApp(t)
    await app.register(fastifyPgConflict, { ...catalogFor, fieldName: snakeToCamel, format })
    const handled: string[] = []
    app.setErrorHandler((error: FastifyError, _request, reply) => {
      if (!isIntegrityError(error)) return reply.send(error)
      handled.push(error.code) // metrics, logs… of the application's
      return reply.code(error.statusCode).headers(error.replyHeaders).send(error.body)
    })
    scenarioRoutes(app, db.pool, ['serialization', 'fk-insert'])
    for (const url of ['/serialization', '/fk-insert']) {
      const [want, got] = [await plain.app.inject({ method: 'POST', url }), await app.inject({ method: 'POST', url })]
      t.equal(got.statusCode, want.statusCode, `${format} ${url}: status`)
      t.equal(got.headers['content-type'], format === 'problem' ? PROBLEM_TYPE : JSON_TYPE, `${format} ${url}: content type`)
      t.equal(got.headers['retry-after'], url === '/serialization' ? '1' : undefined, `${format} ${url}: Retry-After`)
      t.same(got.json(), want.json(), `${format} ${url}: body`)
    }
    t.same(handled, ['PG_SERIALIZATION_FAILURE', 'PG_FOREIGN_KEY_VIOLATION'], `${format}: through the application's handler`)
  }
})

t.test('the translated error: replyHeaders are read-only and not enumerable (a logged error carries no answer)', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { ...catalogFor, format: 'problem' })
  let seen: IntegrityError | undefined
  app.setErrorHandler((error: FastifyError, _request, reply) => {
    seen = error as unknown as IntegrityError
    return reply.code(500).send({})
  })
  scenarioRoutes(app, db.pool, ['serialization'])
  await app.inject({ method: 'POST', url: '/serialization' })
  t.same(seen?.replyHeaders, { 'content-type': PROBLEM_TYPE, 'retry-after': '1' })
  t.same(seen?.headers, { 'retry-after': '1' }, 'headers: only what Fastify should add to its own body when the error is sent on')
  t.notOk(Object.keys(seen as object).includes('replyHeaders'))
  t.ok(Object.isFrozen(seen?.replyHeaders))
})
