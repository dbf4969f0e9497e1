// Messages and field names kept in the database (docs/comments.md), on the real server: each kind
// with a constraint, a partition's, the configuration over the comment, a comment changed, a DBA's
// mistakes said once, a least-privilege role, the Express middleware, and no query per error.
import t, { type Test } from 'tap'
import express from 'express'
import type { FastifyInstance } from 'fastify'
import type pg from 'pg'
import fastifyPgConflict, { snakeToCamel, type FastifyPgConflictOptions, type Queryable } from '../../src/index.js'
import { pgConflict } from '../../src/adapters/express.js'
import { buildApp, WARN } from '../helpers/app.js'
import { testDatabase } from '../helpers/db.js'
import { listen, request } from '../helpers/express.js'
import { appRole } from '../helpers/roles.js'

const db = await testDatabase(t, 'comments')
await db.exec(`
  CREATE TABLE orgs (id int PRIMARY KEY);
  CREATE TABLE users (id serial PRIMARY KEY, email text CONSTRAINT users_email_key UNIQUE, org_id int CONSTRAINT users_org_fk REFERENCES orgs,
    age int CONSTRAINT users_age_check CHECK (age >= 18), nick text, login text CONSTRAINT users_login_key UNIQUE);
  CREATE UNIQUE INDEX users_nick_idx ON users (lower(nick));
  CREATE TABLE rooms (id serial PRIMARY KEY, during int4range, CONSTRAINT rooms_no_overlap EXCLUDE USING gist (during WITH &&));
  CREATE TABLE events (tenant int, code text, ref text, n int CONSTRAINT events_n_check CHECK (n >= 0), org int CONSTRAINT events_org_fk REFERENCES orgs,
    CONSTRAINT events_code_key UNIQUE (tenant, code), CONSTRAINT events_ref_key UNIQUE (tenant, ref)) PARTITION BY LIST (tenant);
  CREATE TABLE events_1 PARTITION OF events FOR VALUES IN (1);
  INSERT INTO orgs VALUES (1);
  INSERT INTO users (email, org_id, nick, login) VALUES ('ada@example.com', 1, 'Ada', 'ada');
  INSERT INTO rooms (during) VALUES ('[1,10)');
  INSERT INTO events VALUES (1, 'x');
  COMMENT ON CONSTRAINT users_email_key ON users IS E'Who may sign up twice: nobody.\\n@message An account with this email exists already.\\n@fields emailAddress';
  COMMENT ON INDEX users_nick_idx IS '@message This nickname is taken.';
  COMMENT ON CONSTRAINT users_org_fk ON users IS E'@message No such organisation.\\n@fields organisation';
  COMMENT ON CONSTRAINT users_age_check ON users IS '@error You have to be at least 18.';
  COMMENT ON CONSTRAINT rooms_no_overlap ON rooms IS E'@message The room is booked then.\\n@fields period';
  COMMENT ON CONSTRAINT events_code_key ON events IS '@message This code is used in this tenant already.';
  COMMENT ON CONSTRAINT events_n_check ON events IS '@message n must not be negative.';
  COMMENT ON CONSTRAINT events_org_fk ON events IS E'@message No such organisation for this event.\n@error Twice.';
  COMMENT ON CONSTRAINT events_ref_key ON events IS '@fields bad name';
  COMMENT ON CONSTRAINT users_login_key ON users IS 'Free text, mail dba@example.com: no tag.';
  COMMENT ON CONSTRAINT users_pkey ON users IS E'@fields user id\\n@message ${'x'.repeat(501)}';
`)

const SQL = {
  email: "INSERT INTO users (email) VALUES ('ada@example.com')",
  nick: "INSERT INTO users (nick) VALUES ('ADA')",
  org: 'INSERT INTO users (org_id) VALUES (99)',
  referenced: 'DELETE FROM orgs WHERE id = 1',
  age: 'INSERT INTO users (age) VALUES (7)',
  room: "INSERT INTO rooms (during) VALUES ('[5,7)')",
  event: "INSERT INTO events VALUES (1, 'x')",
  eventN: "INSERT INTO events (tenant, n) VALUES (1, -1)",
  eventOrg: 'INSERT INTO events (tenant, org) VALUES (1, 99)',
  login: "INSERT INTO users (login) VALUES ('ada')",
  pkey: 'INSERT INTO users (id) VALUES (1)',
  // Tables the tests make later.
  tag: "INSERT INTO tags VALUES ('a')",
  later: "INSERT INTO later VALUES ('a'), ('a')",
  note: "INSERT INTO notes VALUES ('a')"
} as const

