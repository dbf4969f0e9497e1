// Idempotent replays (docs/replays.md) against real PostgreSQL: a create retried after its first
// attempt won answers 200 with that row and `Idempotent-Replayed: true`, whether the handler wrote
// through pool.query, a checked-out client it rolled back, or withTransaction; anything else that
// differs, or cannot be told in time, stays the 409 it was. As the superuser and as a
// least-privilege role; without SELECT, a 409 and one warning.
import t from 'tap'
import type { Test } from 'tap'
import type pg from 'pg'
import type { FastifyInstance } from 'fastify'
import fastifyPgConflict, { snakeToCamel } from '../../src/index.js'
import { buildApp, WARN } from '../helpers/app.js'
import { testDatabase } from '../helpers/db.js'
import { appRole } from '../helpers/roles.js'
import express from 'express'
import { conflictConfig, pgConflict } from '../../src/adapters/express.js'
import { listen, request as fetchJson } from '../helpers/express.js'

const db = await testDatabase(t, 'replay')
await db.exec(`
  CREATE TABLE signups (id serial PRIMARY KEY, email text NOT NULL CONSTRAINT signups_email_key UNIQUE, full_name text,
    plan text NOT NULL DEFAULT 'free', secret text NOT NULL DEFAULT 'internal', created_at timestamptz NOT NULL DEFAULT now());
  CREATE TABLE payments (id serial PRIMARY KEY, idempotency_key text CONSTRAINT payments_key UNIQUE, account text NOT NULL, amount int NOT NULL,
    CONSTRAINT payments_once UNIQUE (account, amount));
  CREATE TABLE members (org_id int NOT NULL, email text NOT NULL, role text NOT NULL DEFAULT 'member', CONSTRAINT members_key UNIQUE (org_id, email));
  CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL CONSTRAINT items_name_key UNIQUE);
  CREATE TABLE people (id serial PRIMARY KEY, email text NOT NULL);
  CREATE UNIQUE INDEX people_email_lower ON people (lower(email));
  CREATE TABLE vault (id serial PRIMARY KEY, name text NOT NULL CONSTRAINT vault_name_key UNIQUE);
  CREATE TABLE tickets (id serial PRIMARY KEY, code text NOT NULL, archived boolean NOT NULL DEFAULT false);
  CREATE UNIQUE INDEX tickets_live ON tickets (code) WHERE NOT archived;
  INSERT INTO tickets (code, archived) VALUES ('A-1', true);
  CREATE TABLE events (day date NOT NULL, id int NOT NULL, name text, PRIMARY KEY (day, id)) PARTITION BY RANGE (day);
  CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
`)
const role = await appRole(t, db, 'replay')
await db.exec(`REVOKE SELECT ON vault FROM ${role.name}`)

interface Signup { email: string, fullName?: string, plan?: string }
const INSERT_SIGNUP = 'INSERT INTO signups (email, full_name, plan) VALUES ($1, $2, coalesce($3, \'free\')) RETURNING id, email, full_name, plan, created_at'
const signupValues = (body: Signup): unknown[] => [body.email, body.fullName ?? null, body.plan ?? null]
const replaySignups = { conflict: { replay: { columns: ['id', 'created_at'] } } }

