// fastify-pg-conflict/express: the error middleware in real Express 5 apps over real HTTP, against
// real PostgreSQL: the same bodies as the Fastify plugin, per-router and per-route settings,
// pass-through of everything else, logging, option checks and the catalog's lifecycle.
import t, { type Test } from 'tap'
import express, { type ErrorRequestHandler, type Express, type Request, type Response } from 'express'
import { pinoHttp } from 'pino-http'
import fastifyPgConflict, { snakeToCamel, type FastifyPgConflictOptions, type Queryable } from '../../src/index.js'
import { conflictConfig, InvalidOptionError, pgConflict, type AnswerParts, type PgConflictExpressOptions } from '../../src/adapters/express.js'
import defaultExport from '../../src/adapters/express.js'
import { buildApp } from '../helpers/app.js'
import { testDatabase } from '../helpers/db.js'
import { listen, memoryLogger, pinoStream, request } from '../helpers/express.js'

const db = await testDatabase(t, 'express')
await db.exec(`
  CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL CONSTRAINT users_email_key UNIQUE, age int CONSTRAINT users_age_check CHECK (age >= 0));
  CREATE TABLE orgs (id int PRIMARY KEY);
  CREATE TABLE teams (id serial PRIMARY KEY, org_id int NOT NULL REFERENCES orgs (id), team_name text NOT NULL,
    CONSTRAINT teams_org_name_key UNIQUE (org_id, team_name));
  INSERT INTO orgs VALUES (1), (2);
  INSERT INTO users (email) VALUES ('ada@example.com');
  INSERT INTO teams (org_id, team_name) VALUES (1, 'core'), (2, 'core');
`)

const catalogFor = { pool: db.pool, catalog: { schemas: [db.schema] } }

interface Body { email?: string, age?: number | null, orgId?: number, teamName?: string }

/** The application's routes, on an app or a router: each fails as PostgreSQL makes it fail. */
function routes (target: express.Router): void {
  target.post('/users', async (req: Request<object, unknown, Body>, res: Response) => {
    const { rows } = await db.pool.query('INSERT INTO users (email, age) VALUES ($1, $2) RETURNING id', [req.body.email ?? null, req.body.age ?? null])
    res.status(201).json(rows[0])
  })
  target.post('/teams', async (req: Request<object, unknown, Body>, res: Response) => {
    const { rows } = await db.pool.query('INSERT INTO teams (org_id, team_name) VALUES ($1, $2) RETURNING id', [req.body.orgId, req.body.teamName])
    res.status(201).json(rows[0])
  })
  target.delete('/orgs/:id', async (req: Request<{ id: string }>, res: Response) => {
    await db.pool.query('DELETE FROM orgs WHERE id = $1', [req.params.id])
    res.status(204).end()
  })
  target.post('/busy', async () => {
    await db.pool.query("DO $$ BEGIN RAISE EXCEPTION 'could not serialize access' USING ERRCODE = 'serialization_failure'; END $$")
  })
  target.post('/boom', async () => { throw new Error('boom') })
  target.post('/division', async () => { await db.pool.query('SELECT 1 / 0') })
  target.post('/throw-string', async () => { throw 'oops' }) // eslint-disable-line no-throw-literal
}

/** An error handler after the middleware: records what reaches it and hands it on to Express's default (a 500). */
function recorder (): { seen: unknown[], handler: ErrorRequestHandler } {
  const seen: unknown[] = []
  return {
    seen,
    handler: (err, _req, res, next) => {
      seen.push(err)
      if (res.headersSent) {
        if (!res.writableEnded) res.end()
        return
      }
      next(err)
    }
  }
}

/** An Express app with JSON bodies, `setup` (routes and middlewares), and the recorder last; listening. */
async function serve (t: Test, setup: (app: Express) => void): Promise<{ url: string, seen: unknown[] }> {
  const app = express()
  app.set('env', 'test') // Express's default error handler: no console output
  app.use(express.json())
  setup(app)
  const { seen, handler } = recorder()
  app.use(handler)
  return { url: await listen(t, app), seen }
}

