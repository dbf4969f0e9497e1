// allConflicts (issue 14): after a unique violation, the table's other unique keys are checked
// against what the request supplied, in one read-only query, and every conflicting field is
// answered. Real apps on the real server: a sign-up form whose email and username are both taken.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import express, { type Request, type Response } from 'express'
import fastifyPgConflict, { InvalidOptionError, isConflictError, snakeToCamel, type FastifyPgConflictOptions, type Queryable } from '../../src/index.js'
import { buildApp, WARN, type LogLine } from '../helpers/app.js'
import { testDatabase } from '../helpers/db.js'
import { appRole } from '../helpers/roles.js'
import { listen, memoryLogger, request } from '../helpers/express.js'
import { conflictConfig, pgConflict } from '../../src/adapters/express.js'
import { readUniqueIndexes } from '../../src/catalog/catalog.js'

const db = await testDatabase(t, 'multi')
const major = (await db.pool.query<{ major: number }>("SELECT current_setting('server_version_num')::int / 10000 AS major")).rows[0]?.major ?? 0
await db.exec(`
  CREATE TABLE users (
    id serial PRIMARY KEY,
    email text NOT NULL,
    user_name text NOT NULL CONSTRAINT users_user_name_key UNIQUE,
    phone text,
    org_id int,
    handle text,
    deleted_at timestamptz,
    active boolean NOT NULL DEFAULT true,
    age int
  );
  CREATE UNIQUE INDEX users_email_key ON users (lower(email));
  CREATE UNIQUE INDEX users_phone_key ON users (phone) WHERE deleted_at IS NULL;
  CREATE UNIQUE INDEX users_org_handle_key ON users (org_id, handle) WHERE active;
  INSERT INTO users (email, user_name, phone, org_id, handle) VALUES ('Ada@example.com', 'ada', '555', 1, 'lovelace');
  INSERT INTO users (email, user_name, phone, deleted_at) VALUES ('gone@example.com', 'gone', '777', now());
  CREATE TABLE devices (id serial PRIMARY KEY, serial text, CONSTRAINT devices_serial_key UNIQUE (serial), label text CONSTRAINT devices_label_key UNIQUE);
  INSERT INTO devices (serial, label) VALUES (NULL, 'kitchen');
  CREATE TABLE events (id int, day date, slug text, title text, PRIMARY KEY (id, day), UNIQUE (slug, day), UNIQUE (title, day)) PARTITION BY RANGE (day);
  CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
  INSERT INTO events VALUES (1, '2026-05-01', 'launch', 'Launch');
`)
if (major >= 15) {
  await db.exec(`
    CREATE TABLE badges (id serial PRIMARY KEY, code text CONSTRAINT badges_code_key UNIQUE, owner text CONSTRAINT badges_owner_key UNIQUE NULLS NOT DISTINCT, nick text);
    CREATE UNIQUE INDEX badges_nick_key ON badges (lower(nick)) NULLS NOT DISTINCT;
    INSERT INTO badges (code, owner, nick) VALUES ('a', NULL, 'Bee');
  `)
}

interface SignUp { email?: string, userName?: string, phone?: string | null, orgId?: number, handle?: string, active?: boolean, age?: unknown }

