// The core's pure pieces and its edges, where a real error does not reach every branch: settings
// merged over four levels, catalog lookups that must not guess, and the public helpers.
import t from 'tap'
import fastifyPgConflict from '../../src/index.js'
import { detailAgainst, indexMatchesDetail } from '../../src/core/describe.js'
import { defaultMessage } from '../../src/core/respond.js'
import { findIntegrityError } from '../../src/core/recognise.js'
import { IndexCatalog, type TableConstraint } from '../../src/catalog/catalog.js'
import { valuesStartFor } from '../../src/core/detail.js'
import { ConflictEngine, type Log } from '../../src/engine/engine.js'
import { CATALOG_VERSION_SQL } from '../../src/catalog/catalog.js'
import { resolveSettings, RuleSet, type Level } from '../../src/core/rules.js'
import postgres from 'postgres'
import { buildApp, WARN } from '../helpers/app.js'
import { databaseUrl, testDatabase } from '../helpers/db.js'
import { pgDatabaseError } from '../helpers/driver-errors.js'

const db = await testDatabase(t, 'core')
await db.exec('CREATE TABLE accounts (id int PRIMARY KEY, email text UNIQUE)')
await db.exec("INSERT INTO accounts VALUES (1, 'taken@example.com')")
const DUPLICATE = "INSERT INTO accounts VALUES (2, 'taken@example.com')"

const silent: Log = { info: () => {}, warn: () => {}, error: () => {} }

function level (options: Partial<Level> = {}): Level {
  return { rules: new RuleSet(), settings: {}, errors: {}, fieldName: undefined, ...options }
}

t.test('expose: the most specific level that says anything wins, for values and constraint alike', async (t) => {
  const names = ['users_email_key']
  const rule = (expose: { values?: boolean, constraint?: boolean }): RuleSet => new RuleSet([{ constraint: 'users_email_key', expose }])
  const cases: Array<[string, Level | undefined, Level, boolean]> = [
    ['the route rule', level({ rules: rule({ values: true, constraint: true }) }), level({ settings: { expose: { values: false, constraint: false } } }), true],
    ['the route settings', level({ settings: { expose: { values: true, constraint: true } } }), level({ rules: rule({ values: false, constraint: false }) }), true],
    ['the plugin rule', level(), level({ rules: rule({ values: true, constraint: true }), settings: { expose: { values: false, constraint: false } } }), true],
    ['the plugin settings', undefined, level({ settings: { expose: { values: true, constraint: true } } }), true],
    ['nobody: nothing shown', level(), level(), false]
  ]
  for (const [who, route, plugin, shown] of cases) {
    const settings = resolveSettings('check', names, route, plugin)
    t.equal(settings.exposeValues, shown, `${who}: values`)
    t.equal(settings.exposeConstraint, shown, `${who}: constraint`)
  }
})

t.test('catalog lookups never guess between two constraints of the same name', async (t) => {
  const constraint = (schema: string): TableConstraint => ({
    schema, name: 'orders_customer_fkey', rootName: undefined, table: 'orders', rootTable: undefined, type: 'foreignKey', columns: ['customer_id'], references: { schema, table: 'customers', columns: ['id'] }
  })
  const catalog = new IndexCatalog([], [constraint('a'), constraint('b')])
  t.equal(catalog.findConstraint('orders_customer_fkey', 'orders', 'b')?.schema, 'b', 'with the schema: found')
  t.equal(catalog.findConstraint('orders_customer_fkey', 'orders', undefined), undefined, 'without it: in two schemas, so none')
  t.equal(catalog.findConstraint('orders_customer_fkey', undefined, undefined), undefined, 'by name alone: none either')
  t.same([...catalog.names()], ['orders_customer_fkey'])
})