const UNIQUE_BODY = { statusCode: 409, code: 'PG_UNIQUE_VIOLATION', error: 'Conflict', message: 'A record with this email already exists.', fields: ['email'] }

t.test('a unique violation from an async handler: 409, the same status, headers and body as the Fastify plugin', async (t) => {
  const cases: Array<{ name: string, options: PgConflictExpressOptions & FastifyPgConflictOptions }> = [
    { name: 'default', options: {} },
    { name: 'exposed, with a rule', options: { expose: { values: true, constraint: true }, constraints: [{ constraint: 'users_', match: 'prefix', message: 'Taken.' }] } },
    { name: 'problem details', options: { format: 'problem' } },
    { name: 'a format function giving a string', options: { format: (parts: AnswerParts) => `${parts.code}: ${parts.message}` } },
    { name: 'no catalog', options: { catalog: false } }
  ]
  for (const { name, options } of cases) {
    const { url } = await serve(t, (app) => {
      routes(app)
      app.use(pgConflict({ ...catalogFor, ...options }))
    })
    const { app: fastify } = buildApp(t)
    await fastify.register(fastifyPgConflict, { ...catalogFor, ...options })
    fastify.post('/users', async (request) => {
      await db.pool.query('INSERT INTO users (email) VALUES ($1)', [(request.body as Body).email])
    })
    const ours = await request(`${url}/users`, 'POST', { email: 'ada@example.com' })
    const theirs = await fastify.inject({ method: 'POST', url: '/users', payload: { email: 'ada@example.com' } })
    t.equal(ours.status, 409, `${name}: 409`)
    t.equal(ours.status, theirs.statusCode, `${name}: the same status`)
    t.equal(ours.type, theirs.headers['content-type'], `${name}: the same content-type`)
    t.equal(ours.text, theirs.body, `${name}: the same body, byte for byte`)
    if (name === 'default') t.same(ours.json, UNIQUE_BODY, 'the body')
    if (name === 'exposed, with a rule') t.same(ours.json, { ...UNIQUE_BODY, message: 'Taken.', constraint: 'users_email_key', table: 'users', values: { email: 'ada@example.com' } })
    if (name === 'problem details') t.equal(ours.type, 'application/problem+json; charset=utf-8')
    if (name === 'a format function giving a string') t.equal(ours.text, 'PG_UNIQUE_VIOLATION: A record with this email already exists.', 'a string goes as it is')
  }
})

t.test('a composite key, with snakeToCamel field names; and the same from DETAIL alone', async (t) => {
  for (const catalog of [{ schemas: [db.schema] }, false as const]) {
    const { url } = await serve(t, (app) => {
      routes(app)
      app.use(pgConflict({ pool: db.pool, catalog, fieldName: snakeToCamel }))
    })
    const response = await request(`${url}/teams`, 'POST', { orgId: 1, teamName: 'core' })
    t.equal(response.status, 409)
    t.same(response.json, {
      statusCode: 409, code: 'PG_UNIQUE_VIOLATION', error: 'Conflict', message: 'A record with this orgId and teamName already exists.', fields: ['orgId', 'teamName']
    }, catalog === false ? 'from DETAIL' : 'from the catalog')
  }
})

t.test('the other integrity errors: foreign key 422 (and 409 still referenced), not null and check 422, serialization 503', async (t) => {
  const { url } = await serve(t, (app) => {
    routes(app)
    app.use(pgConflict({ ...catalogFor, fieldName: snakeToCamel }))
  })
  const fk = await request(`${url}/teams`, 'POST', { orgId: 999, teamName: 'ghosts' })
  t.equal(fk.status, 422)
  t.same(fk.json, { statusCode: 422, code: 'PG_FOREIGN_KEY_VIOLATION', error: 'Unprocessable Entity', message: 'The record referenced by orgId does not exist.', fields: ['orgId'] })
  const referenced = await request(`${url}/orgs/1`, 'DELETE')
  t.equal(referenced.status, 409)
  t.equal(referenced.json.code, 'PG_STILL_REFERENCED')
  const notNull = await request(`${url}/users`, 'POST', {})
  t.equal(notNull.status, 422)
  t.same(notNull.json, { statusCode: 422, code: 'PG_NOT_NULL_VIOLATION', error: 'Unprocessable Entity', message: 'A value for email is required.', fields: ['email'] })
  const check = await request(`${url}/users`, 'POST', { email: 'minus@example.com', age: -1 })
  t.equal(check.status, 422)
  t.equal(check.json.code, 'PG_CHECK_VIOLATION')
  t.same(check.json.fields, ['age'])
  const busy = await request(`${url}/busy`)
  t.equal(busy.status, 503)
  t.equal(busy.headers.get('retry-after'), '1')
  t.equal(busy.json.code, 'PG_SERIALIZATION_FAILURE')
})

