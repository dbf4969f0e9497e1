// The plugin and withTransaction on Citus's errors without a cluster: the errors captured from one
// (test/citus/captured.ts) thrown against the scenario's tables on plain PostgreSQL, whose catalog
// is what the coordinator's shows. So that `npm test` covers the engine's and the retries' Citus
// paths anywhere; the cluster suites (cluster.test.ts) show the same answers for real.
import t from 'tap'
import fastifyPgConflict from '../../src/index.js'
import { ConflictCounters } from '../../src/races/counters.js'
import { withTransaction } from '../../src/races/transaction.js'
import { buildApp, INFO } from '../helpers/app.js'
import { testDatabase } from '../helpers/db.js'
import { CAPTURED } from './captured.js'
import { LONG_NAME, type CaptureName } from './scenario.js'

const db = await testDatabase(t, 'citus_answers')
await db.exec(`
  CREATE TABLE orgs (id int PRIMARY KEY, name text);
  CREATE TABLE accounts (org_id int NOT NULL REFERENCES orgs, id bigint, email text NOT NULL, age int CHECK (age >= 0),
    PRIMARY KEY (org_id, id), CONSTRAINT accounts_org_email_key UNIQUE (org_id, email));
  CREATE TABLE aliases (org_id int, alias text, CONSTRAINT ${LONG_NAME} UNIQUE (org_id, alias));
`)

t.test('captured errors answered with the distributed table\'s names and fields', async (t) => {
  const { app, logs } = buildApp(t)
  await app.register(fastifyPgConflict, { pool: db.pool, catalog: { schemas: [db.schema] }, expose: { constraint: true } })
  let name: CaptureName = 'relayedUnique'
  app.post('/', async () => { throw CAPTURED[name]() })
  const answer = async (capture: CaptureName): Promise<Record<string, unknown>> => {
    name = capture
    return (await app.inject({ method: 'POST', url: '/' })).json()
  }
  t.same(await answer('relayedUnique'), {
    statusCode: 409, code: 'PG_UNIQUE_VIOLATION', error: 'Conflict', message: 'A record with this org_id and email already exists.',
    fields: ['org_id', 'email'], constraint: 'accounts_org_email_key', table: 'accounts'
  }, 'relayed from a worker: the shard\'s index in the message, looked up as the distributed table\'s')
  t.same(await answer('copyUnique'), await answer('relayedUnique'), 'relayed by COPY as XX000: the same answer')
  t.same(await answer('relayedNotNull'), {
    statusCode: 422, code: 'PG_NOT_NULL_VIOLATION', error: 'Unprocessable Entity', message: 'A value for email is required.', fields: ['email'], table: 'accounts'
  }, 'not null: the column from the message')
  t.match(logs.filter((l) => l.level === INFO && l.conflict !== undefined).map((l) => l.conflict), [
    { code: '23505', constraint: 'accounts_org_email_key', table: 'accounts' },
    { code: 'XX000', constraint: 'accounts_org_email_key', table: 'accounts' },
    { code: '23505', constraint: 'accounts_org_email_key', table: 'accounts' },
    { code: '23502', table: 'accounts', columns: ['email'] }
  ], 'logged with the code Citus sent, under the distributed table\'s names')
})

t.test('withTransaction: retryOn names the distributed table\'s constraint, whatever shard and code Citus reports', async (t) => {
  for (const capture of ['relayedUnique', 'copyUnique'] as const) {
    const counters = new ConflictCounters()
    let attempts = 0
    await withTransaction(db.pool, async () => {
      if (++attempts === 1) throw CAPTURED[capture]()
    }, { retryOn: ['accounts_org_email_key'], counters })
    t.equal(attempts, 2, `${capture}: retried`)
    t.same(counters.snapshot(), { accounts_org_email_key: { retried: 1, recovered: 1, gaveUp: 0 } }, `${capture}: counted under that name`)
  }
})

t.test('a name Citus shortened for its shards: the index whose name it starts, when DETAIL shows its keys', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { pool: db.pool, catalog: { schemas: [db.schema] }, expose: { constraint: true } })
  let capture: CaptureName = 'relayedShortened'
  app.post('/', async () => { throw CAPTURED[capture]() })
  t.same((await app.inject({ method: 'POST', url: '/' })).json(), {
    statusCode: 409, code: 'PG_UNIQUE_VIOLATION', error: 'Conflict', message: 'A record with this org_id and alias already exists.',
    fields: ['org_id', 'alias'], constraint: 'aliases_org_id_and_alias_with_a_name_long_enoug_eba58027'
  }, 'the fields from DETAIL, confirmed by the catalog; Citus\'s name without the shard id')
  await db.exec(`ALTER TABLE aliases DROP CONSTRAINT ${LONG_NAME}; ALTER TABLE aliases ADD CONSTRAINT ${LONG_NAME} UNIQUE (alias)`)
  const { app: other } = buildApp(t)
  await other.register(fastifyPgConflict, { pool: db.pool, catalog: { schemas: [db.schema] } })
  other.post('/', async () => { throw CAPTURED[capture]() })
  t.same((await other.inject({ method: 'POST', url: '/' })).json().fields, [], 'keys the index does not have: no fields')
  capture = 'relayedUnique'
  t.equal((await other.inject({ method: 'POST', url: '/' })).json().fields.length, 2, 'a name that was not shortened is looked up as it is')
})

t.test('the same constraint in two schemas read: a relayed error names no schema, and DETAIL confirmed by both gives the fields', async (t) => {
  const twin = await testDatabase(t, 'citus_answers_twin')
  await twin.exec('CREATE TABLE accounts (org_id int, email text, CONSTRAINT accounts_org_email_key UNIQUE (org_id, email))')
  const answer = async (schemas: string[]): Promise<Record<string, unknown>> => {
    const { app } = buildApp(t)
    await app.register(fastifyPgConflict, { pool: db.pool, catalog: { schemas }, expose: { constraint: true } })
    app.post('/', async () => { throw CAPTURED.relayedUnique() })
    return (await app.inject({ method: 'POST', url: '/' })).json()
  }
  t.same(await answer([db.schema, twin.schema]), {
    statusCode: 409, code: 'PG_UNIQUE_VIOLATION', error: 'Conflict', message: 'A record with this org_id and email already exists.',
    fields: ['org_id', 'email'], constraint: 'accounts_org_email_key'
  }, 'no table: which of the two is not known')
  await twin.exec('ALTER TABLE accounts DROP CONSTRAINT accounts_org_email_key; ALTER TABLE accounts ADD CONSTRAINT accounts_org_email_key UNIQUE (email)')
  t.same((await answer([db.schema, twin.schema])).fields, [], 'one of them has other keys: no fields')
})
