// Shared by the tests in test/clients/: each one raises real unique violations through a real
// PostgreSQL client or ORM, and checks that the plugin answers them (through a Fastify app) and
// that findPgError finds the PostgreSQL error in whatever the library threw.
import type { Test } from 'tap'
import { inspect } from 'node:util'
import fastifyPgConflict, { findPgError } from '../../src/index.js'
import { buildApp } from '../helpers/app.js'
import { testDatabase, type TestDatabase } from '../helpers/db.js'

/**
 * Two tables, each with a row already there: `users` with a single-column unique constraint,
 * `teams` with a composite one (`org_id`, `name`), both with a serial id.
 */
const TABLES = `
  CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL, CONSTRAINT users_email_key UNIQUE (email));
  CREATE TABLE teams (id serial PRIMARY KEY, org_id int NOT NULL, name text NOT NULL, CONSTRAINT teams_org_id_name_key UNIQUE (org_id, name));
  INSERT INTO users (email) VALUES ('ada@example.com');
  INSERT INTO teams (org_id, name) VALUES (7, 'Research');
`

/** A schema of the test file's own (`fpc_clients_<lib>_<pid>`), holding the two tables. */
export async function clientDatabase (t: Test, lib: string): Promise<TestDatabase> {
  const db = await testDatabase(t, `clients_${lib}`)
  await db.exec(TABLES)
  return db
}

/** The two inserts, done through the library under test. */
export interface ClientInserts {
  insertUser: (email: string) => Promise<unknown>
  insertTeam: (orgId: number, name: string) => Promise<unknown>
}

export interface ClientCheck {
  /** Asserts what the library threw is what it documents (its class, where the driver's error sits). */
  thrown: (t: Test, error: unknown, table: 'users' | 'teams') => void
  /** Whether the library's error keeps PostgreSQL's DETAIL (Prisma's does not). Default true. */
  detail?: boolean
  /** Whether the library's error keeps the schema name (Prisma's does not). Default true. */
  schema?: boolean
}

/** What `fn` throws (or rejects with); fails the test when it does not. */
export async function thrownBy (fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn()
  } catch (error) {
    return error
  }
  throw new Error('expected a unique violation, but the insert succeeded')
}

/** The error as a person reads it, for the test's output when an assertion fails. */
export function shapeOf (error: unknown): string {
  return inspect(error, { depth: 6, breakLength: 120 })
}

const DUPLICATES = {
  users: { constraint: 'users_email_key', detail: 'Key (email)=(ada@example.com) already exists.' },
  teams: { constraint: 'teams_org_id_name_key', detail: 'Key (org_id, name)=(7, Research) already exists.' }
} as const

/** Counts checkClient's runs, so that runs on the same tables insert new rows of their own. */
let runs = 0

/** Runs both checks: findPgError on the thrown error, and the plugin's answer through Fastify. */
export async function checkClient (t: Test, db: TestDatabase, inserts: ClientInserts, check: ClientCheck): Promise<void> {
  const run = ++runs
  const email = `grace.${run}@example.com`
  const team = `Sales ${run}`
  await t.test('findPgError finds the PostgreSQL error in what the library threw', async (t) => {
    const errors = {
      users: await thrownBy(() => inserts.insertUser('ada@example.com')),
      teams: await thrownBy(() => inserts.insertTeam(7, 'Research'))
    }
    for (const table of ['users', 'teams'] as const) {
      const error = errors[table]
      check.thrown(t, error, table)
      const found = findPgError(error)
      const expected = DUPLICATES[table]
      t.ok(found, `${table}: recognised`, { shape: shapeOf(error) })
      t.equal(found?.code, '23505', `${table}: code`)
      t.equal(found?.constraint, expected.constraint, `${table}: constraint`)
      t.equal(found?.table, table, `${table}: table`)
      if (check.schema !== false) t.equal(found?.schema, db.schema, `${table}: schema`)
      if (check.detail !== false) t.equal(found?.detail, expected.detail, `${table}: detail`)
    }
  })

  await t.test('through a Fastify app: 409 naming the fields, other inserts untouched', async (t) => {
    const { app } = buildApp(t)
    await app.register(fastifyPgConflict, { pool: db.pool, catalog: { schemas: [db.schema] } })
    app.post<{ Body: { email: string } }>('/users', async (request, reply) => {
      await inserts.insertUser(request.body.email)
      return reply.code(201).send({ ok: true })
    })
    app.post<{ Body: { orgId: number, name: string } }>('/teams', async (request, reply) => {
      await inserts.insertTeam(request.body.orgId, request.body.name)
      return reply.code(201).send({ ok: true })
    })
    await app.ready()

    const createdUser = await app.inject({ method: 'POST', url: '/users', payload: { email } })
    t.equal(createdUser.statusCode, 201, 'a new email is inserted', { body: createdUser.body })
    const createdTeam = await app.inject({ method: 'POST', url: '/teams', payload: { orgId: 7, name: team } })
    t.equal(createdTeam.statusCode, 201, 'a new team is inserted', { body: createdTeam.body })

    for (const [url, payload, fields] of [
      ['/users', { email: 'ada@example.com' }, ['email']],
      ['/users', { email }, ['email']],
      ['/teams', { orgId: 7, name: 'Research' }, ['org_id', 'name']],
      ['/teams', { orgId: 7, name: team }, ['org_id', 'name']]
    ] as const) {
      const response = await app.inject({ method: 'POST', url, payload })
      const body = response.json()
      t.equal(response.statusCode, 409, `${url} ${JSON.stringify(payload)}: 409`, { body })
      t.match(body, { statusCode: 409, code: 'PG_UNIQUE_VIOLATION', error: 'Conflict' }, `${url}: the plugin's body`)
      t.same(body.fields, fields, `${url}: fields`)
    }
  })
}