t.test('problem details: application/problem+json, with the request path (under a mounted router, without the query string) as instance', async (t) => {
  const { url } = await serve(t, (app) => {
    const api = express.Router()
    routes(api)
    app.use('/api', api)
    app.use(pgConflict({ ...catalogFor, format: 'problem' }))
  })
  const response = await request(`${url}/api/users?source=signup&api_key=SECRET123`, 'POST', { email: 'ada@example.com' })
  t.equal(response.status, 409)
  t.equal(response.type, 'application/problem+json; charset=utf-8')
  t.same(response.json, {
    type: 'about:blank',
    title: 'Conflict',
    status: 409,
    detail: 'A record with this email already exists.',
    instance: '/api/users',
    code: 'PG_UNIQUE_VIOLATION',
    errors: [{ detail: 'A record with this email already exists.', pointer: '#/email', field: 'email' }]
  })
})

t.test('a format function is given the parts and the Express request; one that throws gets the default body', async (t) => {
  const logger = memoryLogger()
  const { url } = await serve(t, (app) => {
    routes(app)
    const thrower = express.Router()
    routes(thrower)
    app.use('/broken', conflictConfig({ format: () => { throw new Error('format bug') } }), thrower)
    app.use(pgConflict({ ...catalogFor, logger, format: (parts, req) => ({ what: parts.code, fields: parts.fields, path: req.originalUrl, method: req.method }) }))
  })
  const custom = await request(`${url}/users`, 'POST', { email: 'ada@example.com' })
  t.equal(custom.status, 409)
  t.same(custom.json, { what: 'PG_UNIQUE_VIOLATION', fields: ['email'], path: '/users', method: 'POST' })
  const fallback = await request(`${url}/broken/users`, 'POST', { email: 'ada@example.com' })
  t.equal(fallback.status, 409)
  t.same(fallback.json, UNIQUE_BODY, 'the default body')
  t.ok(logger.lines.some((l) => l.level === 'error' && l.msg === 'fastify-pg-conflict: the format function threw; the default body is sent'))
})

t.test('per router: a router\'s own middleware answers its errors; a kind it switches off is left alone by the app\'s too', async (t) => {
  const { url, seen } = await serve(t, (app) => {
    const admin = express.Router()
    routes(admin)
    admin.use(pgConflict({ ...catalogFor, message: 'Admin: taken.', errors: { foreignKey: false, referenced: false } }))
    app.use('/admin', admin)
    routes(app)
    app.use(pgConflict({ ...catalogFor, message: 'App: taken.' }))
  })
  t.equal((await request(`${url}/admin/users`, 'POST', { email: 'ada@example.com' })).json.message, 'Admin: taken.')
  t.equal((await request(`${url}/users`, 'POST', { email: 'ada@example.com' })).json.message, 'App: taken.')
  t.equal((await request(`${url}/teams`, 'POST', { orgId: 999, teamName: 'x' })).status, 422, 'the app answers its own foreign key errors')
  const left = await request(`${url}/admin/teams`, 'POST', { orgId: 999, teamName: 'x' })
  t.equal(left.status, 500, 'the router\'s foreign key error is left alone, by the app\'s middleware too: Express\'s default 500')
  t.equal(seen.length, 1)
  t.equal((seen[0] as { code?: string }).code, '23503', 'the driver\'s error itself, untouched')
})