/** An app on `pool` with routes writing the same signup three ways, and the other tables' routes. */
async function appOn (t: Test, pool: pg.Pool, timeout = 2000, more?: (app: FastifyInstance) => void): Promise<{ app: FastifyInstance, logs: ReturnType<typeof buildApp>['logs'] }> {
  const { app, logs } = buildApp(t)
  await app.register(fastifyPgConflict, { pool, fieldName: snakeToCamel, catalog: { schemas: [db.schema], timeout } })
  app.post<{ Body: Signup }>('/signups', { config: replaySignups }, async (request, reply) => {
    const { rows } = await pool.query(INSERT_SIGNUP, signupValues(request.body))
    return await reply.code(201).send(rows[0])
  })
  app.post<{ Body: Signup }>('/signups/client', { config: replaySignups }, async (request, reply) => {
    const client = await pool.connect()
    try {
      await client.query('BEGIN')
      const { rows } = await client.query(INSERT_SIGNUP, signupValues(request.body))
      await client.query('COMMIT')
      return await reply.code(201).send(rows[0])
    } catch (error) {
      await client.query('ROLLBACK')
      throw error
    } finally {
      client.release()
    }
  })
  app.post<{ Body: Signup }>('/signups/transaction', { config: replaySignups }, async (request, reply) => {
    const row = await app.pgConflict.withTransaction(async (client) => (await client.query(INSERT_SIGNUP, signupValues(request.body))).rows[0])
    return await reply.code(201).send(row)
  })
  app.post<{ Body: Signup }>('/signups/plain', async (request, reply) => {
    const { rows } = await pool.query(INSERT_SIGNUP, signupValues(request.body))
    return await reply.code(201).send(rows[0])
  })
  app.post<{ Body: { account: string, amount: number } }>('/payments', {
    config: {
      conflict: {
        replay: {
          key: 'idempotency_key',
          status: 201,
          columns: ['id'],
          values: (request) => ({ ...request.body as object, idempotency_key: request.headers['idempotency-key'] }),
          respond: (row) => ({ payment: row })
        }
      }
    }
  }, async (request, reply) => {
    const { rows } = await pool.query('INSERT INTO payments (idempotency_key, account, amount) VALUES ($1, $2, $3) RETURNING id',
      [request.headers['idempotency-key'], request.body.account, request.body.amount])
    return await reply.code(201).send({ payment: rows[0] })
  })
  app.put<{ Params: { orgId: string, email: string } }>('/orgs/:orgId/members/:email', { config: { conflict: { replay: { table: 'members' }, fieldLocations: { email: { in: 'path' } } } } }, async (request, reply) => {
    await pool.query('INSERT INTO members (org_id, email) VALUES ($1, $2)', [request.params.orgId, request.params.email])
    return await reply.code(201).send({ orgId: Number(request.params.orgId), email: request.params.email })
  })
  app.post<{ Body: { name: string } }>('/items', { config: { conflict: { replay: { columns: ['id'] } } } }, async (request) => {
    return (await pool.query('INSERT INTO items (name) VALUES ($1) RETURNING id, name', [request.body.name])).rows[0]
  })
  app.post<{ Body: { email: string } }>('/people', { config: { conflict: { replay: true } } }, async (request) => {
    return (await pool.query('INSERT INTO people (email) VALUES ($1) RETURNING id, email', [request.body.email])).rows[0]
  })
  app.post<{ Body: { name: string } }>('/vault', { config: { conflict: { replay: true } } }, async (request) => {
    await pool.query('INSERT INTO vault (name) VALUES ($1)', [request.body.name]); return { saved: true } // (RETURNING would need SELECT)
  })
  more?.(app)
  await app.ready()
  return { app, logs }
}

const post = async (app: FastifyInstance, url: string, payload: object, headers: Record<string, string> = {}): Promise<{ status: number, body: any, replayed: unknown }> => {
  const response = await app.inject({ method: 'POST', url, payload, headers })
  return { status: response.statusCode, body: response.json(), replayed: response.headers['idempotent-replayed'] }
}

for (const [who, pool] of [['the superuser', db.pool], ['a least-privilege role (INSERT, SELECT, USAGE)', role.pool]] as const) {
  t.test(`as ${who}: a retried create is answered with its own row, however the handler wrote it`, async (t) => {
    const { app } = await appOn(t, pool)
    for (const route of ['/signups', '/signups/client', '/signups/transaction']) {
      const email = `ada${route.replaceAll('/', '.')}.${pool === db.pool ? 'su' : 'role'}@example.com`
      const first = await post(app, route, { email, fullName: 'Ada Lovelace' })
      t.equal(first.status, 201, `${route}: created`)
      const again = await post(app, route, { email, fullName: 'Ada Lovelace' })
      t.equal(again.status, 200, `${route}: the retry is a success`)
      t.equal(again.replayed, 'true', `${route}: saying it is a replay`)
      t.same(again.body, { id: first.body.id, email, fullName: 'Ada Lovelace', createdAt: first.body.created_at },
        `${route}: the row the first attempt wrote, as API fields: the supplied columns, the key's and \`columns\` (never secret, nor plan, which was not supplied)`)
      const other = await post(app, route, { email, fullName: 'Someone Else' })
      t.equal(other.status, 409, `${route}: another request with the same email stays a conflict`)
      t.equal(other.replayed, undefined)
      t.same(other.body.fields, ['email'])
      t.equal((await post(app, route, { email, fullName: 'Ada Lovelace', plan: 'pro' })).status, 409, `${route}: a supplied column that differs is a conflict`)
    }
    const plain = await post(app, '/signups/plain', { email: `ada.signups.${pool === db.pool ? 'su' : 'role'}@example.com`, fullName: 'Ada Lovelace' })
    t.equal(plain.status, 409, 'a route without replay answers 409 as before')
  })
}

