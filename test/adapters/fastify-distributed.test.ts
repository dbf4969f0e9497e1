// The distributed engines' error shapes (test/fixtures/distributed.ts, each copied from the
// engine's source or documentation, cited there) answered end to end by the plugin, with a real
// catalog holding the tables they name.
import t from 'tap'
import fastifyPgConflict from '../../src/index.js'
import { buildApp, INFO } from '../helpers/app.js'
import { testDatabase } from '../helpers/db.js'
import {
  citusLocalUnique, citusRelayedUnique, cockroachRestart, cockroachUniqueComposite, cockroachUniqueQuote,
  yugabyteUniqueConstraint, type NodePgError
} from '../fixtures/distributed.js'

const db = await testDatabase(t, 'distributed')
// The coordinator's (or the cluster's) tables behind the fixtures' names.
await db.exec(`
  CREATE TABLE limit_orders (id bigint PRIMARY KEY);
  CREATE TABLE test (id int UNIQUE);
`)

async function answer (make: () => NodePgError, options: Record<string, unknown>): Promise<{ status: number, body: Record<string, unknown>, headers: Record<string, unknown>, logged: unknown }> {
  const { app, logs } = buildApp(t)
  await app.register(fastifyPgConflict, { pool: db.pool, catalog: { schemas: [db.schema] }, ...options })
  app.post('/', async () => { throw make() })
  const response = await app.inject({ method: 'POST', url: '/' })
  await app.close()
  return { status: response.statusCode, body: response.json(), headers: response.headers, logged: logs.find((l) => l.level === INFO && l.conflict !== undefined)?.conflict }
}

t.test('Citus, remote execution: the shard index in the message is looked up as the distributed table\'s', async (t) => {
  const got = await answer(citusRelayedUnique, { expose: { constraint: true, values: true } })
  t.equal(got.status, 409)
  t.same(got.body, {
    statusCode: 409, code: 'PG_UNIQUE_VIOLATION', error: 'Conflict', message: 'A record with this id already exists.',
    fields: ['id'], constraint: 'limit_orders_pkey', table: 'limit_orders', values: { id: '32743' }
  }, 'named as the distributed table, with its fields from the catalog')
})

t.test('Citus, local execution: the shard names are the distributed table\'s too, and rules match them', async (t) => {
  // (The fixture's schema is public; here the coordinator's tables are in the test's own.)
  const got = await answer(() => Object.assign(citusLocalUnique(), { schema: db.schema }), { expose: { constraint: true }, constraints: [{ constraint: 'limit_orders_pkey', message: 'That order exists.' }] })
  t.equal(got.status, 409)
  t.match(got.body, { message: 'That order exists.', fields: ['id'], constraint: 'limit_orders_pkey', table: 'limit_orders' })
})

t.test('YugabyteDB: no DETAIL, no constraint field: the index from the message, the fields from the catalog', async (t) => {
  const got = await answer(yugabyteUniqueConstraint, { expose: { constraint: true } })
  t.equal(got.status, 409)
  t.same(got.body, {
    statusCode: 409, code: 'PG_UNIQUE_VIOLATION', error: 'Conflict', message: 'A record with this id already exists.',
    fields: ['id'], constraint: 'test_id_key', table: 'test'
  })
})

t.test('CockroachDB (catalog: false, as its docs section advises): fields and decoded values from its DETAIL', async (t) => {
  const quote = await answer(cockroachUniqueQuote, { catalog: false, expose: { values: true } })
  t.equal(quote.status, 409)
  t.same(quote.body.fields, ['Org Name'], 'a bare column name with a space')
  t.same(quote.body.values, { 'Org Name': "O'Brien & Co, Ltd." }, 'the value unquoted and unescaped, its `, ` kept')
  const composite = await answer(cockroachUniqueComposite, { catalog: false, expose: { values: true } })
  t.same(composite.body.fields, ['c_s', 's'])
  t.same(composite.body.values, { c_s: 'b', s: 'b' })
  t.match(composite.logged, { values: ['b', 'b'] }, 'logged decoded too, exposed here')
})

t.test('CockroachDB: a transaction restart (40001) is a 503 with Retry-After', async (t) => {
  const got = await answer(cockroachRestart, { catalog: false })
  t.equal(got.status, 503)
  t.equal(got.headers['retry-after'], '1')
  t.match(got.body, { code: 'PG_SERIALIZATION_FAILURE', fields: [] })
})
