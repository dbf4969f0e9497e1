// The catalog on the coordinator (distributed and reference tables, indexes and constraints made
// after distribution, names Citus had to shorten), the same through a worker (local execution),
// and the sequence check and repair on a distributed table's bigserial.
import type { Test } from 'tap'
import fastifyPgConflict, { checkSequence, repairSequence, resetSequences } from '../../src/index.js'
import { readTableConstraints, readUniqueIndexes } from '../../src/catalog/catalog.js'
import { buildApp, ERROR, WARN } from '../helpers/app.js'
import { citusSchema } from './cluster.js'
import { CAPTURES, createScenario, LONG_NAME, raise, type CaptureName } from './scenario.js'

const SHARD_NAME = /_\d{6,}$/

export async function catalog (t: Test, url: string): Promise<void> {
  const db = await citusSchema(t, url, 'catalog')
  await createScenario(db)
  const { here } = await db.spread('accounts')

  t.test('the catalog on the coordinator holds the distributed and reference tables\' own names, no shard\'s', async (t) => {
    const indexes = await readUniqueIndexes(db.pool, [db.schema])
    t.same(indexes.map((i) => `${i.table}.${i.name}`).sort(), ['accounts.accounts_org_email_key', 'accounts.accounts_pkey', `aliases.${LONG_NAME}`, 'orgs.orgs_pkey', 'rooms.rooms_no_overlap'])
    t.same(indexes.find((i) => i.name === 'accounts_org_email_key')?.columns, ['org_id', 'email'])
    const constraints = await readTableConstraints(db.pool, [db.schema])
    t.same(constraints.map((c) => `${c.table}.${c.name}`).sort(), ['accounts.accounts_age_check', 'accounts.accounts_org_id_fkey'])
    t.notOk([...indexes, ...constraints].some((c) => SHARD_NAME.test(c.name) || SHARD_NAME.test(c.table)),
      'not the shards of accounts, nor the coordinator\'s own copy of the reference table (Citus hides them)')
  })

  t.test('indexes and constraints made after distribution are found when first violated', async (t) => {
    const { app } = buildApp(t)
    await app.register(fastifyPgConflict, { pool: db.pool, catalog: { schemas: [db.schema], minRefreshInterval: 0 }, expose: { constraint: true } })
    let sql = ''
    app.post('/', async () => { await db.pool.query(sql) })
    const answer = async (statement: string): Promise<Record<string, unknown>> => {
      sql = statement
      return (await app.inject({ method: 'POST', url: '/' })).json()
    }
    await app.ready() // the catalog is read before the DDL below
    // One statement at a time: Citus takes ADD CONSTRAINT alone in an ALTER TABLE, and DDL alone in a query.
    for (const statement of [
      'ALTER TABLE accounts ADD COLUMN nickname text',
      'ALTER TABLE accounts ADD CONSTRAINT accounts_nickname_key UNIQUE (org_id, nickname)',
      'ALTER TABLE accounts ADD CONSTRAINT accounts_nickname_length CHECK (length(nickname) < 20)',
      'CREATE UNIQUE INDEX accounts_org_lower_email_idx ON accounts (org_id, lower(email))',
      "UPDATE accounts SET nickname = 'ada' WHERE id = 1"
    ]) await db.exec(statement)
    t.match(await answer(`INSERT INTO accounts (org_id, id, email, nickname) VALUES (${here}, 5, 'new@example.com', 'ada')`),
      { statusCode: 409, fields: ['org_id', 'nickname'], constraint: 'accounts_nickname_key', table: 'accounts' }, 'a unique constraint added')
    t.match(await answer(`INSERT INTO accounts (org_id, id, email) VALUES (${here}, 5, 'ADA@example.com')`),
      { statusCode: 409, fields: ['org_id', 'email'], constraint: 'accounts_org_lower_email_idx', table: 'accounts' }, 'an expression index created, its column read from the expression')
    t.match(await answer(`INSERT INTO accounts (org_id, id, email, nickname) VALUES (${here}, 5, 'new@example.com', repeat('x', 30))`),
      { statusCode: 422, fields: ['nickname'], constraint: 'accounts_nickname_length', table: 'accounts' }, 'a check constraint added')
  })

  t.test('a constraint name Citus shortens for its shards: fields from DETAIL, under Citus\'s shortened name, which a prefix rule matches', async (t) => {
    const long = 'accounts_org_id_and_a_rather_long_column_name_for_an_alias_key' // 62 bytes: no room for `_<shard id>`
    await db.exec('ALTER TABLE accounts ADD COLUMN a_rather_long_column_name_for_an_alias text')
    await db.exec(`ALTER TABLE accounts ADD CONSTRAINT ${long} UNIQUE (org_id, a_rather_long_column_name_for_an_alias)`)
    await db.exec("UPDATE accounts SET a_rather_long_column_name_for_an_alias = 'x' WHERE id = 1")
    const { app } = buildApp(t)
    await app.register(fastifyPgConflict, {
      pool: db.pool,
      catalog: { schemas: [db.schema] },
      expose: { constraint: true },
      constraints: [{ constraint: 'accounts_org_id_and_a_rather_long_column_name_', match: 'prefix', message: 'That alias is taken.' }]
    })
    app.post('/', async () => { await db.pool.query(`INSERT INTO accounts (org_id, id, email, a_rather_long_column_name_for_an_alias) VALUES (${here}, 6, 'alias@example.com', 'x')`) })
    const body = (await app.inject({ method: 'POST', url: '/' })).json()
    t.match(body, { statusCode: 409, message: 'That alias is taken.', fields: ['org_id', 'a_rather_long_column_name_for_an_alias'] })
    t.match(body.constraint, /^accounts_org_id_and_a_rather_long_column_nam\w*_[0-9a-f]{8}$/, 'Citus\'s shortened name, the same on every shard (a hash of the name), without the shard id')
    t.notMatch(JSON.stringify(body), /_\d{6,}/, 'no shard id')
  })

  t.test('the same table in two schemas the catalog reads: a relayed error names no schema, so the lookup cannot choose', async (t) => {
    const twin = await citusSchema(t, url, 'catalog_twin')
    await twin.exec('CREATE TABLE accounts (org_id int, email text, age int CHECK (age >= 0), CONSTRAINT accounts_org_email_key UNIQUE (org_id, email))')
    await twin.distribute('accounts', 'org_id')
    const { app } = buildApp(t)
    await app.register(fastifyPgConflict, { pool: db.pool, catalog: { schemas: [db.schema, twin.schema] }, expose: { constraint: true } })
    let sql = ''
    app.post('/', async () => { await db.pool.query(sql) })
    const answer = async (statement: string): Promise<Record<string, unknown>> => {
      sql = statement
      return (await app.inject({ method: 'POST', url: '/' })).json()
    }
    t.same(await answer(`INSERT INTO accounts (org_id, id, email) VALUES (1, 9, 'ada@example.com')`), {
      statusCode: 409, code: 'PG_UNIQUE_VIOLATION', error: 'Conflict', message: 'A record with this org_id and email already exists.', fields: ['org_id', 'email'], constraint: 'accounts_org_email_key'
    }, 'unique: the fields from DETAIL, no table')
    t.match(await answer(`INSERT INTO accounts (org_id, id, email, age) VALUES (1, 9, 'new@example.com', -1)`), { statusCode: 422, fields: [] }, 'check: no fields')
  })

  t.test('through a worker (local execution): unique and foreign-key violations as on the coordinator; not-null and check keep the shard\'s table', async (t) => {
    const worker = db.newPool({ port: await db.workerOf('accounts', 1) })
    const names = async (pool: typeof worker): Promise<string[]> => (await readUniqueIndexes(pool, [db.schema])).map((i) => `${i.table}.${i.name}`).sort()
    t.same(await names(worker), await names(db.pool), 'the worker\'s catalog: the coordinator\'s names')
    const { app } = buildApp(t)
    await app.register(fastifyPgConflict, { pool: worker, catalog: { schemas: [db.schema] }, expose: { constraint: true } })
    let name: CaptureName = 'localUnique'
    app.post('/', async () => { throw await raise(worker, CAPTURES[name]) })
    const answer = async (capture: CaptureName): Promise<Record<string, unknown>> => {
      name = capture
      return (await app.inject({ method: 'POST', url: '/' })).json()
    }
    t.match(await answer('localUnique'), { statusCode: 409, fields: ['org_id', 'email'], constraint: 'accounts_org_email_key', table: 'accounts' })
    t.match(await answer('localForeignKey'), { statusCode: 422, fields: ['org_id'], constraint: 'accounts_org_id_fkey', table: 'accounts' })
    const notNull = await answer('localNotNull')
    t.match(notNull, { statusCode: 422, fields: ['email'] }, 'not null: the column is right')
    t.match(notNull.table, SHARD_NAME, 'but the table is the shard\'s, which nothing in the error tells from a table of yours named so (docs/citus.md)')
    t.match(await answer('localCheck'), { statusCode: 422, fields: [], constraint: 'accounts_age_check' }, 'check: found on no table of the catalog, so no fields (docs/citus.md)')
  })

  t.test('sequences', async (t) => {
    // Rows imported with explicit ids; the sequences left at 1.
    await db.exec(`
      CREATE TABLE events (id bigserial PRIMARY KEY, kind text);
      CREATE TABLE notes (org_id int, id bigserial, body text, PRIMARY KEY (org_id, id));
    `)
    await db.distribute('events', 'id') // distributed by its id: a single-column key
    await db.distribute('notes', 'org_id', 'accounts') // a tenant's table: the key includes the tenant
    const imported = async (): Promise<void> => {
      await db.exec(`TRUNCATE events, notes; SELECT setval('events_id_seq', 1, false), setval('notes_id_seq', 1, false);
        INSERT INTO events SELECT g, 'imported' FROM generate_series(1, 5) g; INSERT INTO notes SELECT ${here}, g, 'imported' FROM generate_series(1, 5) g`)
    }
    const target = (table: string): { schema: string, table: string, column: string } => ({ schema: db.schema, table, column: 'id' })

    t.test('checkSequence and repairSequence on the coordinator: the lock and setval work on a distributed table', async (t) => {
      await imported()
      t.match(await checkSequence(db.pool, target('events')), { lastValue: '1', isCalled: false, max: '5', behind: true, collides: true, fixSql: `SELECT setval('${db.schema}.events_id_seq', 5)` })
      t.match(await repairSequence(db.pool, target('notes')), { before: '1', after: '5', moved: true }, 'a tenant table\'s bigserial too')
      t.match(await checkSequence(db.pool, target('notes')), { behind: false, collides: false })
    })

    t.test('the plugin on a table distributed by its bigserial: the fault is a 500 with the fix logged; repairSequences serves the request', async (t) => {
      await imported()
      const { app, logs } = buildApp(t)
      await app.register(fastifyPgConflict, { pool: db.pool, catalog: { schemas: [db.schema] }, sequenceCheckInterval: 0 })
      app.post('/events', async (request, reply) => reply.code(201).send((await db.pool.query("INSERT INTO events (kind) VALUES ('new') RETURNING id")).rows[0]))
      t.equal((await app.inject({ method: 'POST', url: '/events' })).statusCode, 500, 'not the client\'s fault')
      t.match(logs.find((l) => l.level === ERROR && l.sequence !== undefined), { sequence: { name: `${db.schema}.events_id_seq`, max: '5', fix: `SELECT setval('${db.schema}.events_id_seq', 5)` } })

      const repairing = buildApp(t)
      await repairing.app.register(fastifyPgConflict, { pool: db.pool, catalog: { schemas: [db.schema] }, repairSequences: true })
      repairing.app.post('/events', async (request, reply) => reply.code(201).send((await db.pool.query("INSERT INTO events (kind) VALUES ('new') RETURNING id")).rows[0]))
      const served = await repairing.app.inject({ method: 'POST', url: '/events' })
      t.equal(served.statusCode, 201)
      t.same(served.json(), { id: '6' }, 'the sequence moved past the maximum, the insert run again')
      t.ok(repairing.logs.some((l) => l.level === WARN && l.msg.includes('repaired the sequence')))
    })

    t.test('a tenant table\'s key includes the tenant: a collision there is answered as a conflict (the watch looks at single-column keys)', async (t) => {
      await imported()
      const { app } = buildApp(t)
      await app.register(fastifyPgConflict, { pool: db.pool, catalog: { schemas: [db.schema] }, repairSequences: true })
      app.post('/notes', async () => { await db.pool.query("INSERT INTO notes (org_id, body) VALUES ($1, 'new')", [here]) })
      const response = await app.inject({ method: 'POST', url: '/notes' })
      t.match(response.json(), { statusCode: 409, fields: ['org_id', 'id'] }, 'use checkSequence or resetSequences after an import (docs/citus.md)')
      t.match(await resetSequences(db.pool, { schema: db.schema }), [{ table: 'events', fixed: true }, { table: 'notes', fixed: true }])
    })

    t.test('rows inserted through a worker take ids from that worker\'s own range (from 2^48): the coordinator\'s check then reads behind, without a collision', async (t) => {
      await imported()
      await repairSequence(db.pool, target('notes'))
      const worker = db.newPool({ port: await db.workerOf('notes', here) })
      const { rows } = await worker.query("INSERT INTO notes (org_id, body) VALUES ($1, 'through a worker') RETURNING id", [here])
      t.ok(BigInt(rows[0].id) > 2n ** 48n, `the worker's id: ${String(rows[0].id)}`)
      t.match(await checkSequence(db.pool, target('notes')), { lastValue: '5', behind: true, collides: false },
        'resetSequences would move the coordinator\'s sequence into the worker\'s range: do not run it on such a table (docs/citus.md)')
      t.match(await checkSequence(worker, target('notes')), { behind: false }, 'the worker\'s own sequence is not behind')
    })

    t.test('a repair waits for the table\'s lock on the shards at most lockTimeout', async (t) => {
      await imported()
      const holder = await db.pool.connect()
      t.teardown(async () => {
        await holder.query('ROLLBACK')
        holder.release()
      })
      await holder.query('BEGIN')
      await holder.query("UPDATE events SET kind = 'held' WHERE id = 1")
      await t.rejects(repairSequence(db.pool, target('events'), { lockTimeout: 100 }), { code: '55P03' })
      t.match(await checkSequence(db.pool, target('events')), { lastValue: '1', behind: true }, 'nothing changed')
    })
  })
}
