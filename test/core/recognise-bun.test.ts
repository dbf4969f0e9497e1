// Bun.SQL's errors (src/core/recognise.ts, madeBy's `bun`), under Node: copies of the errors Bun
// threw (test/helpers/bun-errors.ts; test/bun/runtime.test.ts runs the real ones under Bun).
// Bun keeps the SQLSTATE in `errno` and its own `ERR_POSTGRES_SERVER_ERROR` in `code`.
import t from 'tap'
import { findIntegrityError, findPgError } from '../../src/core/recognise.js'
import { BUN_ERRORS, bunConnectionError, bunPostgresError } from '../helpers/bun-errors.js'

t.test('every kind of Bun.SQL server error is recognised, with its fields', async (t) => {
  const expected = {
    unique: { code: '23505', constraint: 'users_email_key', table: 'users', schema: 'app', detail: 'Key (email)=(a@x) already exists.' },
    foreignKey: { code: '23503', constraint: 'posts_user_id_fkey', table: 'posts', schema: 'app' },
    notNull: { code: '23502', column: 'email', table: 'users', constraint: undefined },
    check: { code: '23514', constraint: 'users_age_check', table: 'users' },
    exclusion: { code: '23P01', constraint: 'rooms_room_during_excl', table: 'rooms' },
    serialization: { code: '40001', hint: 'The transaction might succeed if retried.', table: undefined }
  }
  for (const [kind, make] of Object.entries(BUN_ERRORS)) {
    const error = make()
    const found = findIntegrityError(error)
    t.equal(found?.kind, kind, `${kind}: its kind`)
    t.match(found?.error, { ...expected[kind as keyof typeof expected], message: error.message }, `${kind}: SQLSTATE from errno, the other fields by name`)
    t.equal(found?.error.error, error, `${kind}: read from Bun's error itself`)
  }
})

t.test('a Bun.SQL error under a wrapper is found', async (t) => {
  const error = BUN_ERRORS.unique()
  t.equal(findPgError(new Error('saving the user failed', { cause: error }))?.constraint, 'users_email_key', 'on cause')
})

t.test('what Bun.SQL did not raise from the server is not believed', async (t) => {
  const json = JSON.stringify({ ...BUN_ERRORS.unique(), message: 'duplicate key value violates unique constraint "users_email_key"' })
  class SQLError extends Error {}
  class PostgresError extends SQLError {}
  const notBun = (fields: Record<string, unknown>): Error => Object.assign(new PostgresError('x'), fields)
  const cases: Array<[string, unknown]> = [
    ['its connection error (ERR_POSTGRES_CONNECTION_REFUSED, no errno)', bunConnectionError()],
    ['a plain object with Bun\'s fields, thrown by a handler', JSON.parse(json)],
    ['Bun\'s fields copied onto an Error', Object.assign(new Error('upstream failed'), JSON.parse(json))],
    ['Bun\'s fields on cause', new Error('upstream failed', { cause: JSON.parse(json) })],
    ['a JSON body whose "__proto__" names PostgresError, copied onto an Error',
      Object.assign(new Error('x'), JSON.parse(`${json.slice(0, -1)},"__proto__":{"constructor":{"name":"PostgresError"}}}`))],
    ['a server error whose errno is not a SQLSTATE', bunPostgresError('x', { errno: '2350' })],
    ['a server error without severity', Object.assign(BUN_ERRORS.unique(), { severity: undefined })],
    ['a PostgresError with another code than Bun\'s server error', Object.assign(BUN_ERRORS.unique(), { code: 'ERR_POSTGRES_SYNTAX_ERROR' })],
    ['a PostgresError whose class does not extend SQLError, with Bun\'s fields',
      Object.assign(new (class PostgresError extends Error {})('x'), { code: 'ERR_POSTGRES_SERVER_ERROR', errno: '23505', severity: 'ERROR' })],
    ['Bun\'s code inherited, not its own', Object.assign(Object.create(Object.assign(Object.create(PostgresError.prototype), { code: 'ERR_POSTGRES_SERVER_ERROR' })), { errno: '23505', severity: 'ERROR' })]
  ]
  const bunFields = { code: 'ERR_POSTGRES_SERVER_ERROR', errno: '23505', severity: 'ERROR' }
  class Orphan {}
  Object.defineProperty(Orphan, 'name', { value: 'PostgresError' })
  Object.setPrototypeOf(Orphan.prototype, null)
  cases.push(['a PostgresError class with nothing above it', Object.assign(new Orphan(), bunFields)])
  class Between extends Error {}
  Object.defineProperty(Between, 'name', { value: 'PostgresError' })
  Object.setPrototypeOf(Between.prototype, Object.create(SQLError.prototype)) // a parent prototype owning no constructor
  cases.push(['a PostgresError class whose parent prototype has no constructor of its own', Object.assign(new Between('x'), bunFields)])
  for (const [name, value] of cases) t.equal(findPgError(value), undefined, `not believed: ${name}`)
  t.ok(findPgError(notBun({ code: 'ERR_POSTGRES_SERVER_ERROR', errno: '23505', severity: 'ERROR' })), '(the same layout on a PostgresError extending a SQLError is)')
})
