// The catalog against a real server: looking an index up when the error lost its schema, and
// names reused (a constraint made again under the same name, or made just after a lookup missed it).
import t from 'tap'
import type pg from 'pg'
import fastifyPgConflict, { type Queryable } from '../../src/index.js'
import { CATALOG_SQL, CATALOG_VERSION_SQL, queryWithoutJit } from '../../src/catalog/catalog.js'
import { buildApp } from '../helpers/app.js'
import { testDatabase } from '../helpers/db.js'
import { pgDatabaseError } from '../helpers/driver-errors.js'

const db = await testDatabase(t, 'catalog')
const other = `${db.schema}_other`
await db.exec(`
  CREATE TABLE users (email text CONSTRAINT users_email_key UNIQUE);
  CREATE TABLE badges (code text CONSTRAINT badges_code_key UNIQUE);
  INSERT INTO users VALUES ('ada@example.com');
  INSERT INTO badges VALUES ('gold');
  DROP SCHEMA IF EXISTS ${other} CASCADE;
  CREATE SCHEMA ${other};
  CREATE TABLE ${other}.users (login text CONSTRAINT users_email_key UNIQUE);
`)
t.teardown(() => db.exec(`DROP SCHEMA IF EXISTS ${other} CASCADE`))

/** The error with only its code and constraint name: no schema, no table, no DETAIL (as CockroachDB, or a server withholding DETAIL, sends it). */
function stripped (error: pg.DatabaseError): Error {
  return pgDatabaseError(error.message, { code: error.code, constraint: error.constraint })
}

t.test('an error without schema or DETAIL: the catalog finds the index by name when one schema has it, and does not guess otherwise', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { pool: db.pool, catalog: { schemas: [db.schema, other] } })
  app.post<{ Body: { sql: string } }>('/run', async (request) => {
    await db.pool.query(request.body.sql).catch((error: pg.DatabaseError) => { throw stripped(error) })
  })
  const badge = await app.inject({ method: 'POST', url: '/run', payload: { sql: "INSERT INTO badges VALUES ('gold')" } })
  t.equal(badge.statusCode, 409)
  t.same(badge.json().fields, ['code'], 'badges_code_key is in one schema: found')
  const user = await app.inject({ method: 'POST', url: '/run', payload: { sql: "INSERT INTO users VALUES ('ada@example.com')" } })
  t.equal(user.statusCode, 409)
  t.same(user.json().fields, [], 'users_email_key is in two schemas, over different columns: not guessed')
})

// ---------------------------------------------------------------------------------------------
// Names reused: a constraint dropped and made again under the same name, or made just after a
// lookup missed it. The first violation after the change is described by the new definition;
// in the steady state no query is made for errors whose DETAIL confirms the catalog, and a check
// violation (which has no key in DETAIL) costs one version query (two index probes), no read.
// ---------------------------------------------------------------------------------------------

/** A pool counting the catalog reads (the unique indexes query) and the version queries that go through it. */
function counting (pool: pg.Pool): Queryable & { reads: number, versions: number } {
  const counter = {
    reads: 0,
    versions: 0,
    query: async (text: string, values?: unknown[]) => {
      if (text === CATALOG_VERSION_SQL) counter.versions++
      else if (text.includes('indisunique')) counter.reads++
      return await pool.query(text, values)
    }
  }
  return counter
}