t.test('a refined kind switched off (a row still referenced): left alone', async (t) => {
  const { url, seen } = await serve(t, (app) => {
    routes(app)
    app.use(pgConflict({ ...catalogFor, errors: { referenced: false } }))
  })
  t.equal((await request(`${url}/orgs/2`, 'DELETE')).status, 500)
  t.equal((seen[0] as { code?: string }).code, '23503')
  t.equal((await request(`${url}/teams`, 'POST', { orgId: 999, teamName: 'x' })).status, 422, 'a missing referenced row is still answered')
})

t.test('per route: conflictConfig before the handler; the closest one wins; false leaves the route alone', async (t) => {
  const logger = memoryLogger()
  const insert = async (req: Request<object, unknown, Body>, res: Response): Promise<void> => {
    await db.pool.query('INSERT INTO users (email) VALUES ($1)', [req.body.email])
    res.status(201).end()
  }
  const long = 'x'.repeat(70)
  const { url, seen } = await serve(t, (app) => {
    app.post('/invites', conflictConfig({ fields: 'invitee', message: 'Already invited.', expose: { values: true } }), insert)
    app.post('/rule', conflictConfig({ constraints: [{ constraint: 'users_email_key', message: 'By the route\'s rule.' }, { constraint: long }, { constraint: 'no_such_key' }] }), insert)
    app.post('/problem', conflictConfig({ format: 'problem' }), insert)
    app.post('/raw', conflictConfig(false), insert)
    app.post('/plain', insert)
    const team = express.Router()
    team.use(conflictConfig({ message: 'From the router.' }))
    team.post('/router-level', insert)
    team.post('/route-level', conflictConfig({ message: 'From the route.' }), insert)
    app.use('/team', team)
    app.use(pgConflict({ ...catalogFor, logger, message: 'From the middleware.' }))
  })
  const ada = { email: 'ada@example.com' }
  t.equal((await request(`${url}/rule`, 'POST', ada)).json.message, 'By the route\'s rule.')
  t.equal((await request(`${url}/rule`, 'POST', ada)).json.message, 'By the route\'s rule.', 'again')
  const invites = await request(`${url}/invites`, 'POST', ada)
  t.same(invites.json, { ...UNIQUE_BODY, message: 'Already invited.', fields: ['invitee'], values: { invitee: 'ada@example.com' } })
  const warnings = logger.lines.filter((l) => l.level === 'warn').map((l) => l.msg)
  t.same(warnings.filter((m) => m?.includes('longer than 63 bytes')), [`fastify-pg-conflict: conflictConfig: constraint "${long}" is longer than 63 bytes; PostgreSQL cuts names to that length, so it never reports this one`], 'a route\'s name too long: warned once')
  t.ok(warnings.includes('fastify-pg-conflict: conflictConfig: the configured constraint "no_such_key" matches no unique index or constraint in the database'), 'a route\'s rule met before the first catalog read is checked against it')
  t.equal((await request(`${url}/problem`, 'POST', ada)).type, 'application/problem+json; charset=utf-8')
  t.equal((await request(`${url}/plain`, 'POST', ada)).json.message, 'From the middleware.')
  t.equal((await request(`${url}/team/router-level`, 'POST', ada)).json.message, 'From the router.')
  t.equal((await request(`${url}/team/route-level`, 'POST', ada)).json.message, 'From the route.')
  t.equal(seen.length, 0)
  const raw = await request(`${url}/raw`, 'POST', ada)
  t.equal(raw.status, 500, 'conflictConfig(false): Express\'s default 500')
  t.equal((seen[0] as { code?: string }).code, '23505', 'the driver\'s error, untouched')
})

t.test('everything else goes on to the next error handler untouched', async (t) => {
  const { url, seen } = await serve(t, (app) => {
    routes(app)
    app.use(pgConflict(catalogFor))
  })
  for (const path of ['/boom', '/division', '/throw-string']) {
    const response = await request(`${url}${path}`)
    t.equal(response.status, 500, `${path}: Express's default 500`)
  }
  t.equal((seen[0] as Error).message, 'boom')
  t.equal((seen[1] as { code?: string }).code, '22012', 'a PostgreSQL error that is no integrity error')
  t.equal(seen[2], 'oops')
})

