// Every kind of unique violation the issue lists, raised by real PostgreSQL through a real Fastify
// app, answered by the plugin: once with the catalog (a pool) and once from DETAIL alone.
import t from 'tap'
import type pg from 'pg'
import fastifyPgConflict from '../../src/index.js'
import { buildApp } from '../helpers/app.js'
import { testDatabase } from '../helpers/db.js'

const db = await testDatabase(t, 'cases')
const role = `fpc_limited_${process.pid}`

await db.exec(`
  CREATE TABLE users (id serial PRIMARY KEY, email text UNIQUE);
  CREATE TABLE teams (org_id int, name text, UNIQUE (org_id, name));
  CREATE TABLE pairs (a text, b text, UNIQUE (a, b));
  CREATE TABLE "Odd Table" ("Org Id" int, "a)=(b" text, "x, y" text, CONSTRAINT "odd ""key""" UNIQUE ("Org Id", "a)=(b", "x, y"));
  CREATE TABLE members (org_id int, email text);
  CREATE UNIQUE INDEX members_org_lower_email ON members (org_id, lower(email));
  CREATE TABLE accounts (handle text, deleted_at timestamptz);
  CREATE UNIQUE INDEX accounts_live_handle ON accounts (lower(handle)) WHERE deleted_at IS NULL;
  CREATE TABLE docs (data jsonb);
  CREATE UNIQUE INDEX docs_slug ON docs ((data ->> 'slug'));
  CREATE TABLE codes (code text, label text, CONSTRAINT codes_code_key UNIQUE (code) INCLUDE (label));
  CREATE TABLE seats (row_no int, seat int, CONSTRAINT seats_row_seat UNIQUE NULLS NOT DISTINCT (row_no, seat));
  CREATE TABLE slots (slot int, CONSTRAINT slots_slot_key UNIQUE (slot) DEFERRABLE INITIALLY DEFERRED);
  CREATE TABLE events (tenant int, id int, note text, UNIQUE (tenant, id)) PARTITION BY LIST (tenant);
  CREATE TABLE events_1 PARTITION OF events FOR VALUES IN (1);
  CREATE TABLE secrets (id int, email text, CONSTRAINT secrets_email_key UNIQUE (email));
  CREATE TABLE notes (id int, author text, CONSTRAINT notes_author_key UNIQUE (author));
  ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
  CREATE POLICY notes_insert ON notes FOR INSERT WITH CHECK (true);
  CREATE POLICY notes_select ON notes FOR SELECT USING (false);
  DROP ROLE IF EXISTS ${role};
  CREATE ROLE ${role};
  GRANT USAGE ON SCHEMA ${db.schema} TO ${role};
  GRANT INSERT ON secrets TO ${role};
  GRANT SELECT (id) ON secrets TO ${role};
  GRANT INSERT, SELECT ON notes TO ${role};
`)
t.teardown(async () => {
  await db.exec(`DROP SCHEMA IF EXISTS ${db.schema} CASCADE; DROP ROLE IF EXISTS ${role}`)
})

interface Expected {
  constraint: string | undefined
  table: string | undefined
  fields: string[]
  values: Record<string, string> | undefined
}

interface Case {
  name: string
  /** Statements run in one session; one of them fails. */
  sql: string[]
  expected: Expected
  /** What differs when only DETAIL is there to read. */
  fromDetail?: Partial<Expected>
}

const HUGE = 'x'.repeat(100_000)