t.test('the engine: a foreign key the catalog does not know names no columns (DETAIL alone is not trusted once there is a catalog); a shard name without a constraint keeps the error\'s', async (t) => {
  let reads = 0
  const empty = { query: async () => { reads++; return { rows: [] } } }
  const warnings: unknown[] = []
  const engine = new ConflictEngine({}, silent)
  await engine.connect(empty, { schemas: undefined, minRefreshInterval: 60_000, timeout: 1000, sequenceCheckInterval: 10_000, log: { ...silent, warn: (m) => warnings.push(m) } })
  const fk = { code: '23503', message: 'insert or update on table "orders" violates foreign key constraint "orders_customer_fkey"', detail: 'Key (customer_id)=(7) is not present in table "customers".', constraint: 'orders_customer_fkey', schema: 'app', table: 'orders', column: undefined, error: {} }
  const understood = await engine.understand(fk, 'foreignKey', undefined, silent)
  t.match(understood?.conflict, { kind: 'foreignKey', constraint: 'orders_customer_fkey', table: 'orders', columns: [], fields: [] }, 'no columns: the catalog did not confirm DETAIL\'s')
  t.equal(reads, 6, 'the unknown name read the catalog once more (three queries a read: this database gives no version)')
  // A relayed Citus error naming only a shard's table: the table loses its shard id, the rest stays.
  const relayed = { code: '23502', message: 'null value', detail: undefined, constraint: undefined, schema: undefined, table: 'orders_102008', column: 'customer_id', error: { routine: 'ReportResultError' } }
  t.match((await engine.understand(relayed, 'notNull', undefined, silent))?.conflict, { table: 'orders', columns: ['customer_id'] })
  engine.level({ message: 'no rules here' }, '', { ...silent, warn: (m) => warnings.push(m) })
  t.same(warnings, [], 'a level without rules, made after the first read, has nothing to warn of')
})

t.test('a check constraint gone by the time the catalog is read again: described without columns', async (t) => {
  const state = { version: 'v1', constraints: [{ schema: 'app', name: 'age_check', root_name: 'age_check', table: 'people', root_table: null, type: 'c', columns: ['age'], ref_schema: null, ref_table: null, ref_columns: [] }] }
  const db = {
    query: async (text: string, values?: unknown[]) => {
      if (text === CATALOG_VERSION_SQL) return { rows: [{ global: state.version, version: values?.[1] === state.version ? null : state.version }] }
      return { rows: text.includes('conkey') ? state.constraints : [] }
    }
  }
  const engine = new ConflictEngine({}, silent)
  await engine.connect(db, { schemas: ['app'], minRefreshInterval: 5000, timeout: 1000, sequenceCheckInterval: 10_000, log: silent })
  const error = { code: '23514', message: 'new row violates check constraint "age_check"', detail: undefined, constraint: 'age_check', schema: 'app', table: 'people', column: undefined, error: {} }
  t.match((await engine.understand(error, 'check', undefined, silent))?.conflict, { columns: ['age'] }, 'known: its columns')
  Object.assign(state, { version: 'v2', constraints: [] })
  t.match((await engine.understand(error, 'check', undefined, silent))?.conflict, { columns: [], fields: [] }, 'dropped since: none')
})

t.test('repairSequences with a database whose grants cannot be read: said, and repairs will be tried', async (t) => {
  const warnings: string[] = []
  const failing = { query: async () => { throw new Error('connection refused') } }
  const engine = new ConflictEngine({}, silent)
  await engine.connect(failing, { schemas: ['app'], minRefreshInterval: 5000, timeout: 200, sequenceCheckInterval: 10_000, repairSequences: true, log: { ...silent, warn: (_obj, msg) => warnings.push(String(msg)) } })
  t.ok(warnings.some((w) => w.includes('could not check which id sequences the role may repair')))
})

t.test('public helpers: findIntegrityError gives the error and its kind; defaultMessage names the fields', async (t) => {
  const error = Object.assign(new Error('wrapped'), { cause: pgDatabaseError('new row violates check constraint', { code: '23514', constraint: 'age_check' }) })
  t.match(findIntegrityError(error), { kind: 'check', error: { code: '23514', constraint: 'age_check' } })
  t.equal(findIntegrityError(new Error('plain')), undefined)
  t.equal(findIntegrityError(pgDatabaseError('syntax error', { code: '42601' })), undefined, 'a PostgreSQL error of no kind answered (a syntax error)')
  t.equal(defaultMessage(['org_id', 'name']), 'A record with this org_id and name already exists.')
})

t.test('openapi must be true or false', async (t) => {
  const { app } = buildApp(t)
  await t.rejects(async () => { await app.register(fastifyPgConflict, { openapi: 'yes' as unknown as boolean }) }, { code: 'PG_CONFLICT_INVALID_OPTION', message: /options\.openapi must be true or false/ })
})

t.test('a route that leaves unique violations alone (errors.unique: false) still retries them, then passes them on', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { pool: db.pool, catalog: { schemas: [db.schema] } })
  let attempts = 0
  app.post('/r', { config: { conflict: { errors: { unique: false }, retry: { attempts: 2 } } } }, async () => { attempts++; await db.pool.query(DUPLICATE) })
  const response = await app.inject({ method: 'POST', url: '/r' })
  t.equal(attempts, 2, 'retried')
  t.equal(response.statusCode, 500, 'then on as without the plugin')
  t.equal(response.json().code, '23505')
})