t.test('key: only the row with the request\'s idempotency key, all its values equal; status and respond as configured', async (t) => {
  const { app } = await appOn(t, db.pool)
  const key = { 'idempotency-key': 'k-1' }
  const first = await post(app, '/payments', { account: 'acme', amount: 100 }, key)
  t.equal(first.status, 201)
  const again = await post(app, '/payments', { account: 'acme', amount: 100 }, key)
  t.same([again.status, again.replayed, again.body], [201, 'true', { payment: { id: first.body.payment.id, idempotencyKey: 'k-1', account: 'acme', amount: 100 } }])
  const reused = await post(app, '/payments', { account: 'acme', amount: 999 }, key)
  t.same([reused.status, reused.replayed], [409, undefined], 'a key reused for other values is a conflict')
  const keyless = await post(app, '/payments', { account: 'acme', amount: 100 })
  t.same([keyless.status, keyless.replayed], [409, undefined], 'without a key, never a replay (here a conflict on payments_once)')
})

t.test('path parameters are supplied values (a composite key from the path), typed by the column', async (t) => {
  const { app } = await appOn(t, db.pool)
  const put = async (): Promise<{ status: number, body: unknown, replayed: unknown }> => {
    const response = await app.inject({ method: 'PUT', url: '/orgs/7/members/ada@example.com' })
    return { status: response.statusCode, body: response.json(), replayed: response.headers['idempotent-replayed'] }
  }
  t.equal((await put()).status, 201)
  t.same(await put(), { status: 200, body: { orgId: 7, email: 'ada@example.com' }, replayed: 'true' }, 'the row: the supplied columns only ("7" compared as the int it is)')
})

t.test('a column added since the table was read is compared too: the first conflict after is a 409, then it counts', async (t) => {
  const { app, logs } = await appOn(t, db.pool)
  t.equal((await post(app, '/items', { name: 'lamp' })).status, 200, 'created')
  const replayed = await post(app, '/items', { name: 'lamp', color: 'red' })
  t.equal(replayed.status, 200, 'color is no column yet: not compared')
  await db.exec('ALTER TABLE items ADD COLUMN color text')
  t.teardown(async () => { await db.exec('ALTER TABLE items DROP COLUMN IF EXISTS color') })
  t.equal((await post(app, '/items', { name: 'lamp', color: 'red' })).status, 409, 'the table changed: in doubt')
  t.equal((await post(app, '/items', { name: 'lamp', color: 'red' })).status, 409, 'read again: color is compared, and the row has none')
  t.equal((await post(app, '/items', { name: 'lamp' })).status, 200, 'without color, the row is the request\'s')
  await db.exec('ALTER TABLE items DROP COLUMN color')
  t.equal((await post(app, '/items', { name: 'lamp', color: 'red' })).status, 409, 'a column dropped since: the query fails, a 409')
  t.ok(logs.some((line) => line.level === WARN && line.msg.includes('a replay\'s query on')), 'said')
  t.equal((await post(app, '/items', { name: 'lamp', color: 'red' })).status, 200, 'and the columns are read again: color is none of them')
  const warnings = logs.filter((line) => line.level === WARN).length
  t.equal((await post(app, '/items', { name: 'lamp', id: 'not a number' })).status, 409, 'a value that does not fit its column: a 409')
  t.equal(logs.filter((line) => line.level === WARN).length, warnings, 'the client\'s, not said')
})

