// Every way a unique, foreign-key, not-null or check violation reaches an application on Citus,
// answered by the plugin connected to the coordinator: the exact body (constraint and table
// exposed, to show they are the distributed table's), the path Citus took (the routine of the
// error it raised), no shard name and no value in the answer.
import type { Test } from 'tap'
import { from as copyFrom } from 'pg-copy-streams'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import fastifyPgConflict from '../../src/index.js'
import { buildApp, INFO } from '../helpers/app.js'
import { citusSchema } from './cluster.js'

/** How Citus raised the error: relayed from a worker, relayed by its COPY, its own planner's, or PostgreSQL's on the coordinator. */
type Routine = 'ReportResultError' | 'ReportCopyError' | 'BuildRoutesForInsert' | 'ShardIdForTuple'

interface Case {
  name: string
  /** Statements run in one session (the last fails); or `copy`: rows for COPY accounts FROM STDIN. */
  sql?: string[]
  copy?: string
  routine: Routine
  status: number
  body: Record<string, unknown>
}

const unique = (fields: string[], constraint: string, table: string): Record<string, unknown> => ({
  statusCode: 409, code: 'PG_UNIQUE_VIOLATION', error: 'Conflict', message: `A record with this ${fields.join(' and ')} already exists.`, fields, constraint, table
})
const foreignKey = (fields: string[], constraint: string, table: string): Record<string, unknown> => ({
  statusCode: 422, code: 'PG_FOREIGN_KEY_VIOLATION', error: 'Unprocessable Entity', message: `The record referenced by ${fields.join(' and ')} does not exist.`, fields, constraint, table
})
const referenced = (fields: string[], constraint: string, table: string): Record<string, unknown> => ({
  statusCode: 409, code: 'PG_STILL_REFERENCED', error: 'Conflict', message: 'The record is still referenced by other records.', fields, constraint, table
})
const notNull = (field: string, table: string): Record<string, unknown> => ({
  statusCode: 422, code: 'PG_NOT_NULL_VIOLATION', error: 'Unprocessable Entity', message: `A value for ${field} is required.`, fields: [field], table
})
const check = (field: string, constraint: string, table: string): Record<string, unknown> => ({
  statusCode: 422, code: 'PG_CHECK_VIOLATION', error: 'Unprocessable Entity', message: `The value of ${field} is not allowed.`, fields: [field], constraint, table
})

const exclusion = (fields: string[], constraint: string, table: string): Record<string, unknown> => ({
  statusCode: 409, code: 'PG_EXCLUSION_VIOLATION', error: 'Conflict', message: `This ${fields.slice(0, -1).join(', ')} and ${fields.at(-1) as string} conflicts with an existing record.`, fields, constraint, table
})

const EMAIL = unique(['org_id', 'email'], 'accounts_org_email_key', 'accounts')
const ACCOUNT_PKEY = unique(['org_id', 'id'], 'accounts_pkey', 'accounts')
const ORG_FK = foreignKey(['org_id'], 'accounts_org_id_fkey', 'accounts')
const EMAIL_NOT_NULL = notNull('email', 'accounts')
const AGE_CHECK = check('age', 'accounts_age_check', 'accounts')
const OVERLAP = exclusion(['org_id', 'room', 'seats'], 'rooms_no_overlap', 'rooms')

/** The values the seeded rows hold: none may appear in an answer. */
const VALUES = ['ada@example.com', 'bob@example.com', 'cy@example.com', 'eve@example.com', 'Here', 'There']