/** An app with the plugin on `pool` (the suite's by default), routes running each SQL, its logs kept. */
async function appWith (t: Test, options: Partial<FastifyPgConflictOptions> = {}, pool: Queryable = db.pool, more?: (app: FastifyInstance) => void) {
  const built = buildApp(t)
  await built.app.register(fastifyPgConflict, { pool, catalog: { schemas: [db.schema] }, ...options })
  for (const [name, sql] of Object.entries(SQL)) built.app.post(`/${name}`, async () => { await db.pool.query(sql) })
  more?.(built.app)
  await built.app.ready()
  const post = async (name: keyof typeof SQL): Promise<{ status: number, message: string, fields: string[] }> => {
    const response = await built.app.inject({ method: 'POST', url: `/${name}` })
    const body = response.json()
    return { status: response.statusCode, message: body.message, fields: body.fields }
  }
  return { ...built, post }
}

t.test('every kind with a constraint answers with what its comment says', async (t) => {
  const { post } = await appWith(t)
  t.same(await post('email'), { status: 409, message: 'An account with this email exists already.', fields: ['emailAddress'] },
    'a unique constraint: @message and @fields, the free text before them left alone')
  t.same(await post('nick'), { status: 409, message: 'This nickname is taken.', fields: ['nick'] }, 'a unique index (COMMENT ON INDEX): its fields still from the catalog')
  t.same(await post('org'), { status: 422, message: 'No such organisation.', fields: ['organisation'] }, 'a foreign key')
  t.same(await post('referenced'), { status: 409, message: 'The record is still referenced by other records.', fields: ['id'] },
    'not for a row still referenced: the comment speaks of the referencing side')
  t.same(await post('age'), { status: 422, message: 'You have to be at least 18.', fields: ['age'] }, 'a check constraint, with @error (constraint-error-tags\' tag)')
  t.same(await post('room'), { status: 409, message: 'The room is booked then.', fields: ['period'] }, 'an exclusion constraint')
  t.same(await post('event'), { status: 409, message: 'This code is used in this tenant already.', fields: ['tenant', 'code'] },
    'a partition\'s index (events_1_tenant_code_key) answers with its partitioned table\'s constraint\'s comment')
  t.same(await post('eventN'), { status: 422, message: 'n must not be negative.', fields: ['n'] },
    'a partition\'s check (an inherited copy, no comment of its own): its partitioned table\'s comment')
  t.same(await post('eventOrg'), { status: 422, message: 'No such organisation for this event.', fields: ['org'] },
    'a partition\'s foreign key (a clone): its partitioned table\'s comment')
  t.same(await post('login'), { status: 409, message: 'A record with this login already exists.', fields: ['login'] }, 'free text is left alone')
  t.same(await post('pkey'), { status: 409, message: 'A record with this id already exists.', fields: ['id'] }, 'tags of ours that are wrong are ignored')
})

t.test('the configuration is the application\'s word, over the comment', async (t) => {
  const { app, post } = await appWith(t, {
    fieldName: snakeToCamel,
    constraints: [{ constraint: 'users_nick_idx', message: 'Rule message.', fields: ['nickname'] }],
    errors: { check: { message: 'Kind message.' } }
  }, db.pool, (app) => {
    app.post('/route', { config: { conflict: { constraints: [{ constraint: 'users_email_key', message: 'Route rule.' }] } } }, async () => { await db.pool.query(SQL.email) })
  })
  t.same(await post('email'), { status: 409, message: 'An account with this email exists already.', fields: ['emailAddress'] },
    '@fields are API names as they are: fieldName does not rename them')
  t.same(await post('nick'), { status: 409, message: 'Rule message.', fields: ['nickname'] }, 'a plugin rule over the comment')
  t.same(await post('age'), { status: 422, message: 'Kind message.', fields: ['age'] }, 'errors.<kind>.message over the comment')
  t.same(await post('org'), { status: 422, message: 'No such organisation.', fields: ['organisation'] }, 'where the configuration is silent, the comment')
  const route = (await app.inject({ method: 'POST', url: '/route' })).json()
  t.same([route.message, route.fields], ['Route rule.', ['emailAddress']], 'a route rule\'s message over the comment; the comment\'s fields still where the rule has none')

  const plugin = await appWith(t, { message: 'Plugin message.', fields: ['plugin'] })
  t.same(await plugin.post('email'), { status: 409, message: 'Plugin message.', fields: ['plugin'] }, 'the plugin-wide message and fields (a unique violation\'s) too')
  t.same(await plugin.post('org'), { status: 422, message: 'No such organisation.', fields: ['organisation'] }, 'which are not another kind\'s')
})

