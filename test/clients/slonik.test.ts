// Slonik (`slonik` 47, the last major that declares Node.js 20): a
// UniqueIntegrityConstraintViolationError with Slonik's own `constraint`, `table` and `column`
// but no `code` (48 and later add `columns` and `detail`); the driver's DatabaseError is on `cause`.
import t from 'tap'
import pg from 'pg'
import { createPool, sql, UniqueIntegrityConstraintViolationError } from 'slonik'
import { databaseUrl } from '../helpers/db.js'
import { checkClient, clientDatabase } from './helpers.js'

const db = await clientDatabase(t, 'slonik')
const pool = await createPool(databaseUrl(), { maximumPoolSize: 2 })
t.teardown(() => pool.end())

// Schema-qualified identifiers: the pool knows nothing of the test file's schema.
const table = (name: string): ReturnType<typeof sql.identifier> => sql.identifier([db.schema, name])

await checkClient(t, db, {
  insertUser: (email) => pool.query(sql.unsafe`INSERT INTO ${table('users')} (email) VALUES (${email})`),
  insertTeam: (orgId, name) => pool.query(sql.unsafe`INSERT INTO ${table('teams')} (org_id, name) VALUES (${orgId}, ${name})`)
}, {
  thrown (t, error, table) {
    t.type(error, UniqueIntegrityConstraintViolationError, 'a UniqueIntegrityConstraintViolationError')
    const e = error as UniqueIntegrityConstraintViolationError
    t.notOk('code' in e, 'no code of its own')
    t.type(e.cause, pg.DatabaseError, 'the pg DatabaseError on cause')
    t.match(e, { constraint: table === 'users' ? 'users_email_key' : 'teams_org_id_name_key', table }, "Slonik's own constraint and table, copied from the driver's error")
  }
})