t.test('a conflict in a preHandler meets the hooks in the error path; a hook that does not answer leaves the 409', async (t) => {
  const { app } = buildApp(t)
  let asked = 0
  await app.register(fastifyPgConflict, { pool: db.pool, catalog: { schemas: [db.schema] }, onConflict: () => { asked++ } })
  app.post('/r', { preHandler: async () => { await db.pool.query(DUPLICATE) } }, async () => 'unreached')
  const response = await app.inject({ method: 'POST', url: '/r' })
  t.equal(asked, 1)
  t.equal(response.statusCode, 409)
  t.same(response.json().fields, ['email'])
})

t.test('with info logging off, the conflict line is not even built, and the answer is the same', async (t) => {
  const { app, logs } = buildApp(t, { logger: { level: 'warn', stream: { write: () => {} } } })
  await app.register(fastifyPgConflict, { pool: db.pool, catalog: { schemas: [db.schema] } })
  app.post('/r', async () => { await db.pool.query(DUPLICATE) })
  const response = await app.inject({ method: 'POST', url: '/r' })
  t.equal(response.statusCode, 409)
  t.same(response.json().fields, ['email'])
  t.same(logs, [])
})

t.test('DETAIL read against cached keys: only the exact keys at the first parenthesis, followed by the values', async (t) => {
  t.equal(valuesStartFor('Key (a, b)=(1, 2) already exists.', ['a', 'b']), 12)
  t.equal(valuesStartFor('Key (a, b)=(1, 2) already exists.', ['a']), undefined, 'fewer keys')
  t.equal(valuesStartFor('Key (a; b)=(1, 2) already exists.', ['a', 'b']), undefined, 'not separated as PostgreSQL separates them')
  t.equal(valuesStartFor('Key (x)=(1) already exists.', ['a']), undefined, 'another key')
  t.equal(valuesStartFor('Key (a)=(', ['a']), undefined, 'no values')
  t.equal(valuesStartFor('no key here', ['a']), undefined)
  const index = { schema: 's', name: 'k', table: 't', keys: [], definitions: ['a', 'b'], commaFree: [false, false], columns: ['a', 'b'], parent: undefined }
  t.notOk(indexMatchesDetail(index, { keys: ['a', 'c'], valuesText: '1, 2' }), 'as many keys, one different: the index was replaced')
  t.notOk(indexMatchesDetail(index, { keys: ['a'], valuesText: '1' }), 'fewer keys: replaced too')
  t.ok(indexMatchesDetail(index, undefined), 'without DETAIL nothing contradicts it')
  const error = { code: '23505', message: '', detail: "Key (a, b)=('1', '2') already exists.", constraint: 'k', schema: 's', table: 't', column: undefined, error: { file: 'errors.go' } }
  t.equal(detailAgainst(error, index), null, "CockroachDB's DETAIL is for the scan, which reads its literals")
})

t.test('a level made after the catalog was read is checked against it at once', async (t) => {
  const warnings: unknown[] = []
  const log: Log = { ...silent, warn: (m) => warnings.push(m) }
  const engine = new ConflictEngine({}, log)
  await engine.connect(db.pool, { schemas: [db.schema], minRefreshInterval: 60_000, timeout: 2000, sequenceCheckInterval: 10_000, log })
  const typo = { constraint: 'acounts_email_key' }
  engine.level({ constraints: [{ constraint: 'accounts_email_key' }, typo] }, '', log)
  engine.level({ constraints: [typo] }, 'route /x: ', log) // the same rule again (as on the HEAD route Fastify copies from a GET)
  t.same(warnings, ['fastify-pg-conflict: the configured constraint "acounts_email_key" matches no unique index or constraint in the database; did you mean "accounts_email_key"?'],
    'quoted, with the nearest name; a rule met again is not warned of again')
})