t.test('names reused: the first violation after the change is described by the new definition, with no query per request in the steady state', async (t) => {
  const reused = `${db.schema}_reused`
  await db.exec(`
    DROP SCHEMA IF EXISTS ${reused} CASCADE; CREATE SCHEMA ${reused};
    CREATE TABLE ${reused}.parents (id int PRIMARY KEY, code text UNIQUE);
    CREATE TABLE ${reused}.children (id serial PRIMARY KEY, parent_id int, parent_code text,
      CONSTRAINT children_parent_fk FOREIGN KEY (parent_id) REFERENCES ${reused}.parents (id));
    CREATE TABLE ${reused}.ranges (id serial PRIMARY KEY, low int, high int, CONSTRAINT ranges_rule CHECK (low >= 0));
    INSERT INTO ${reused}.parents VALUES (1, 'one'), (2, 'two');
    INSERT INTO ${reused}.children (parent_id, parent_code) VALUES (1, 'two');
  `)
  t.teardown(() => db.exec(`DROP SCHEMA IF EXISTS ${reused} CASCADE`))
  const pool = counting(db.pool)
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { pool, catalog: { schemas: [reused], minRefreshInterval: 60_000 }, expose: { constraint: true } })
  app.post<{ Body: { sql: string } }>('/run', async (request) => { await db.pool.query(request.body.sql) })
  await app.ready()
  const run = async (sql: string): Promise<{ status: number, body: { fields: string[], constraint?: string } }> => {
    const response = await app.inject({ method: 'POST', url: '/run', payload: { sql } })
    return { status: response.statusCode, body: response.json() }
  }
  const quiet = (): { reads: number, versions: number } => ({ reads: pool.reads, versions: pool.versions })

  await t.test('a foreign key made again on other columns: the side still referenced names the new ones', async (t) => {
    const deleteParent = `DELETE FROM ${reused}.parents WHERE id = 1`
    t.match(await run(deleteParent), { status: 409, body: { fields: ['id'], constraint: 'children_parent_fk' } }, 'before: the parent\'s id')
    const before = quiet()
    for (let i = 0; i < 5; i++) t.match(await run(deleteParent), { status: 409, body: { fields: ['id'] } })
    t.same(quiet(), before, 'steady state: DETAIL shows the key the catalog has, no query at all')
    await db.exec(`ALTER TABLE ${reused}.children DROP CONSTRAINT children_parent_fk,
      ADD CONSTRAINT children_parent_fk FOREIGN KEY (parent_code) REFERENCES ${reused}.parents (code)`)
    t.match(await run(`DELETE FROM ${reused}.parents WHERE id = 2`), { status: 409, body: { fields: ['code'], constraint: 'children_parent_fk' } },
      'after: the first violation names the new column')
    t.equal(pool.reads, before.reads + 1, 'one read, for the constraint DETAIL contradicted')
    t.match(await run(`INSERT INTO ${reused}.children (parent_code) VALUES ('none')`), { status: 422, body: { fields: ['parent_code'] } },
      'the referencing side too')
  })

  await t.test('a check constraint made again with a new expression: the first violation names its columns', async (t) => {
    t.match(await run(`INSERT INTO ${reused}.ranges (low, high) VALUES (-1, 5)`), { status: 422, body: { fields: ['low'], constraint: 'ranges_rule' } })
    const before = quiet()
    for (let i = 0; i < 5; i++) await run(`INSERT INTO ${reused}.ranges (low, high) VALUES (-1, 5)`)
    t.same(quiet(), { reads: before.reads, versions: before.versions + 5 }, 'steady state: one version query a violation (nothing in the error confirms a check), no read')
    await db.exec(`ALTER TABLE ${reused}.ranges DROP CONSTRAINT ranges_rule, ADD CONSTRAINT ranges_rule CHECK (high > low AND high < 100)`)
    const after = await run(`INSERT INTO ${reused}.ranges (low, high) VALUES (5, 1)`)
    t.equal(after.status, 422)
    t.same([...after.body.fields].sort(), ['high', 'low'], 'the first violation after the change: the new expression\'s columns')
    t.equal(pool.reads, before.reads + 1, 'one read, because the version changed')
  })

  await t.test('a constraint made within minRefreshInterval after a lookup missed it: the first violation after is described', async (t) => {
    const ghost = "DO $$ BEGIN RAISE unique_violation USING MESSAGE = 'taken', CONSTRAINT = 'late_email_key'; END $$"
    t.match(await run(ghost), { status: 409, body: { fields: [], constraint: 'late_email_key' } }, 'unknown: no fields')
    const missed = quiet()
    t.match(await run(ghost), { status: 409, body: { fields: [] } })
    t.equal(pool.reads, missed.reads, 'still unknown, the catalog unchanged: no read')
    await db.exec(`CREATE TABLE ${reused}.late (email text CONSTRAINT late_email_key UNIQUE); INSERT INTO ${reused}.late VALUES ('ada@example.com')`)
    t.match(await run(`INSERT INTO ${reused}.late VALUES ('ada@example.com')`), { status: 409, body: { fields: ['email'], constraint: 'late_email_key' } },
      'made a moment later, well within minRefreshInterval: found at its first violation')
    t.equal(pool.reads, missed.reads + 1)
  })

  await t.test('unique violations in the steady state: no query', async (t) => {
    const before = quiet()
    for (let i = 0; i < 10; i++) t.match(await run(`INSERT INTO ${reused}.late VALUES ('ada@example.com')`), { status: 409, body: { fields: ['email'] } })
    t.same(quiet(), before)
  })
})

t.test('catalog reads run without JIT compilation (which cost the server a second and more per read), and leave the session as it was', async (t) => {
  const client = await db.pool.connect()
  t.teardown(() => { client.release() })
  // As if the planner found every query worth compiling: the catalog read must still not be.
  await client.query('SET jit_above_cost = 0')
  const rows = await queryWithoutJit(client, "SELECT current_setting('jit') AS jit, $1::text[] AS schemas", [db.schema, "it's \\ odd"])
  t.same(rows, [{ jit: 'off', schemas: [db.schema, "it's \\ odd"] }], 'JIT off for the read, the schemas passed as they are')
  t.same((await queryWithoutJit(client, 'SELECT $1::text[] AS schemas', undefined)), [{ schemas: null }], 'no schemas: every schema')
  t.same((await client.query("SELECT current_setting('jit') AS jit, current_setting('jit_above_cost') AS cost")).rows, [{ jit: 'on', cost: '0' }],
    'the session keeps its own settings')
  const indexes = await queryWithoutJit(client, CATALOG_SQL, [db.schema])
  t.ok(indexes.length > 0, 'the catalog query itself runs that way')
})