/** The app: POST /users inserts what it is sent (names in camelCase), on `pool`. */
async function signUpApp (options: FastifyPgConflictOptions, route: Record<string, unknown> = {}, pool: Queryable = db.pool): Promise<{ app: FastifyInstance, logs: LogLine[] }> {
  const { app, logs } = buildApp(t)
  await app.register(fastifyPgConflict, { pool, catalog: { schemas: [db.schema] }, fieldName: snakeToCamel, ...options })
  app.post<{ Body: SignUp }>('/users', { config: { conflict: route } }, async (request, reply) => {
    const { email, userName, phone = null, orgId = null, handle = null, active = true } = request.body
    await db.pool.query('INSERT INTO users (email, user_name, phone, org_id, handle, active) VALUES ($1, $2, $3, $4, $5, $6)', [email, userName, phone, orgId, handle, active])
    return await reply.code(201).send({ ok: true })
  })
  app.post<{ Body: { serial?: string | null, label?: string, code?: string, owner?: string | null } }>('/devices', async (request, reply) => {
    const { serial = null, label = null } = request.body
    await db.pool.query('INSERT INTO devices (serial, label) VALUES ($1, $2)', [serial, label])
    return await reply.code(201).send({ ok: true })
  })
  app.post<{ Body: { code?: string, owner?: string | null, nick?: string } }>('/badges', async (request, reply) => {
    await db.pool.query('INSERT INTO badges (code, owner, nick) VALUES ($1, $2, $3)', [request.body.code, request.body.owner ?? null, request.body.nick ?? null])
    return await reply.code(201).send({ ok: true })
  })
  await app.ready()
  return { app, logs }
}

/** `pool`, counting the allConflicts check's queries (and delaying them by `delay` ms). */
function spying (pool: Queryable, delay = 0): Queryable & { checks: string[] } {
  const checks: string[] = []
  return {
    checks,
    query: async (text: string, values?: unknown[]) => {
      if (text.includes('jsonb_populate_record')) {
        checks.push(text)
        if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay))
      }
      return await pool.query(text, values)
    }
  }
}

const bothTaken = { email: 'ADA@example.com', userName: 'ada', phone: '123' }

t.test('email and user name both taken: one answer names both, the violated key first, each with its message', async (t) => {
  const { app, logs } = await signUpApp({ allConflicts: true })
  const response = await app.inject({ method: 'POST', url: '/users', payload: bothTaken })
  t.equal(response.statusCode, 409)
  const body = response.json()
  t.same(body.fields, ['userName', 'email'], 'the violated key (user_name, checked by PostgreSQL first) then the other')
  t.same(body.conflicts, [
    { fields: ['userName'], message: 'A record with this userName already exists.' },
    { fields: ['email'], message: 'A record with this email already exists.' }
  ])
  t.equal(body.message, 'A record with this userName already exists. A record with this email already exists.')
  t.notMatch(response.body, /ADA@example|555|123/i, 'no value the request sent, nor one in the table')
  const line = logs.find((l) => l.msg === 'unique violation') as { conflict: { others: unknown } } | undefined
  t.same(line?.conflict.others, [{ constraint: 'users_email_key', columns: ['email'], fields: ['email'] }], 'the log line names the other key, without values')
})

t.test('Problem Details: an errors[] entry per field, each with its own key\'s message', async (t) => {
  const { app } = await signUpApp({ allConflicts: true, format: 'problem' })
  const body = (await app.inject({ method: 'POST', url: '/users', payload: bothTaken })).json()
  t.same(body.errors, [
    { detail: 'A record with this userName already exists.', pointer: '#/userName', field: 'userName' },
    { detail: 'A record with this email already exists.', pointer: '#/email', field: 'email' }
  ])
  t.equal(body.detail, 'A record with this userName already exists. A record with this email already exists.')
})

t.test('off (the default), and on routes that do not ask: the answer of today, and no query', async (t) => {
  const pool = spying(db.pool)
  const { app } = await signUpApp({}, {}, pool)
  const body = (await app.inject({ method: 'POST', url: '/users', payload: bothTaken })).json()
  t.same(body.fields, ['userName'])
  t.equal(body.conflicts, undefined)
  const created = await app.inject({ method: 'POST', url: '/users', payload: { email: 'new@example.com', userName: 'new' } })
  t.equal(created.statusCode, 201)
  t.same(pool.checks, [], 'no check query')
})

t.test('per route: on one route, over the plugin\'s off; off on a route over the plugin\'s on', async (t) => {
  const on = await signUpApp({}, { allConflicts: true })
  t.same((await on.app.inject({ method: 'POST', url: '/users', payload: bothTaken })).json().fields, ['userName', 'email'])
  const off = await signUpApp({ allConflicts: true }, { allConflicts: false })
  t.same((await off.app.inject({ method: 'POST', url: '/users', payload: bothTaken })).json().fields, ['userName'])
})

