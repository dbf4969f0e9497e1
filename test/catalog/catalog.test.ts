// Looking an index up when the error lost its schema: some wrappers keep only code and constraint.
import t from 'tap'
import type pg from 'pg'
import fastifyPgConflict from '../../src/index.js'
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