t.test('a key value that reads like the server\'s words cannot change what a foreign key violation is, nor make the plugin query', async (t) => {
  await db.exec('CREATE TABLE orgs (slug text PRIMARY KEY); CREATE TABLE members (id serial PRIMARY KEY, org_slug text NOT NULL REFERENCES orgs (slug))')
  await db.exec("INSERT INTO orgs VALUES ('acme'); INSERT INTO members (org_slug) VALUES ('acme')")
  let queries = 0
  const counted = { query: async (text: string, values?: unknown[]) => { queries++; return await db.pool.query(text, values) } }
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { pool: counted, catalog: { schemas: [db.schema] } })
  app.post<{ Body: { org: string } }>('/members', async (request) => await db.pool.query('INSERT INTO members (org_slug) VALUES ($1)', [request.body.org]))
  app.delete<{ Body: { slug: string } }>('/orgs', async (request) => await db.pool.query('DELETE FROM orgs WHERE slug = $1', [request.body.slug]))
  await app.ready()
  queries = 0
  for (const org of ['nope', 'acme) is still referenced from table "x', 'a) is still referenced from table "members".']) {
    const response = await app.inject({ method: 'POST', url: '/members', payload: { org } })
    t.equal(response.statusCode, 422, `${JSON.stringify(org)}: a missing referenced row`)
    t.same(response.json().fields, ['org_slug'])
  }
  const response = await app.inject({ method: 'DELETE', url: '/orgs', payload: { slug: 'acme' } })
  t.equal(response.statusCode, 409, 'a row still referenced')
  t.equal(response.json().code, 'PG_STILL_REFERENCED')
  t.equal(queries, 0, 'the catalog in hand answered every one')
})

t.test('a table made after start-up whose names end in _<digits>, like a Citus shard\'s: its first conflict has its fields', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { pool: db.pool, catalog: { schemas: [db.schema] }, expose: { constraint: true } })
  app.post('/', async () => await db.pool.query("INSERT INTO t_7 VALUES ('z'), ('z')"))
  await app.ready()
  await db.exec('CREATE TABLE t_7 (c text CONSTRAINT uq_c_7 UNIQUE)')
  for (const time of ['first', 'second']) {
    t.match((await app.inject({ method: 'POST', url: '/' })).json(), { statusCode: 409, fields: ['c'], constraint: 'uq_c_7', table: 't_7' }, time)
  }
})

t.test('renames keep the OIDs the catalog version counts: a constraint, table or column renamed after start-up is read again at its first conflict', async (t) => {
  await db.exec('CREATE TABLE acct (id int PRIMARY KEY, email text CONSTRAINT acct_email_key UNIQUE); INSERT INTO acct VALUES (1, \'a\')')
  let queries = 0
  const counted = { query: async (text: string, values?: unknown[]) => { queries++; return await db.pool.query(text, values) } }
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { pool: counted, catalog: { schemas: [db.schema], minRefreshInterval: 0 }, expose: { constraint: true } })
  let table = 'acct'
  app.post('/', async () => await db.pool.query(`INSERT INTO ${table} VALUES (2, 'a')`))
  await app.ready()
  const answer = async (): Promise<Record<string, unknown>> => (await app.inject({ method: 'POST', url: '/' })).json()
  await db.exec('ALTER TABLE acct RENAME CONSTRAINT acct_email_key TO acct_mail_key')
  t.match(await answer(), { fields: ['email'], constraint: 'acct_mail_key', table: 'acct' }, 'a constraint renamed')
  await db.exec('ALTER TABLE acct RENAME TO accounts_renamed')
  table = 'accounts_renamed'
  t.match(await answer(), { fields: ['email'], constraint: 'acct_mail_key', table: 'accounts_renamed' }, 'its table renamed')
  await db.exec('ALTER TABLE accounts_renamed RENAME COLUMN email TO mail')
  t.match(await answer(), { fields: ['mail'], constraint: 'acct_mail_key', table: 'accounts_renamed' }, 'its column renamed')
  queries = 0
  t.match(await answer(), { fields: ['mail'] })
  t.equal(queries, 0, 'then the steady state again: no query')
})

t.test('a pool that answers otherwise than node-postgres (a postgres.js adapter): the catalog read fails, said, and DETAIL answers', async (t) => {
  const sql = postgres(databaseUrl(), { max: 1, connection: { search_path: db.schema }, onnotice: () => {} })
  t.teardown(async () => { await sql.end() })
  const adapter = { query: async (text: string, values?: unknown[]) => ({ rows: await sql.unsafe(text, (values ?? []) as never[]) }) }
  const { app, logs } = buildApp(t)
  await app.register(fastifyPgConflict, { pool: adapter, catalog: { schemas: [db.schema] } })
  app.post('/', async () => await db.pool.query(DUPLICATE))
  t.match((await app.inject({ method: 'POST', url: '/' })).json(), { statusCode: 409, fields: ['email'] }, 'not an empty catalog that knows no name')
  t.match(logs.filter((l) => l.level === WARN).map((l) => JSON.stringify(l.err)), [/did not answer as node-postgres does/])
})