t.test('the success path makes no query, nor a conflict with nothing else to check', async (t) => {
  const pool = spying(db.pool)
  const { app } = await signUpApp({ allConflicts: true }, {}, pool)
  t.equal((await app.inject({ method: 'POST', url: '/users', payload: { email: 'grace@example.com', userName: 'grace' } })).statusCode, 201)
  t.same(pool.checks, [], 'a request that succeeds: none')
  const only = await app.inject({ method: 'POST', url: '/users', payload: { email: 'other@example.com', userName: 'ada' } })
  t.same(only.json().fields, ['userName'])
  t.same(only.json().conflicts, [{ fields: ['userName'], message: 'A record with this userName already exists.' }], 'conflicts is there whenever the option is on')
  t.equal(pool.checks.length, 1, 'a conflict: one query, whatever the number of keys')
})

t.test('only keys whose every column the request supplied', async (t) => {
  const { app } = await signUpApp({ allConflicts: true })
  const body = (await app.inject({ method: 'POST', url: '/users', payload: { userName: 'ada', email: 'x@example.com', handle: 'lovelace' } })).json()
  t.same(body.fields, ['userName'], 'org_id and handle: the request sent no orgId')
  const both = (await app.inject({ method: 'POST', url: '/users', payload: { userName: 'ada', email: 'x@example.com', handle: 'lovelace', orgId: 1, active: true } })).json()
  t.same(both.fields, ['userName', 'orgId', 'handle'], 'a composite key supplied in full')
})

t.test('partial indexes: rows outside the predicate do not conflict; the new row must be inside it', async (t) => {
  const { app } = await signUpApp({ allConflicts: true })
  const deleted = (await app.inject({ method: 'POST', url: '/users', payload: { userName: 'ada', email: 'x@example.com', phone: '777' } })).json()
  t.same(deleted.fields, ['userName'], '777 belongs to a deleted user: no conflict (deleted_at, not sent, has no default: the new row has NULL)')
  const live = (await app.inject({ method: 'POST', url: '/users', payload: { userName: 'ada', email: 'x@example.com', phone: '555' } })).json()
  t.same(live.fields, ['userName', 'phone'], '555 is a live user\'s')
  const inactive = (await app.inject({ method: 'POST', url: '/users', payload: { userName: 'ada', email: 'x@example.com', orgId: 1, handle: 'lovelace', active: false } })).json()
  t.same(inactive.fields, ['userName'], 'the new row is not active: outside the index')
})

t.test('a predicate column with a default the request left out: that key is not checked', async (t) => {
  // `active` defaults to true; left out, the new row's value is the default's, which the check cannot know.
  const { app } = await signUpApp({ allConflicts: true })
  const body = (await app.inject({ method: 'POST', url: '/users', payload: { userName: 'ada', email: 'x@example.com', orgId: 1, handle: 'lovelace' } })).json()
  t.same(body.fields, ['userName'])
})

t.test('NULLs: a key supplied as null never conflicts, but under NULLS NOT DISTINCT', async (t) => {
  const { app } = await signUpApp({ allConflicts: true })
  const devices = (await app.inject({ method: 'POST', url: '/devices', payload: { label: 'kitchen', serial: null } })).json()
  t.same(devices.fields, ['label'], 'a NULL serial is there already, and does not conflict')
  if (major < 15) return
  const badges = (await app.inject({ method: 'POST', url: '/badges', payload: { code: 'a', owner: null } })).json()
  t.same(badges.fields, ['code', 'owner'], 'NULLS NOT DISTINCT: the NULL owner conflicts')
  const nick = (await app.inject({ method: 'POST', url: '/badges', payload: { code: 'a', owner: 'x', nick: 'BEE' } })).json()
  t.same(nick.fields, ['code', 'nick'], 'an expression key under NULLS NOT DISTINCT')
})