const cases: Case[] = [
  {
    name: 'single column',
    sql: ["INSERT INTO users (email) VALUES ('ada@example.com')"],
    expected: { constraint: 'users_email_key', table: 'users', fields: ['email'], values: { email: 'ada@example.com' } }
  },
  {
    name: 'primary key',
    sql: ["INSERT INTO users (id, email) VALUES (1, 'someone@example.com')"],
    expected: { constraint: 'users_pkey', table: 'users', fields: ['id'], values: { id: '1' } }
  },
  {
    name: 'values holding ", ", ")=(", a newline, and nothing',
    sql: ["INSERT INTO users (email) VALUES (E'a, b)=(c) already exists. Key (d\\ne')"],
    expected: { constraint: 'users_email_key', table: 'users', fields: ['email'], values: { email: 'a, b)=(c) already exists. Key (d\ne' } }
  },
  {
    name: 'an empty value',
    sql: ["INSERT INTO users (email) VALUES ('')"],
    expected: { constraint: 'users_email_key', table: 'users', fields: ['email'], values: { email: '' } }
  },
  {
    name: 'a 100 KB value',
    sql: [`INSERT INTO users (email) VALUES ('${HUGE}')`],
    expected: { constraint: 'users_email_key', table: 'users', fields: ['email'], values: { email: HUGE } }
  },
  {
    name: 'composite key, a value holding ", " next to a number',
    sql: ["INSERT INTO teams VALUES (7, 'Research, EMEA')"],
    expected: { constraint: 'teams_org_id_name_key', table: 'teams', fields: ['org_id', 'name'], values: { org_id: '7', name: 'Research, EMEA' } },
    // Without the key types, "7, Research, EMEA" could split either way: the values stay unknown.
    fromDetail: { values: undefined }
  },
  {
    name: 'composite text key, a value holding ", " (ambiguous even with the catalog)',
    sql: ["INSERT INTO pairs VALUES ('x, y', 'z')"],
    expected: { constraint: 'pairs_a_b_key', table: 'pairs', fields: ['a', 'b'], values: undefined }
  },
  {
    name: 'quoted identifiers holding spaces, ")=(" and ", ", and a quoted constraint name',
    sql: [`INSERT INTO "Odd Table" VALUES (1, 'p', 'q')`],
    expected: { constraint: 'odd "key"', table: 'Odd Table', fields: ['Org Id', 'a)=(b', 'x, y'], values: { 'Org Id': '1', 'a)=(b': 'p', 'x, y': 'q' } }
  },
  {
    name: 'expression index with a column beside it',
    sql: ["INSERT INTO members VALUES (1, 'ADA@example.com')"],
    // lower(email)'s value is not what the client sent for email: only org_id's value is shown.
    expected: { constraint: 'members_org_lower_email', table: 'members', fields: ['org_id', 'email'], values: { org_id: '1' } }
  },
  {
    name: 'partial expression index (the WHERE column is not a key)',
    sql: ["INSERT INTO accounts VALUES ('Grace', NULL)"],
    expected: { constraint: 'accounts_live_handle', table: 'accounts', fields: ['handle'], values: undefined }
  },
  {
    name: 'expression on a jsonb key',
    sql: [`INSERT INTO docs VALUES ('{"slug": "hello"}')`],
    expected: { constraint: 'docs_slug', table: 'docs', fields: ['data'], values: undefined }
  },
  {
    name: 'INCLUDE columns are not part of the key',
    sql: ["INSERT INTO codes VALUES ('c1', 'another label')"],
    expected: { constraint: 'codes_code_key', table: 'codes', fields: ['code'], values: { code: 'c1' } }
  },
  {
    name: 'NULLS NOT DISTINCT',
    sql: ['INSERT INTO seats VALUES (1, NULL)'],
    expected: { constraint: 'seats_row_seat', table: 'seats', fields: ['row_no', 'seat'], values: { row_no: '1', seat: 'null' } }
  },
  {
    name: 'deferred constraint raised at COMMIT',
    sql: ['BEGIN', 'INSERT INTO slots VALUES (5)', 'INSERT INTO slots VALUES (5)', 'COMMIT'],
    expected: { constraint: 'slots_slot_key', table: 'slots', fields: ['slot'], values: { slot: '5' } }
  },
  {
    name: 'partitioned table: reported as the parent table and its index',
    sql: ["INSERT INTO events VALUES (1, 1, 'again')"],
    expected: { constraint: 'events_tenant_id_key', table: 'events', fields: ['tenant', 'id'], values: { tenant: '1', id: '1' } },
    fromDetail: { constraint: 'events_1_tenant_id_key', table: 'events_1' }
  },
  {
    name: 'DETAIL withheld: no SELECT privilege on the key column',
    sql: [`SET ROLE ${role}`, "INSERT INTO secrets VALUES (2, 'ada@example.com')"],
    expected: { constraint: 'secrets_email_key', table: 'secrets', fields: ['email'], values: undefined },
    fromDetail: { fields: [] }
  },
  {
    name: 'DETAIL withheld: row-level security',
    sql: [`SET ROLE ${role}`, "INSERT INTO notes VALUES (2, 'ada')"],
    expected: { constraint: 'notes_author_key', table: 'notes', fields: ['author'], values: undefined },
    fromDetail: { fields: [] }
  },
  {
    name: 'unique_violation raised by PL/pgSQL, with no constraint',
    sql: ["DO $$ BEGIN RAISE unique_violation USING MESSAGE = 'name taken'; END $$"],
    expected: { constraint: undefined, table: undefined, fields: [], values: undefined }
  }
]

const seed = `
  INSERT INTO users (email) VALUES ('ada@example.com'), (E'a, b)=(c) already exists. Key (d\\ne'), (''), ('${HUGE}');
  INSERT INTO teams VALUES (7, 'Research, EMEA');
  INSERT INTO pairs VALUES ('x, y', 'z');
  INSERT INTO "Odd Table" VALUES (1, 'p', 'q');
  INSERT INTO members VALUES (1, 'ada@example.com');
  INSERT INTO accounts VALUES ('grace', NULL), ('grace', now());
  INSERT INTO docs VALUES ('{"slug": "hello"}');
  INSERT INTO codes VALUES ('c1', 'label');
  INSERT INTO seats VALUES (1, NULL);
  INSERT INTO slots VALUES (5);
  INSERT INTO events VALUES (1, 1, 'first');
  INSERT INTO secrets VALUES (1, 'ada@example.com');
  INSERT INTO notes VALUES (1, 'ada');
`
await db.exec(seed)