/** A pool counting the queries made through it. */
function counting (pool: pg.Pool): Queryable & { queries: number } {
  const counter = {
    queries: 0,
    query: async (text: string, values?: unknown[]) => {
      counter.queries++
      return await pool.query(text, values)
    }
  }
  return counter
}

t.test('read with the catalog: no query of its own per error; a changed comment is read with the catalog, as renames are', async (t) => {
  await db.exec("CREATE TABLE tags (slug text CONSTRAINT tags_slug_key UNIQUE); INSERT INTO tags VALUES ('a'); COMMENT ON CONSTRAINT tags_slug_key ON tags IS '@message Before.'")
  const pool = counting(db.pool)
  const { app } = await appWith(t, {}, pool)
  const message = async (): Promise<string> => (await app.inject({ method: 'POST', url: '/tag' })).json().message
  t.equal(await message(), 'Before.')
  const before = pool.queries // (the first conflict on a table checks its id sequences, once an interval)
  t.equal(await message(), 'Before.')
  t.equal(pool.queries, before, 'the steady state: no query')
  await db.exec("COMMENT ON CONSTRAINT tags_slug_key ON tags IS '@message After.'")
  t.equal(await message(), 'Before.', 'COMMENT ON makes no new object: the catalog\'s version is the same, and the cached comment answers')
  await app.pgConflict.refresh()
  t.equal(await message(), 'After.', 'read again (app.pgConflict.refresh(), or any change to the constraints read): the new comment')
  await db.exec('COMMENT ON CONSTRAINT tags_slug_key ON tags IS NULL; CREATE TABLE later (code text CONSTRAINT later_code_key UNIQUE)')
  t.same((await app.inject({ method: 'POST', url: '/later' })).json().fields, ['code'], 'a constraint made since: the catalog is read again')
  t.equal(await message(), 'A record with this slug already exists.', 'and with it the comment dropped')
})

t.test('what is wrong with a tag is said once, with the constraint it is on', async (t) => {
  const { app, logs } = await appWith(t)
  await app.pgConflict.refresh()
  const warnings = logs.filter((line) => line.level === WARN && line.msg.includes('comment')).map((line) => line.msg)
  t.same(warnings.sort(), [ // a partitioned table's once, for it and its partitions
    `fastify-pg-conflict: the comment on ${db.schema}.events's events_org_fk: @error is given more than once: only the first counts`,
    `fastify-pg-conflict: the comment on ${db.schema}.events's events_ref_key: @fields has "bad name", which is not a field name (a letter, _ or $, then letters, digits, _, $, - or .; at most 63): ignored`,
    `fastify-pg-conflict: the comment on ${db.schema}.users's users_pkey: @fields has "user id", which is not a field name (a letter, _ or $, then letters, digits, _, $, - or .; at most 63): ignored`,
    `fastify-pg-conflict: the comment on ${db.schema}.users's users_pkey: @message is longer than 500 characters: ignored`
  ], 'once each, though the catalog was read twice')
})

t.test('a comment of any size, with any bytes, never breaks the answer', async (t) => {
  await db.exec(`
    CREATE TABLE notes (title text CONSTRAINT notes_title_key UNIQUE); INSERT INTO notes VALUES ('a');
    COMMENT ON CONSTRAINT notes_title_key ON notes IS E'@message Say "hi" \\\\ </script>\\u0007 {\\n@fields title\\n${'free text '.repeat(200_000)}'`)
  const { app, logs } = await appWith(t)
  const response = await app.inject({ method: 'POST', url: '/note' })
  t.equal(response.statusCode, 409)
  t.same([response.json().message, response.json().fields], ['Say "hi" \\ </script>\u0007 {', ['title']], '2 MB of comment: the tags at its start read, the text as text')
  t.ok(logs.some((line) => line.level === WARN && line.msg.includes('notes_title_key: the comment is longer than 8192 characters')), 'the cut said')
})

t.test('a least-privilege role reads the comments', async (t) => {
  const role = await appRole(t, db, 'comments')
  const { post } = await appWith(t, {}, role.pool)
  t.same(await post('email'), { status: 409, message: 'An account with this email exists already.', fields: ['emailAddress'] })
})

t.test('the Express middleware answers the same', async (t) => {
  const app = express()
  app.post('/org', async () => { await db.pool.query(SQL.org) })
  const middleware = pgConflict({ pool: db.pool, catalog: { schemas: [db.schema] } })
  app.use(middleware)
  await middleware.ready()
  const reply = await request(`${await listen(t, app)}/org`)
  t.same([reply.status, reply.json.message, reply.json.fields], [422, 'No such organisation.', ['organisation']])
})