t.test('per-constraint rules give the other keys their messages and fields; a level\'s own fields only the violated key', async (t) => {
  const { app } = await signUpApp({
    allConflicts: true,
    constraints: [{ constraint: 'users_email_key', message: (conflict) => `Email taken (${conflict.fields.join()}).`, fields: 'emailAddress' }]
  }, { fields: ['login'] })
  const body = (await app.inject({ method: 'POST', url: '/users', payload: bothTaken })).json()
  t.same(body.conflicts, [
    { fields: ['login'], message: 'A record with this login already exists.' },
    { fields: ['emailAddress'], message: 'Email taken (emailAddress).' }
  ])
})

t.test('a route\'s rule for another key gives it its fields, over the plugin\'s', async (t) => {
  const { app } = await signUpApp({ allConflicts: true, constraints: [{ constraint: 'users_email_key', fields: 'plugin' }] },
    { constraints: [{ constraint: 'users_email_key', fields: ['mail'] }] })
  t.same((await app.inject({ method: 'POST', url: '/users', payload: bothTaken })).json().fields, ['userName', 'mail'])
})

t.test('without a pool (nothing to read the keys from): the violated key alone', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { fieldName: snakeToCamel, allConflicts: true })
  app.post<{ Body: SignUp }>('/users', async (request) => {
    await db.pool.query('INSERT INTO users (email, user_name) VALUES ($1, $2)', [request.body.email, request.body.userName])
    return { ok: true }
  })
  t.same((await app.inject({ method: 'POST', url: '/users', payload: bothTaken })).json().conflicts, [{ fields: ['userName'], message: 'A record with this userName already exists.' }])
})

t.test('a table outside the schemas the catalog reads: the violated key alone', async (t) => {
  const { app } = await signUpApp({ allConflicts: true, catalog: { schemas: [`${db.schema}_elsewhere`] } })
  t.same((await app.inject({ method: 'POST', url: '/users', payload: bothTaken })).json().conflicts.length, 1)
})

t.test('expose.constraint names each key; expose.values shows only what PostgreSQL printed of the violated one', async (t) => {
  const { app } = await signUpApp({ allConflicts: true, expose: { constraint: true, values: true } })
  const body = (await app.inject({ method: 'POST', url: '/users', payload: bothTaken })).json()
  t.same(body.conflicts.map((key: { constraint: string }) => key.constraint), ['users_user_name_key', 'users_email_key'])
  t.same(body.values, { userName: 'ada' }, 'the violated key\'s, as today; the others\' never')
})

t.test('path parameters, where the route has them: an org\'s members', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { pool: db.pool, catalog: { schemas: [db.schema] }, fieldName: snakeToCamel, allConflicts: true, format: 'problem' })
  app.post<{ Params: { orgId: string }, Body: SignUp }>('/orgs/:orgId/users', async (request) => {
    const { email, userName, handle } = request.body
    await db.pool.query('INSERT INTO users (email, user_name, org_id, handle) VALUES ($1, $2, $3, $4)', [email, userName, request.params.orgId, handle])
    return { ok: true }
  })
  const body = (await app.inject({ method: 'POST', url: '/orgs/1/users', payload: { email: 'y@example.com', userName: 'ada', handle: 'lovelace', active: true } })).json()
  t.same(body.errors.map((e: { field: string, in?: string }) => [e.field, e.in ?? 'body']), [['userName', 'body'], ['orgId', 'path'], ['handle', 'body']])
})

t.test('the application\'s error handler gets every field', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { pool: db.pool, catalog: { schemas: [db.schema] }, fieldName: snakeToCamel, allConflicts: true })
  app.setErrorHandler(async (error, _request, reply) => {
    if (isConflictError(error)) return await reply.code(409).send({ taken: error.fields })
    throw error
  })
  app.post<{ Body: SignUp }>('/users', async (request) => {
    await db.pool.query('INSERT INTO users (email, user_name) VALUES ($1, $2)', [request.body.email, request.body.userName])
    return { ok: true }
  })
  t.same((await app.inject({ method: 'POST', url: '/users', payload: bothTaken })).json(), { taken: ['userName', 'email'] })
})