/** Runs statements in one session, the way an application's transaction would, and cleans the session up. */
async function runSession (pool: pg.Pool, statements: string[]): Promise<void> {
  const client = await pool.connect()
  try {
    for (const sql of statements) await client.query(sql)
  } finally {
    await client.query('ROLLBACK; RESET ALL; RESET ROLE').catch(() => {})
    client.release()
  }
}

for (const withCatalog of [true, false]) {
  t.test(withCatalog ? 'with the catalog' : 'from DETAIL alone', async (t) => {
    const { app, logs } = buildApp(t)
    await app.register(fastifyPgConflict, {
      ...(withCatalog ? { pool: db.pool, catalog: { schemas: [db.schema] } } : { catalog: false }),
      expose: { values: true, constraint: true }
    })
    app.post<{ Body: { sql: string[] } }>('/run', async (request) => {
      await runSession(db.pool, request.body.sql)
      return { ok: true }
    })
    await app.ready()

    for (const c of cases) {
      const expected = { ...c.expected, ...(withCatalog ? {} : c.fromDetail) }
      const response = await app.inject({ method: 'POST', url: '/run', payload: { sql: c.sql } })
      const body = response.json()
      t.equal(response.statusCode, 409, `${c.name}: 409`)
      t.same(body.fields, expected.fields, `${c.name}: fields`)
      t.equal(body.constraint, expected.constraint, `${c.name}: constraint`)
      t.equal(body.table, expected.table, `${c.name}: table`)
      t.same(body.values, expected.values, `${c.name}: values`)
      t.equal(body.code, 'PG_UNIQUE_VIOLATION', `${c.name}: code`)
    }
    const lines = logs.filter((line) => line.msg === 'unique violation')
    t.equal(lines.length, cases.length, 'one log line per conflict')
  })
}

t.test('the default body names fields and nothing else: no values, no internal names', async (t) => {
  const { app, logs } = buildApp(t)
  await app.register(fastifyPgConflict, { pool: db.pool, catalog: { schemas: [db.schema] } })
  app.post('/users', async () => { await runSession(db.pool, [`INSERT INTO users (email) VALUES ('${HUGE}')`]) })
  await app.ready()
  const response = await app.inject({ method: 'POST', url: '/users' })
  t.equal(response.statusCode, 409)
  t.same(response.json(), {
    statusCode: 409,
    code: 'PG_UNIQUE_VIOLATION',
    error: 'Conflict',
    message: 'A record with this email already exists.',
    fields: ['email']
  })
  t.equal(response.headers['content-type'], 'application/json; charset=utf-8')
  const line = logs.find((l) => l.msg === 'unique violation')
  t.match(line, { level: 30, conflict: { constraint: 'users_email_key', table: 'users', fields: ['email'], values: '[redacted]' } })
  t.notOk(JSON.stringify(logs).includes(HUGE.slice(0, 100)), 'the value is in no log line')
})

t.test('DETAIL translated by lc_messages reads the same', async (t) => {
  const client = await db.pool.connect()
  const locale = await (async () => {
    for (const candidate of ['de_DE.UTF-8', 'de_DE.utf8', 'fr_FR.UTF-8', 'ja_JP.UTF-8']) {
      try {
        await client.query(`SET lc_messages = '${candidate}'`)
        return candidate
      } catch {}
    }
    return undefined
  })()
  const error = await client.query("INSERT INTO teams VALUES (7, 'Research, EMEA')").catch((e: pg.DatabaseError) => e)
  await client.query('RESET lc_messages')
  client.release()
  if (locale === undefined) {
    t.plan(0, 'no German, French or Japanese locale on the server: create one (localedef --no-archive -i de_DE -f UTF-8 de_DE.UTF-8) to run this test')
    return
  }
  if (!(error instanceof Error) || / already exists/.test(String((error as pg.DatabaseError).detail))) {
    t.plan(0, `the server accepts lc_messages = ${locale} but has no translated messages (a build without NLS)`)
    return
  }
  t.comment(`DETAIL in ${locale}: ${(error as pg.DatabaseError).detail}`)

  for (const withCatalog of [true, false]) {
    const { app } = buildApp(t)
    await app.register(fastifyPgConflict, withCatalog ? { pool: db.pool, catalog: { schemas: [db.schema] } } : { catalog: false })
    app.post('/teams', async () => {
      await runSession(db.pool, [`SET lc_messages = '${locale}'`, "INSERT INTO teams VALUES (7, 'Research, EMEA')"])
    })
    const response = await app.inject({ method: 'POST', url: '/teams' })
    t.equal(response.statusCode, 409)
    t.same(response.json().fields, ['org_id', 'name'], `fields ${withCatalog ? 'with' : 'without'} the catalog`)
  }
})