t.test('what cannot be told is a 409: an expression key, no SELECT grant (said once), the deadline', async (t) => {
  const { app, logs } = await appOn(t, role.pool, 500)
  t.equal((await post(app, '/people', { email: 'Ada@example.com' })).status, 200)
  t.equal((await post(app, '/people', { email: 'Ada@example.com' })).status, 409, 'lower(email): no key to find the row by')
  t.equal((await post(app, '/vault', { name: 'gold' })).status, 200)
  t.equal((await post(app, '/vault', { name: 'gold' })).status, 409, 'the role may not read vault')
  t.equal((await post(app, '/vault', { name: 'gold' })).status, 409)
  t.equal(logs.filter((line) => line.level === WARN && line.msg.includes('lacks SELECT')).length, 1, 'said once')

  let locker: pg.PoolClient | undefined
  t.teardown(async () => { await locker?.query('ROLLBACK'); locker?.release() })
  const { app: slow } = await appOn(t, role.pool, 300, (app) => {
    app.post<{ Body: { name: string } }>('/items/locked', {
      config: {
        conflict: {
          replay: true,
          // The replay's SELECT waits behind this lock (taken once the INSERT has failed) past the deadline.
          onConflict: async () => {
            locker = await db.pool.connect()
            await locker.query('BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE')
          }
        }
      }
    }, async (request) => (await role.pool.query('INSERT INTO items (name) VALUES ($1) RETURNING id', [request.body.name])).rows[0])
  })
  t.equal((await post(slow, '/items', { name: 'desk' })).status, 200)
  t.equal((await post(slow, '/items', { name: 'desk' })).status, 200, 'replayed while nothing holds the table')
  const started = performance.now()
  const late = await post(slow, '/items/locked', { name: 'desk' })
  t.same([late.status, late.replayed], [409, undefined], 'not in time: the 409')
  t.ok(performance.now() - started < 1500, 'answered at the deadline, not when the lock goes')
})

t.test('the route\'s table only; a partial key that finds two rows is a doubt; a respond that throws is a 409', async (t) => {
  const { app, logs } = await appOn(t, db.pool, 2000, (app) => {
    const insert = (sql: string) => async (request: { body: unknown }): Promise<object> => {
      const body = request.body as Record<string, unknown>
      await db.pool.query(sql, Object.values(body))
      return body
    }
    app.post('/tickets', { config: { conflict: { replay: true } } }, insert('INSERT INTO tickets (code) VALUES ($1)'))
    app.post('/events', { config: { conflict: { replay: { table: 'events' } } } }, insert('INSERT INTO events (day, id, name) VALUES ($1, $2, $3)'))
    app.post('/events/qualified', { config: { conflict: { replay: { table: `${db.schema}.events` } } } }, insert('INSERT INTO events (day, id, name) VALUES ($1, $2, $3)'))
    app.post('/events/elsewhere', { config: { conflict: { replay: { table: `${db.schema}.signups` } } } }, insert('INSERT INTO events (day, id, name) VALUES ($1, $2, $3)'))
    app.post('/events/broken', { config: { conflict: { replay: { respond: () => { throw new Error('oops') } } } } }, insert('INSERT INTO events (day, id, name) VALUES ($1, $2, $3)'))
  })
  t.equal((await post(app, '/tickets', { code: 'A-1' })).status, 200, 'a live ticket beside the archived one')
  t.equal((await post(app, '/tickets', { code: 'A-1' })).status, 409, 'two rows have that code (one outside the partial index): in doubt')
  const event = { day: '2026-05-01', id: 1, name: 'launch' }
  t.equal((await post(app, '/events', event)).status, 200)
  const again = await post(app, '/events', event)
  const day = (await db.pool.query("SELECT '2026-05-01'::date AS day")).rows[0].day.toJSON()
  t.same([again.status, again.replayed, again.body], [200, 'true', { ...event, day }], 'a partition\'s key, the partitioned table named; values as the driver gives them')
  t.equal((await post(app, '/events/qualified', event)).status, 200, 'named with its schema')
  t.equal((await post(app, '/events/elsewhere', event)).status, 409, 'a conflict on another table than the route\'s')
  t.equal((await post(app, '/events/broken', event)).status, 409)
  t.ok(logs.some((line) => line.msg.includes('a replay failed')), 'logged')
})