t.test('when the check cannot run, the answer is as today, logged without values', async (t) => {
  t.test('a value its column\'s type refuses', async (t) => {
    const { app, logs } = await signUpApp({ allConflicts: true, fieldName: (column) => column === 'org_id' ? 'age' : snakeToCamel(column) })
    const response = await app.inject({ method: 'POST', url: '/users', payload: { ...bothTaken, handle: 'h', active: true, age: 'not-a-number-secret' } })
    t.same(response.json().fields, ['userName'])
    const warning = logs.find((line) => line.level === WARN)
    t.match(warning, { code: '22P02', msg: /could not check .*users's other unique keys/ })
    t.notMatch(JSON.stringify(logs), /not-a-number-secret|ADA@example/i, 'no value in any log line')
  })
  t.test('a role without SELECT on the table', async (t) => {
    const role = await appRole(t, db, 'multi')
    await db.exec(`REVOKE SELECT ON users FROM ${role.name}`)
    const { app, logs } = await signUpApp({ allConflicts: true }, {}, role.pool)
    const response = await app.inject({ method: 'POST', url: '/users', payload: bothTaken })
    t.same(response.json().fields, ['userName'])
    t.match(logs.find((line) => line.level === WARN), { code: '42501' })
  })
  t.test('past the deadline (catalog.timeout)', async (t) => {
    const pool = spying(db.pool, 400)
    const { app, logs } = await signUpApp({ allConflicts: true, catalog: { schemas: [db.schema], timeout: 200 } }, {}, pool)
    const started = performance.now()
    const response = await app.inject({ method: 'POST', url: '/users', payload: bothTaken })
    t.ok(performance.now() - started < 380, 'answered by the deadline')
    t.same(response.json().fields, ['userName'])
    t.match(logs.find((line) => line.level === WARN), { msg: /had not ended by the request's deadline/ })
  })
})

t.test('a least-privilege role (SELECT, INSERT, USAGE): every field', async (t) => {
  const role = await appRole(t, db, 'multiok')
  const { app } = await signUpApp({ allConflicts: true }, {}, role.pool)
  t.same((await app.inject({ method: 'POST', url: '/users', payload: bothTaken })).json().fields, ['userName', 'email'])
})

t.test('checked at registration', async (t) => {
  for (const [options, message] of [
    [{ allConflicts: 'yes' }, /options.allConflicts must be true or false/],
    [{ allConflicts: true, catalog: false }, /options.allConflicts needs the catalog/],
    [{ constraints: [{ constraint: 'users_email_key', allConflicts: 1 }] }, /options.constraints\[0\].allConflicts must be true or false/]
  ] as const) {
    const { app } = buildApp(t)
    await t.rejects(async () => { await app.register(fastifyPgConflict, { pool: db.pool, ...(options as object) }) }, message)
  }
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { catalog: false })
  t.throws(() => app.post('/x', { config: { conflict: { allConflicts: true } } }, async () => ({})), InvalidOptionError)
})

t.test('a partitioned table: the keys declared on it, checked over every partition', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { pool: db.pool, catalog: { schemas: [db.schema] }, allConflicts: true, expose: { constraint: true } })
  app.post<{ Body: { id: number, day: string, slug: string, title: string } }>('/events', async (request) => {
    const { id, day, slug, title } = request.body
    await db.pool.query('INSERT INTO events VALUES ($1, $2, $3, $4)', [id, day, slug, title])
    return { ok: true }
  })
  const body = (await app.inject({ method: 'POST', url: '/events', payload: { id: 1, day: '2026-05-01', slug: 'launch', title: 'Launch' } })).json()
  t.same(body.conflicts.map((key: { constraint: string, fields: string[] }) => [key.constraint, key.fields]), [
    ['events_pkey', ['id', 'day']], ['events_slug_day_key', ['slug', 'day']], ['events_title_day_key', ['title', 'day']]
  ], 'the partitioned table\'s keys (not the partition\'s), the violated first, then by name')
})

t.test('the catalog reads what the check needs (only when asked: predicates, their columns\' defaults, NULLS NOT DISTINCT)', async (t) => {
  t.match((await readUniqueIndexes(db.pool, [db.schema])).find((index) => index.name === 'users_phone_key'), { predicate: undefined, nullsNotDistinct: false },
    'without the option anywhere, the read the plugin always made')
  const indexes = await readUniqueIndexes(db.pool, [db.schema], true)
  const byName = new Map(indexes.map((index) => [index.name, index]))
  t.match(byName.get('users_phone_key'), { predicate: 'deleted_at IS NULL', nullsNotDistinct: false, exclusion: false })
  t.same([...byName.get('users_phone_key')?.predicateColumns ?? []].sort((a, b) => a.column.localeCompare(b.column)), [{ column: 'deleted_at', defaulted: false }, { column: 'phone', defaulted: false }])
  t.same(byName.get('users_org_handle_key')?.predicateColumns?.find((c) => c.column === 'active'), { column: 'active', defaulted: true })
  t.match(byName.get('users_email_key'), { predicate: undefined, predicateColumns: undefined })
  if (major >= 15) t.equal(byName.get('badges_owner_key')?.nullsNotDistinct, true)
})

t.test('a response schema keeps conflicts (openapi: true)', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { pool: db.pool, catalog: { schemas: [db.schema] }, fieldName: snakeToCamel, allConflicts: true, openapi: true })
  app.post<{ Body: SignUp }>('/users', { config: { conflict: {} } }, async (request) => {
    await db.pool.query('INSERT INTO users (email, user_name) VALUES ($1, $2)', [request.body.email, request.body.userName])
    return { ok: true }
  })
  t.same((await app.inject({ method: 'POST', url: '/users', payload: bothTaken })).json().conflicts.length, 2)
})