t.test('pino-http: the line goes to req.log, at info, without the values', async (t) => {
  const { stream, lines } = pinoStream()
  const logger = memoryLogger()
  const { url } = await serve(t, (app) => {
    app.use(pinoHttp({ level: 'info' }, stream))
    routes(app)
    app.use(pgConflict({ pool: db.pool, logger })) // every schema read: the catalog default
  })
  const response = await request(`${url}/users`, 'POST', { email: 'ada@example.com' })
  t.equal(response.status, 409)
  const line = lines.find((l) => l.msg === 'unique violation')
  t.ok(line, 'logged through req.log')
  t.equal(line?.level, 30, 'at info')
  t.same(line?.conflict, {
    kind: 'unique', code: '23505', constraint: 'users_email_key', schema: db.schema, table: 'users', columns: ['email'], fields: ['email'], values: '[redacted]'
  })
  t.match(line?.req, { method: 'POST', url: '/users' }, 'the request\'s own logger (pino-http binds the request)')
  t.notOk(lines.some((l) => JSON.stringify(l).includes('ada@example.com')), 'no value in any line')
  t.notOk(response.text.includes('ada@example.com'), 'nor in the body')
  t.same(logger.lines.filter((l) => l.level === 'info'), [], 'not the logger option')
})

t.test('without req.log: the logger option; without either: nothing, and never the console', async (t) => {
  const logger = memoryLogger()
  const { url } = await serve(t, (app) => {
    app.post('/logged', async () => { await db.pool.query("INSERT INTO users (email) VALUES ('ada@example.com')") })
    app.use('/logged', pgConflict({ ...catalogFor, logger }))
    routes(app)
    app.use(pgConflict(catalogFor))
  })
  t.equal((await request(`${url}/logged`)).status, 409)
  t.same(logger.lines.map((l) => [l.level, l.msg, (l.obj as { conflict?: { values?: unknown } }).conflict?.values]), [['info', 'unique violation', '[redacted]']])
  const calls: unknown[] = []
  const originals = { log: console.log, info: console.info, warn: console.warn, error: console.error, debug: console.debug }
  for (const method of Object.keys(originals) as Array<keyof typeof originals>) console[method] = (...args: unknown[]) => { calls.push(args) }
  try {
    t.equal((await request(`${url}/users`, 'POST', { email: 'ada@example.com' })).status, 409)
  } finally {
    Object.assign(console, originals)
  }
  t.same(calls, [], 'silent')
})