t.test('replay needs the database: refused with catalog: false, a 409 without a pool', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { catalog: false })
  t.throws(() => app.post('/x', { config: { conflict: { replay: true } } }, async () => ({})),
    { code: 'PG_CONFLICT_INVALID_OPTION', message: /route POST \/x config\.conflict\.replay needs the database .* catalog: false/ })
  const { app: poolless } = buildApp(t)
  await poolless.register(fastifyPgConflict)
  poolless.post<{ Body: { name: string } }>('/items', { config: { conflict: { replay: true } } }, async (request) => await db.pool.query('INSERT INTO items (name) VALUES ($1)', [request.body.name]))
  t.equal((await post(poolless, '/items', { name: 'chair' })).status, 200)
  t.equal((await post(poolless, '/items', { name: 'chair' })).status, 409)
})

t.test('field names: the route\'s fieldName, else the plugin\'s, else the column names', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { pool: db.pool, catalog: { schemas: [db.schema] } })
  const insert = async (request: { body: unknown }): Promise<unknown> => (await db.pool.query('INSERT INTO signups (email, full_name) VALUES ($1, $2) RETURNING id', Object.values(request.body as object))).rows[0]
  app.post('/columns', { config: { conflict: { replay: true } } }, insert)
  app.post('/upper', { config: { conflict: { replay: true, fieldName: (column: string) => column.toUpperCase() } } }, insert)
  t.equal((await post(app, '/columns', { email: 'grace@example.com', full_name: 'Grace' })).status, 200)
  t.same((await post(app, '/columns', { email: 'grace@example.com', full_name: 'Grace' })).body, { email: 'grace@example.com', full_name: 'Grace' })
  t.same((await post(app, '/upper', { EMAIL: 'grace@example.com', FULL_NAME: 'Grace' })).body, { EMAIL: 'grace@example.com', FULL_NAME: 'Grace' })
})

t.test('Express: conflictConfig({ replay }) answers a retried create with its row; path parameters as the route had them', async (t) => {
  const catalog = { schemas: [db.schema] }
  const app = express()
  app.use(express.json())
  app.put('/orgs/:orgId/members', conflictConfig({ replay: true }), async (req, res) => {
    await db.pool.query('INSERT INTO members (org_id, email, role) VALUES ($1, $2, coalesce($3, \'member\'))', [req.params.orgId, req.body.email, req.body.role])
    res.status(201).json({ orgId: Number(req.params.orgId), email: req.body.email })
  })
  app.post('/orders', conflictConfig({
    fieldName: (column) => column.toUpperCase(),
    replay: { status: 201, columns: ['id'], values: (req) => ({ name: req.body.NAME }), respond: (row) => ({ order: row }) }
  }), async (req, res) => {
    const { rows } = await db.pool.query('INSERT INTO items (name) VALUES ($1) RETURNING id', [req.body.NAME])
    res.status(201).json({ order: rows[0] })
  })
  app.post('/broken', conflictConfig({ replay: { respond: () => { throw new Error('oops') } } }), async (req, res) => {
    await db.pool.query('INSERT INTO items (name) VALUES ($1)', [req.body.name])
    res.status(201).json({})
  })
  app.use(pgConflict({ pool: db.pool, catalog, fieldName: snakeToCamel }))
  const url = await listen(t, app)
  const put = async (body: object): Promise<[number, string | null, unknown]> => {
    const reply = await fetchJson(`${url}/orgs/9/members`, 'PUT', body)
    return [reply.status, reply.headers.get('idempotent-replayed'), reply.json]
  }
  t.same(await put({ email: 'ada@example.com' }), [201, null, { orgId: 9, email: 'ada@example.com' }])
  t.same(await put({ email: 'ada@example.com' }), [200, 'true', { orgId: 9, email: 'ada@example.com' }], 'replayed: org_id from the path, email from the body')
  t.equal((await put({ email: 'ada@example.com', role: 'admin' })).at(0), 409, 'another role: a conflict')
  const order = await fetchJson(`${url}/orders`, 'POST', { NAME: 'express-order' })
  const again = await fetchJson(`${url}/orders`, 'POST', { NAME: 'express-order' })
  t.same([again.status, again.headers.get('idempotent-replayed'), again.json], [201, 'true', { order: { ID: order.json.order.id, NAME: 'express-order' } }], 'values, status, columns, respond and the route\'s fieldName')
  await fetchJson(`${url}/broken`, 'POST', { name: 'express-broken' })
  t.equal((await fetchJson(`${url}/broken`, 'POST', { name: 'express-broken' })).status, 409, 'a respond that throws: the 409')

  const plain = express()
  plain.use(express.json())
  plain.post('/items', conflictConfig({ replay: true }), async (req, res) => {
    await db.pool.query('INSERT INTO items (name) VALUES ($1)', [req.body.name])
    res.status(201).json({ name: req.body.name })
  })
  plain.post('/none/items', conflictConfig({ replay: true }), async (req, res) => {
    await db.pool.query('INSERT INTO items (name) VALUES ($1)', [req.body.name])
    res.status(201).json({ name: req.body.name })
  })
  plain.use('/none', pgConflict({ catalog: false }))
  plain.use(pgConflict({ pool: db.pool, catalog }))
  const plainUrl = await listen(t, plain)
  await fetchJson(`${plainUrl}/items`, 'POST', { name: 'express-plain' })
  t.same((await fetchJson(`${plainUrl}/items`, 'POST', { name: 'express-plain' })).json, { name: 'express-plain' }, 'column names without a fieldName')
  t.equal((await fetchJson(`${plainUrl}/none/items`, 'POST', { name: 'express-plain' })).status, 409, 'a middleware without the catalog: the 409')
})