t.test('Express: the body, and the path parameters a conflictConfig with allConflicts keeps', async (t) => {
  const app = express()
  app.use(express.json())
  app.post('/users', async (req: Request<object, unknown, SignUp>, res: Response) => {
    await db.pool.query('INSERT INTO users (email, user_name) VALUES ($1, $2)', [req.body.email, req.body.userName])
    res.status(201).json({ ok: true })
  })
  app.post('/orgs/:orgId/users', conflictConfig({ allConflicts: true, format: 'problem' }), async (req: Request<{ orgId: string }, unknown, SignUp>, res: Response) => {
    await db.pool.query('INSERT INTO users (email, user_name, org_id, handle, active) VALUES ($1, $2, $3, $4, true)', [req.body.email, req.body.userName, req.params.orgId, req.body.handle])
    res.status(201).json({ ok: true })
  })
  app.post('/plain', conflictConfig({}), async (req: Request<object, unknown, SignUp>, res: Response) => {
    await db.pool.query('INSERT INTO users (email, user_name) VALUES ($1, $2)', [req.body.email, req.body.userName])
    res.status(201).json({ ok: true })
  })
  app.post('/mail', async (req: Request<object, unknown, { mail: string, userName: string }>, res: Response) => {
    await db.pool.query('INSERT INTO users (email, user_name) VALUES ($1, $2)', [req.body.mail, req.body.userName])
    res.status(201).json({ ok: true })
  })
  app.post('/off', conflictConfig({ allConflicts: false }), async (req: Request<object, unknown, SignUp>, res: Response) => {
    await db.pool.query('INSERT INTO users (email, user_name) VALUES ($1, $2)', [req.body.email, req.body.userName])
    res.status(201).json({ ok: true })
  })
  const logger = memoryLogger()
  app.use(pgConflict({ pool: db.pool, catalog: { schemas: [db.schema] }, fieldName: snakeToCamel, allConflicts: true, logger }))
  const url = await listen(t, app)
  t.same((await request(`${url}/users`, 'POST', bothTaken)).json.fields, ['userName', 'email'])
  t.same((await request(`${url}/plain`, 'POST', bothTaken)).json.fields, ['userName', 'email'], 'a conflictConfig without the option: the middleware\'s')
  t.same((await request(`${url}/off`, 'POST', bothTaken)).json.fields, ['userName'])
  t.same((await request(`${url}/mail`, 'POST', { mail: 'ada@example.com', userName: 'ada' })).json.fields, ['userName'], 'no other key supplied in full: no query')
  const problem = (await request(`${url}/orgs/1/users`, 'POST', { email: 'z@example.com', userName: 'ada', handle: 'lovelace', active: true })).json
  t.same(problem.errors.map((e: { field: string, in?: string }) => [e.field, e.in ?? 'body']), [['userName', 'body'], ['orgId', 'path'], ['handle', 'body']])
  t.throws(() => pgConflict({ allConflicts: true }), /options.allConflicts needs the database/)
})