export async function paths (t: Test, url: string): Promise<void> {
  const db = await citusSchema(t, url, 'paths')
  // (A table is distributed before a table referencing it is created: Citus refuses a local table's foreign key to a distributed one.)
  await db.exec('CREATE TABLE orgs (id int PRIMARY KEY, name text NOT NULL CONSTRAINT orgs_name_key UNIQUE)')
  await db.reference('orgs')
  await db.exec(`CREATE TABLE accounts (org_id int NOT NULL REFERENCES orgs, id bigint, email text NOT NULL, age int CHECK (age >= 0),
    PRIMARY KEY (org_id, id), CONSTRAINT accounts_org_email_key UNIQUE (org_id, email))`)
  await db.distribute('accounts', 'org_id')
  await db.exec(`CREATE TABLE projects (org_id int NOT NULL, id int, account_id bigint, PRIMARY KEY (org_id, id),
    CONSTRAINT projects_account_fk FOREIGN KEY (org_id, account_id) REFERENCES accounts (org_id, id))`)
  await db.distribute('projects', 'org_id', 'accounts') // colocated: the foreign key between them may hold
  await db.exec('CREATE TABLE imports (k int, org_id int, id bigint, email text, age int)')
  await db.distribute('imports', 'k') // another distribution column: INSERT … SELECT from it cannot be pushed down
  await db.exec(`CREATE EXTENSION IF NOT EXISTS btree_gist SCHEMA ${db.schema}`)
  await db.exec('CREATE TABLE rooms (org_id int, room int, seats int4range, CONSTRAINT rooms_no_overlap EXCLUDE USING gist (org_id WITH =, room WITH =, seats WITH &&))')
  await db.distribute('rooms', 'org_id', 'accounts')
  await db.exec('CREATE TABLE slugs (org_id int, slug text, CONSTRAINT slugs_slug_key UNIQUE (org_id, slug) DEFERRABLE INITIALLY DEFERRED)')
  await db.distribute('slugs', 'org_id', 'accounts')
  // Two organisations whose shards are on different workers.
  const { here, there } = await db.spread('accounts')
  await db.exec(`
    INSERT INTO orgs VALUES (${here}, 'Here'), (${there}, 'There');
    INSERT INTO accounts VALUES (${here}, 1, 'ada@example.com', 36), (${here}, 2, 'eve@example.com', 28),
      (${there}, 1, 'bob@example.com', 41), (${there}, 2, 'cy@example.com', 30);
    INSERT INTO projects VALUES (${here}, 1, 1);
    INSERT INTO imports VALUES (1, ${here}, 9, 'ada@example.com', 20), (2, ${there}, 9, 'new@example.com', -5),
      (3, 999, 9, 'new@example.com', 1), (4, ${here}, 9, NULL, 1);
    INSERT INTO slugs VALUES (${here}, 'a'), (${there}, 'a');
    INSERT INTO rooms VALUES (${here}, 1, '[1,10)');
  `)

  const { app, logs } = buildApp(t)
  await app.register(fastifyPgConflict, { pool: db.pool, catalog: { schemas: [db.schema] }, expose: { constraint: true } })
  let current: Case | undefined
  const seen: { error?: Record<string, unknown> | undefined } = {}
  app.post('/', async () => {
    const client = await db.pool.connect()
    try {
      const { sql, copy } = current as Case
      if (copy !== undefined) await pipeline(Readable.from([copy]), client.query(copyFrom('COPY accounts (org_id, id, email, age) FROM STDIN')))
      for (const statement of sql ?? []) await client.query(statement)
      return { ok: true }
    } catch (error) {
      seen.error = error as Record<string, unknown>
      throw error
    } finally {
      await client.query('ROLLBACK').catch(() => {}) // (a transaction the case began)
      client.release()
    }
  })

  const CASES: Case[] = [
    // Router statements: one shard.
    { name: 'router INSERT, unique key', sql: [`INSERT INTO accounts VALUES (${here}, 3, 'ada@example.com', 20)`], routine: 'ReportResultError', status: 409, body: EMAIL },
    { name: 'router INSERT, primary key', sql: [`INSERT INTO accounts VALUES (${here}, 1, 'new@example.com', 20)`], routine: 'ReportResultError', status: 409, body: ACCOUNT_PKEY },
    { name: 'router UPDATE of a unique key', sql: [`UPDATE accounts SET email = 'ada@example.com' WHERE org_id = ${here} AND id = 2`], routine: 'ReportResultError', status: 409, body: EMAIL },
    { name: 'router UPDATE of the primary key', sql: [`UPDATE accounts SET id = 1 WHERE org_id = ${here} AND id = 2`], routine: 'ReportResultError', status: 409, body: ACCOUNT_PKEY },
    { name: 'router INSERT, not null', sql: [`INSERT INTO accounts VALUES (${here}, 3, NULL, 20)`], routine: 'ReportResultError', status: 422, body: EMAIL_NOT_NULL },
    { name: 'router INSERT, check', sql: [`INSERT INTO accounts VALUES (${here}, 3, 'new@example.com', -1)`], routine: 'ReportResultError', status: 422, body: AGE_CHECK },
    { name: 'router INSERT, exclusion constraint', sql: [`INSERT INTO rooms VALUES (${here}, 1, '[5,15)')`], routine: 'ReportResultError', status: 409, body: OVERLAP },
    // Several shards.
    { name: 'multi-row INSERT over both workers', sql: [`INSERT INTO accounts VALUES (${here}, 3, 'new@example.com', 1), (${there}, 3, 'bob@example.com', 1)`], routine: 'ReportResultError', status: 409, body: EMAIL },
    { name: 'multi-shard UPDATE, unique key', sql: ["UPDATE accounts SET email = 'same@example.com'"], routine: 'ReportResultError', status: 409, body: EMAIL },
    { name: 'multi-shard UPDATE, check', sql: ['UPDATE accounts SET age = -1'], routine: 'ReportResultError', status: 422, body: AGE_CHECK },
    // INSERT … SELECT pushed down to the shards (same table, same distribution column).
    { name: 'INSERT … SELECT pushed down, unique key', sql: [`INSERT INTO accounts SELECT org_id, id + 10, email, age FROM accounts WHERE org_id = ${here}`], routine: 'ReportResultError', status: 409, body: EMAIL },
    { name: 'INSERT … SELECT pushed down, check', sql: ['INSERT INTO accounts SELECT org_id, id + 10, email || \'.x\', -age FROM accounts'], routine: 'ReportResultError', status: 422, body: AGE_CHECK },
    // INSERT … SELECT pulled to the coordinator (a LIMIT) or repartitioned (another distribution column): through COPY.
    { name: 'INSERT … SELECT pulled to the coordinator, unique key', sql: ['INSERT INTO accounts SELECT org_id, id + 10, email, age FROM accounts ORDER BY org_id, id LIMIT 1'], routine: 'ReportCopyError', status: 409, body: EMAIL },
    { name: 'INSERT … SELECT pulled to the coordinator, foreign key', sql: ["INSERT INTO accounts SELECT 999, 9, 'new@example.com', 1 FROM accounts LIMIT 1"], routine: 'ReportCopyError', status: 422, body: ORG_FK },
    { name: 'INSERT … SELECT repartitioned, unique key', sql: ['INSERT INTO accounts SELECT org_id, id, email, age FROM imports WHERE k = 1'], routine: 'ReportCopyError', status: 409, body: EMAIL },
    { name: 'INSERT … SELECT repartitioned, check', sql: ['INSERT INTO accounts SELECT org_id, id, email, age FROM imports WHERE k = 2'], routine: 'ReportCopyError', status: 422, body: AGE_CHECK },
    { name: 'INSERT … SELECT repartitioned, foreign key', sql: ['INSERT INTO accounts SELECT org_id, id, email, age FROM imports WHERE k = 3'], routine: 'ReportCopyError', status: 422, body: ORG_FK },
    { name: 'INSERT … SELECT repartitioned, not null', sql: ['INSERT INTO accounts SELECT org_id, id, email, age FROM imports WHERE k = 4'], routine: 'ReportCopyError', status: 422, body: EMAIL_NOT_NULL },
    { name: 'INSERT … SELECT pulled to the coordinator, exclusion constraint', sql: ['INSERT INTO rooms SELECT org_id, room, seats FROM rooms LIMIT 1'], routine: 'ReportCopyError', status: 409, body: OVERLAP },
    // COPY into the distributed table.
    { name: 'COPY, unique key', copy: `${here}\t9\tada@example.com\t20\n`, routine: 'ReportCopyError', status: 409, body: EMAIL },
    { name: 'COPY, the same key twice in one batch', copy: `${there}\t9\tnew@example.com\t20\n${there}\t10\tnew@example.com\t20\n`, routine: 'ReportCopyError', status: 409, body: EMAIL },
    { name: 'COPY, foreign key', copy: '999\t9\tnew@example.com\t20\n', routine: 'ReportCopyError', status: 422, body: ORG_FK },
    { name: 'COPY, not null', copy: `${here}\t9\t\\N\t20\n`, routine: 'ReportCopyError', status: 422, body: EMAIL_NOT_NULL },
    { name: 'COPY, check', copy: `${here}\t9\tnew@example.com\t-1\n`, routine: 'ReportCopyError', status: 422, body: AGE_CHECK },
    // A NULL distribution column: Citus refuses it before any shard; it names no column.
    {
      name: 'INSERT with a NULL distribution column', sql: ["INSERT INTO accounts VALUES (NULL, 9, 'new@example.com', 20)"], routine: 'BuildRoutesForInsert', status: 422,
      body: { statusCode: 422, code: 'PG_NOT_NULL_VIOLATION', error: 'Unprocessable Entity', message: 'A required value is missing.', fields: [] }
    },
    {
      name: 'COPY with a NULL distribution column', copy: '\\N\t9\tnew@example.com\t20\n', routine: 'ShardIdForTuple', status: 422,
      body: { statusCode: 422, code: 'PG_NOT_NULL_VIOLATION', error: 'Unprocessable Entity', message: 'A required value is missing.', fields: [] }
    },
    // A reference table (a copy on every node).
    { name: 'reference table, primary key', sql: [`INSERT INTO orgs VALUES (${here}, 'Other')`], routine: 'ReportResultError', status: 409, body: unique(['id'], 'orgs_pkey', 'orgs') },
    { name: 'reference table, unique key', sql: ["INSERT INTO orgs VALUES (999, 'Here')"], routine: 'ReportResultError', status: 409, body: unique(['name'], 'orgs_name_key', 'orgs') },
    { name: 'reference table, not null', sql: ['INSERT INTO orgs VALUES (999, NULL)'], routine: 'ReportResultError', status: 422, body: notNull('name', 'orgs') },
    // Foreign keys: to a reference table (the one kind between tables not colocated that Citus allows), and between colocated tables.
    { name: 'foreign key to a reference table, missing row', sql: [`INSERT INTO accounts VALUES (999, 9, 'new@example.com', 20)`], routine: 'ReportResultError', status: 422, body: ORG_FK },
    { name: 'foreign key to a reference table, row still referenced', sql: [`DELETE FROM orgs WHERE id = ${here}`], routine: 'ReportResultError', status: 409, body: referenced(['id'], 'accounts_org_id_fkey', 'orgs') },
    { name: 'colocated foreign key, missing row', sql: [`INSERT INTO projects VALUES (${here}, 2, 99)`], routine: 'ReportResultError', status: 422, body: foreignKey(['org_id', 'account_id'], 'projects_account_fk', 'projects') },
    { name: 'colocated foreign key, row still referenced', sql: [`DELETE FROM accounts WHERE org_id = ${here} AND id = 1`], routine: 'ReportResultError', status: 409, body: referenced(['org_id', 'id'], 'projects_account_fk', 'accounts') },
    // A distributed transaction spanning both workers.
    {
      name: 'a transaction over both workers, its second statement violating',
      sql: ['BEGIN', `INSERT INTO accounts VALUES (${here}, 7, 'new@example.com', 1)`, `INSERT INTO accounts VALUES (${there}, 7, 'bob@example.com', 1)`],
      routine: 'ReportResultError', status: 409, body: EMAIL
    },
    {
      name: 'a deferred unique constraint over both workers, violated at COMMIT (two-phase commit)',
      sql: ['BEGIN', `INSERT INTO slugs VALUES (${here}, 'a')`, `INSERT INTO slugs VALUES (${there}, 'b')`, 'COMMIT'],
      routine: 'ReportResultError', status: 409, body: unique(['org_id', 'slug'], 'slugs_slug_key', 'slugs')
    }
  ]

  for (const c of CASES) {
    t.test(c.name, async (t) => {
      current = c
      seen.error = undefined
      logs.length = 0
      const response = await app.inject({ method: 'POST', url: '/' })
      const error = seen.error as Record<string, unknown> | undefined // (set by the route)
      t.equal(error?.routine, c.routine, `Citus took the expected path (${c.routine})`)
      t.equal(response.statusCode, c.status)
      t.same(response.json(), c.body, 'the exact answer')
      t.notMatch(response.body, /_\d{6,}/, 'no shard name')
      for (const value of VALUES) t.notOk(response.body.includes(value), `no value (${value})`)
      const logged = logs.find((l) => l.level === INFO && l.conflict !== undefined)?.conflict as Record<string, unknown> | undefined
      t.match(logged, { constraint: c.body.constraint, table: c.body.table }, "logged under the distributed table's names")
      t.equal(logged?.values, c.body.code === 'PG_UNIQUE_VIOLATION' ? '[redacted]' : undefined, 'values redacted in the log')
    })
  }

  t.test('the transaction over both workers left nothing behind', async (t) => {
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM accounts WHERE id = 7')
    t.equal(rows[0].n, 0, 'the first worker\'s insert was rolled back with the second\'s')
  })

  t.test('what Citus refuses, answered as it is (500): no integrity error', async (t) => {
    const moved = await db.errorOf(`UPDATE accounts SET org_id = ${there} WHERE org_id = ${here} AND id = 2`)
    t.match(moved, { code: '0A000', message: 'modifying the partition value of rows is not allowed' }, 'an UPDATE of the distribution column')
    current = { name: 'move', sql: [`UPDATE accounts SET org_id = ${there} WHERE org_id = ${here} AND id = 2`], routine: 'ReportResultError', status: 500, body: {} }
    const response = await app.inject({ method: 'POST', url: '/' })
    t.equal(response.statusCode, 500, 'left to the application\'s error handler')
    const notColocated = await db.errorOf('ALTER TABLE imports ADD CONSTRAINT imports_account_fk FOREIGN KEY (org_id, id) REFERENCES accounts (org_id, id)')
    t.match(notColocated, { code: '0A000', message: 'cannot create foreign key constraint since relations are not colocated or not referencing a reference table' },
      'a foreign key between distributed tables that are not colocated is refused when it is created')
  })

  t.test('a deferred unique constraint on one worker, violated at COMMIT: Citus reports the failed commit, not the violation (500)', async (t) => {
    const client = await db.pool.connect()
    const notices: string[] = []
    client.on('notice', (notice) => { notices.push(notice.message ?? '') })
    t.teardown(() => { client.release() })
    await client.query('BEGIN')
    await client.query(`INSERT INTO slugs VALUES (${here}, 'a')`)
    const error = await client.query('COMMIT').then(() => undefined, (e: unknown) => e as Record<string, unknown>)
    t.match(error, { code: 'XX000', routine: 'ErrorIfPostCommitFailedShardPlacements', message: /^could not commit transaction for shard \d+ on at least one active node$/ })
    t.ok(notices.some((m) => m.startsWith('duplicate key value violates unique constraint "slugs_slug_key_')), 'the violation itself only as a WARNING')
  })
}