t.test('options are checked when the middleware (or conflictConfig) is made, with the plugin\'s error and messages', async (t) => {
  const cases: Array<[() => unknown, RegExp]> = [
    [() => pgConflict('yes' as never), /^fastify-pg-conflict: options must be an object$/],
    [() => pgConflict({ nope: 1 } as never), /options has an unknown option "nope" \(known: pool, catalog, repairSequences, sequenceCheckInterval, logger, unknownConstraints, constraints/],
    [() => pgConflict({ onConflict: () => undefined } as never), /options has an unknown option "onConflict"/],
    [() => pgConflict({ prefix: '/x' } as never), /options has an unknown option "prefix"/],
    [() => pgConflict({ logger: {} as never }), /options\.logger must be a logger with info, warn and error methods/],
    [() => pgConflict({ fields: 3 as never }), /options\.fields must be a field name or an array of field names/],
    [() => pgConflict({ format: 'xml' as never }), /options\.format must be "fastify", "problem" or a function/],
    [() => pgConflict({ expose: { values: 'yes' as never } }), /options\.expose\.values must be true or false/],
    [() => pgConflict({ errors: { nope: true } as never }), /options\.errors has an unknown option "nope"/],
    [() => pgConflict({ constraints: [{ constraint: '' }] }), /options\.constraints\[0\]\.constraint must be a non-empty string or a RegExp/],
    [() => pgConflict({ pool: {} as never }), /options\.pool must be a pg\.Pool or an object with a pg-compatible query\(\) method/],
    [() => pgConflict({ catalog: { timeout: -1 } }), /options\.catalog\.timeout must be a number of milliseconds/],
    [() => pgConflict({ sequenceCheckInterval: 'often' as never }), /options\.sequenceCheckInterval must be a number of milliseconds/],
    [() => pgConflict({ repairSequences: 'yes' as never }), /options\.repairSequences must be true or false/],
    [() => pgConflict({ repairSequences: true }), /options\.repairSequences needs the database: give the pool option/],
    [() => pgConflict({ repairSequences: true, pool: db.pool, catalog: false }), /options\.repairSequences needs the database: it cannot be used with catalog: false/],
    [() => conflictConfig('yes' as never), /^fastify-pg-conflict: conflictConfig must be false or an object like/],
    [() => conflictConfig({ retry: true } as never), /conflictConfig has an unknown option "retry" \(known: constraints, fieldName, errors, format, message, fields, expose, fieldLocations, allConflicts, replay\)/],
    [() => conflictConfig({ expose: { values: 'yes' as never } }), /conflictConfig\.expose\.values must be true or false/],
    [() => conflictConfig({ fieldName: 'camel' as never }), /conflictConfig\.fieldName must be a function/],
    [() => conflictConfig({ constraints: [{ constraint: 'a', match: 'fuzzy' as never }] }), /conflictConfig\.constraints\[0\]\.match must be "exact", "prefix" or "suffix"/]
  ]
  for (const [make, message] of cases) {
    t.throws(make, { code: 'PG_CONFLICT_INVALID_OPTION', message }, String(message))
    try {
      make()
    } catch (err) {
      t.ok(err instanceof InvalidOptionError, 'an InvalidOptionError')
    }
  }
  t.doesNotThrow(() => pgConflict(), 'no options')
  t.doesNotThrow(() => pgConflict({ logger: console }), 'the console, if one wants it')
  t.equal(defaultExport, pgConflict, 'the default export')
})

t.test('headers already sent: the error goes on untouched', async (t) => {
  const { url, seen } = await serve(t, (app) => {
    app.post('/streaming', async (_req, res) => {
      res.status(200).write('partial')
      await db.pool.query("INSERT INTO users (email) VALUES ('ada@example.com')")
    })
    app.use(pgConflict(catalogFor))
  })
  const response = await request(`${url}/streaming`)
  t.equal(response.status, 200)
  t.equal(response.text, 'partial')
  t.equal((seen[0] as { code?: string }).code, '23505')
})

/** A pool whose every query waits `ms` first. */
function slow (ms: number): Queryable {
  return { query: async (text, values) => { await new Promise((resolve) => setTimeout(resolve, ms)); return await db.pool.query(text, values as unknown[]) } }
}

t.test('headers sent by someone else while the catalog is read: the error goes on untouched', async (t) => {
  const { url, seen } = await serve(t, (app) => {
    app.post('/late', async (_req, res) => {
      setTimeout(() => { res.status(504).json({ timedOut: true }) }, 30)
      await db.pool.query("INSERT INTO users (email) VALUES ('ada@example.com')")
    })
    app.use(pgConflict({ pool: slow(300), catalog: { schemas: [db.schema] } }))
  })
  const response = await request(`${url}/late`)
  t.equal(response.status, 504)
  t.same(response.json, { timedOut: true })
  while (seen.length === 0) await new Promise((resolve) => setTimeout(resolve, 20)) // the catalog read ends after the 504
  t.equal((seen[0] as { code?: string }).code, '23505')
})

t.test('a failure of the middleware\'s own (a body JSON cannot hold): logged, and the error goes on as if it were not there', async (t) => {
  for (const catalog of [false as const, { schemas: [db.schema] }]) { // answered at once; after the first catalog read
    const logger = memoryLogger()
    const { url, seen } = await serve(t, (app) => {
      routes(app)
      app.use(pgConflict({ pool: db.pool, catalog, logger, format: () => ({ big: 1n }) }))
    })
    const response = await request(`${url}/users`, 'POST', { email: 'ada@example.com' })
    t.equal(response.status, 500)
    t.equal((seen[0] as { code?: string }).code, '23505')
    const line = logger.lines.find((l) => l.level === 'error')
    t.equal(line?.msg, 'fastify-pg-conflict: could not answer an integrity error; it is passed on')
    t.type((line?.obj as { err?: unknown }).err, TypeError)
  }
})

t.test('the catalog: read at the first integrity error, or at ready(); a new index read when met; refresh() and describe()', async (t) => {
  await db.exec('CREATE TABLE nicks (id int PRIMARY KEY, nick text)')
  const logger = memoryLogger()
  const reads: string[] = []
  const counting: Queryable = { query: async (text, values) => { reads.push(text); return await db.pool.query(text, values as unknown[]) } }
  const conflicts = pgConflict({ pool: counting, catalog: { schemas: [db.schema], minRefreshInterval: 0 }, logger, constraints: [{ constraint: 'nope_key' }] })
  const { url } = await serve(t, (app) => {
    app.post('/nicks', async (req: Request<object, unknown, { id: number, nick: string }>, res: Response) => {
      await db.pool.query('INSERT INTO nicks VALUES ($1, $2)', [req.body.id, req.body.nick])
      res.status(201).end()
    })
    app.use(conflicts)
  })
  t.equal(reads.length, 0, 'nothing read when made')
  await conflicts.ready()
  t.ok(reads.length > 0, 'read at ready()')
  t.ok(logger.lines.some((l) => l.msg === 'fastify-pg-conflict: the configured constraint "nope_key" matches no unique index or constraint in the database'), 'rules matching nothing warned')
  const before = reads.length
  await conflicts.ready()
  t.equal(reads.length, before, 'once')

  // A migration adds a unique index: the first violation naming it reads the catalog again.
  await db.exec('ALTER TABLE nicks ADD CONSTRAINT nicks_nick_key UNIQUE (nick); INSERT INTO nicks VALUES (1, \'ada\')')
  const response = await request(`${url}/nicks`, 'POST', { id: 2, nick: 'ada' })
  t.equal(response.status, 409)
  t.same(response.json.fields, ['nick'])
  t.ok(reads.length > before, 'read again')

  const error = await db.errorOf("INSERT INTO nicks VALUES (3, 'ada')")
  const described = await conflicts.describe(error)
  t.equal(described?.constraint, 'nicks_nick_key')
  t.same(described?.columns, ['nick'])
  t.equal(await conflicts.describe(new Error('no')), undefined)
  const readsBefore = reads.length
  await conflicts.refresh()
  t.ok(reads.length > readsBefore, 'refresh() reads again')

  const fresh = pgConflict({ pool: counting, catalog: { schemas: [db.schema] } })
  const freshBefore = reads.length
  await fresh.refresh()
  t.ok(reads.length > freshBefore, 'refresh() before any read: the first read')
  t.equal((await fresh.describe(error))?.constraint, 'nicks_nick_key')
  const none = pgConflict({ catalog: false })
  await none.ready()
  await none.refresh()
  t.same((await none.describe(error))?.fields, ['nick'], 'without the catalog: from DETAIL')
  await pgConflict().ready()
})

t.test('start-up never hangs: ready() and requests wait at most catalog.timeout for a catalog that does not answer', async (t) => {
  const logger = memoryLogger()
  const hanging: Queryable = { query: async () => await new Promise(() => {}) }
  const conflicts = pgConflict({ pool: hanging, catalog: { timeout: 50 }, logger })
  const started = performance.now()
  await conflicts.ready()
  t.ok(performance.now() - started < 1000, 'ready() returned')
  const { url } = await serve(t, (app) => {
    routes(app)
    app.use(conflicts)
  })
  const response = await request(`${url}/users`, 'POST', { email: 'ada@example.com' })
  t.equal(response.status, 409, 'answered from DETAIL')
  t.same(response.json, UNIQUE_BODY)

  const failing: Queryable = { query: async () => { throw new Error('connection refused') } }
  const broken = pgConflict({ pool: failing, logger })
  await broken.ready()
  t.ok(logger.lines.some((l) => l.level === 'warn' && l.msg === 'fastify-pg-conflict: could not read the catalog; fields come from DETAIL alone until it can'))
})

/** A serial table filled with explicit ids 1..5, its sequence left at the start. */
async function desynced (name: string): Promise<void> {
  await db.exec(`CREATE TABLE ${name} (id serial PRIMARY KEY, note text);
    INSERT INTO ${name} (id, note) SELECT g, 'imported' FROM generate_series(1, 5) g`)
}

function itemRoutes (app: Express, table: string): void {
  app.post('/items', async (_req, res) => {
    const { rows } = await db.pool.query(`INSERT INTO ${table} (note) VALUES ('new') RETURNING id`)
    res.status(201).json(rows[0])
  })
}

t.test('an id sequence behind its table: not a 409 but a PG_SEQUENCE_BEHIND error (500) for the next handler, and the fix logged', async (t) => {
  await desynced('items_a')
  const logger = memoryLogger()
  const { url, seen } = await serve(t, (app) => {
    itemRoutes(app, 'items_a')
    app.use(pgConflict({ ...catalogFor, logger, sequenceCheckInterval: 60_000 }))
  })
  for (const attempt of ['first (checked)', 'second (the check remembered)']) {
    t.equal((await request(`${url}/items`)).status, 500, `${attempt}: Express's default 500`)
  }
  const error = seen[0] as { code?: string, statusCode?: number, cause?: { code?: string } }
  t.equal(error.code, 'PG_SEQUENCE_BEHIND')
  t.equal(error.statusCode, 500)
  t.equal(error.cause?.code, '23505', 'the driver\'s error as cause')
  const line = logger.lines.find((l) => l.level === 'error')
  t.match(line?.msg, `fastify-pg-conflict: the sequence ${db.schema}.items_a_id_seq is behind items_a.id (at 1, the table's maximum is 5)`)
  t.match(line?.msg, `Fix: SELECT setval('${db.schema}.items_a_id_seq', 5)`)
  t.match(line?.obj, { sequence: { name: `${db.schema}.items_a_id_seq`, table: `${db.schema}.items_a`, column: 'id', max: '5' } })
})

t.test('repairSequences: the sequence is moved for the next requests; concurrent ones wait for the one repair; a failed repair is logged', async (t) => {
  await desynced('items_b')
  const logger = memoryLogger()
  // The repair takes a while, so that the second request meets it under way.
  const slowRepair: Queryable = {
    query: async (text, values) => {
      if (text.includes('LOCK TABLE')) await new Promise((resolve) => setTimeout(resolve, 200))
      return await db.pool.query(text, values as unknown[])
    }
  }
  const { url } = await serve(t, (app) => {
    itemRoutes(app, 'items_b')
    app.use(pgConflict({ pool: slowRepair, catalog: { schemas: [db.schema] }, logger, repairSequences: true }))
  })
  const statuses = await Promise.all([request(`${url}/items`), request(`${url}/items`)])
  t.same(statuses.map((r) => r.status), [500, 500], 'the requests that met it: 500')
  t.equal(logger.lines.filter((l) => l.level === 'warn' && l.msg?.startsWith(`fastify-pg-conflict: repaired the sequence ${db.schema}.items_b_id_seq`)).length, 1, 'one repair, logged once')
  t.equal((await request(`${url}/items`)).status, 201, 'the next request is served')

  await desynced('items_c')
  const failingLogger = memoryLogger()
  const noLocks: Queryable = {
    query: async (text, values) => {
      if (text.includes('LOCK TABLE')) throw new Error('permission denied for table items_c')
      return await db.pool.query(text, values as unknown[])
    }
  }
  const failing = await serve(t, (app) => {
    itemRoutes(app, 'items_c')
    app.use(pgConflict({ pool: noLocks, catalog: { schemas: [db.schema] }, logger: failingLogger, repairSequences: true }))
  })
  t.equal((await request(`${failing.url}/items`)).status, 500)
  t.ok(failingLogger.lines.some((l) => l.level === 'error' && l.msg === `fastify-pg-conflict: could not repair the sequence ${db.schema}.items_c_id_seq`))
  t.equal((await request(`${failing.url}/items`)).status, 500, 'still behind')
})
