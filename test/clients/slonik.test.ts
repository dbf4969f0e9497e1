// Slonik (`slonik`): a UniqueIntegrityConstraintViolationError with Slonik's own `constraint`,
// `table`, `columns` and `detail` but no `code`; the driver's DatabaseError is on `cause`.
import t from 'tap'
import pg from 'pg'
import { createPool, sql, UniqueIntegrityConstraintViolationError } from 'slonik'
import { databaseUrl } from '../helpers/db.js'
import { checkClient, clientDatabase } from './helpers.js'

// Slonik 48 and later declare Node.js 24 (engines) and call Promise.withResolvers (Node.js 22).
// This project supports Node.js 20, where that one standard ES2024 function is missing: it is
// filled in here (as the specification defines it), and only when missing, so that the current
// major is tested. Nothing else in the run needed a newer Node.js.
const promise = Promise as unknown as { withResolvers?: () => unknown }
promise.withResolvers ??= function withResolvers<T> () {
  let resolve!: (value: T) => void
  let reject!: (reason?: unknown) => void
  const created = new Promise<T>((yes, no) => { resolve = yes; reject = no })
  return { promise: created, resolve, reject }
}

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
    t.same(e.columns, table === 'users' ? ['email'] : ['org_id', 'name'], "Slonik's own columns, from DETAIL")
  }
})