t.test('a route with replay keeps its own handler: its success path is the same as without', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { pool: db.pool, catalog: { schemas: [db.schema] } })
  const installed = new Map<string, unknown>()
  app.addHook('onRoute', (route) => { installed.set(route.url, route.handler) }) // runs after the plugin's
  const handler = async (): Promise<object> => ({})
  app.post('/with', { config: { conflict: { replay: { columns: ['id'] } } } }, handler)
  t.equal(installed.get('/with'), handler, 'not wrapped')
})

t.test('only the request\'s own whole row: a column the handler filled (not supplied, nor given by values) is a 409; a child table\'s row is not the table\'s', async (t) => {
  await db.exec(`
    CREATE TABLE profiles (id serial PRIMARY KEY, user_id int NOT NULL, handle text NOT NULL CONSTRAINT profiles_handle_key UNIQUE);
    INSERT INTO profiles (user_id, handle) VALUES (2, 'carol');
    CREATE TABLE codes (code text NOT NULL CONSTRAINT codes_code_key UNIQUE, note text);
    CREATE TABLE old_codes () INHERITS (codes);
    INSERT INTO codes VALUES ('X', 'mine'); INSERT INTO old_codes VALUES ('X', 'theirs');
  `)
  const { app } = await appOn(t, db.pool, 2000, (app) => {
    // The user's id comes from the session (a header here), not from the body.
    app.post<{ Body: { handle: string } }>('/profiles', { config: { conflict: { replay: true } } }, async (request) =>
      (await db.pool.query('INSERT INTO profiles (user_id, handle) VALUES ($1, $2) RETURNING id', [Number(request.headers['x-user']), request.body.handle])).rows[0])
    app.post<{ Body: { handle: string } }>('/profiles/scoped', {
      config: { conflict: { replay: { values: (request) => ({ handle: (request.body as { handle: string }).handle, user_id: Number(request.headers['x-user']) }) } } }
    }, async (request) =>
      (await db.pool.query('INSERT INTO profiles (user_id, handle) VALUES ($1, $2) RETURNING id', [Number(request.headers['x-user']), request.body.handle])).rows[0])
    app.post<{ Body: { code: string, note: string } }>('/codes', { config: { conflict: { replay: true } } }, async (request) =>
      (await db.pool.query('INSERT INTO codes VALUES ($1, $2)', [request.body.code, request.body.note])).rowCount)
  })
  t.equal((await post(app, '/profiles', { handle: 'carol' }, { 'x-user': '1' })).status, 409, 'carol\'s handle, by another user: never her row')
  t.equal((await post(app, '/profiles/scoped', { handle: 'carol' }, { 'x-user': '1' })).status, 409, 'with values: another user\'s is a 409')
  t.equal((await post(app, '/profiles/scoped', { handle: 'carol' }, { 'x-user': '2' })).status, 200, 'with values: her own is replayed')
  t.equal((await post(app, '/codes', { code: 'X', note: 'theirs' })).status, 409, 'the row of a child table that matches is not the one in conflict')
  t.equal((await post(app, '/codes', { code: 'X', note: 'mine' })).status, 200, 'the table\'s own is')
})