t.test('Express: a catalog read before any level asked (ready(), then a route\'s conflictConfig) is read again once, with the details', async (t) => {
  for (const failing of [false, true]) {
    const app = express()
    app.use(express.json())
    app.post('/users', conflictConfig({ allConflicts: true }), async (req: Request<object, unknown, SignUp>, res: Response) => {
      await db.pool.query('INSERT INTO users (email, user_name) VALUES ($1, $2)', [req.body.email, req.body.userName])
      res.status(201).json({ ok: true })
    })
    // With `failing`, the read with the details fails: the answer is the violated key's alone.
    const pool: Queryable = { query: async (text: string, values?: unknown[]) => failing && text.includes('indnullsnotdistinct') ? await Promise.reject(new Error('no')) : await db.pool.query(text, values) }
    const middleware = pgConflict({ pool, catalog: { schemas: [db.schema] }, fieldName: snakeToCamel, logger: memoryLogger() })
    app.use(middleware)
    await middleware.ready()
    const url = await listen(t, app)
    t.same((await request(`${url}/users`, 'POST', bothTaken)).json.fields, failing ? ['userName'] : ['userName', 'email'], failing ? 'the read failing: as today' : 'read again, with the details')
  }
})

t.test('the other keys\' messages and fields from their constraints\' comments (docs/comments.md), as the violated key\'s', async (t) => {
  // The values are found through fieldName (serial_no → serialNo); the comments name the fields the answer gives.
  await db.exec(`
    CREATE TABLE gadgets (id serial PRIMARY KEY, serial_no text CONSTRAINT gadgets_serial_key UNIQUE, label text CONSTRAINT gadgets_label_key UNIQUE);
    COMMENT ON CONSTRAINT gadgets_serial_key ON gadgets IS '@message That serial number is registered.
@fields serialNo';
    COMMENT ON CONSTRAINT gadgets_label_key ON gadgets IS '@message That label is in use.
@fields label';
    INSERT INTO gadgets (serial_no, label) VALUES ('S1', 'garage');
  `)
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { pool: db.pool, catalog: { schemas: [db.schema] }, fieldName: snakeToCamel, allConflicts: true })
  app.post<{ Body: { serialNo: string, label: string } }>('/gadgets', async (request) => {
    await db.pool.query('INSERT INTO gadgets (serial_no, label) VALUES ($1, $2)', [request.body.serialNo, request.body.label])
  })
  const body = (await app.inject({ method: 'POST', url: '/gadgets', payload: { serialNo: 'S1', label: 'garage' } })).json()
  t.same([...body.fields].sort(), ['label', 'serialNo'], 'both keys\' fields')
  t.same(body.conflicts.map((c: { message: string }) => c.message).sort(), ['That label is in use.', 'That serial number is registered.'], 'each with its comment\'s message')
})
