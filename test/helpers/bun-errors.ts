// Bun.SQL's `PostgresError`, for the tests that run under Node (where Bun's classes do not exist):
// the same class layout (`PostgresError extends SQLError extends Error`, as in Bun's
// src/js/internal/sql/errors.ts) and the own fields Bun 1.4.5 set on the errors it threw for each
// kind against PostgreSQL. test/bun/runtime.test.ts checks, under the real `bun`, that Bun's own
// errors still have exactly this layout (BUN_ERROR_LAYOUT), so these copies stay true to them.

class SQLError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'SQLError'
  }
}

class PostgresError extends SQLError {
  constructor (message: string, fields: Record<string, string>) {
    super(message)
    this.name = 'PostgresError'
    Object.assign(this, fields)
  }
}

export type BunError = Error & Record<string, unknown>

/** The class names of a Bun.SQL server error's prototype chain, and its own keys in Bun's order, for a unique violation. */
export const BUN_ERROR_LAYOUT = {
  classes: ['PostgresError', 'SQLError', 'Error', 'Object'],
  uniqueKeys: ['message', 'stack', 'name', 'code', 'errno', 'detail', 'severity', 'schema', 'table', 'constraint', 'file', 'line', 'routine']
}

/** A Bun.SQL `PostgresError` for a server error: `code` is Bun's, the SQLSTATE is `errno`. */
export function bunPostgresError (message: string, fields: Record<string, string>): BunError {
  return new PostgresError(message, { code: 'ERR_POSTGRES_SERVER_ERROR', severity: 'ERROR', ...fields }) as unknown as BunError
}

/** The errors Bun 1.4.5 threw, per kind (schema `app`), as it printed their own fields. */
export const BUN_ERRORS = {
  unique: () => bunPostgresError('duplicate key value violates unique constraint "users_email_key"', {
    errno: '23505', detail: 'Key (email)=(a@x) already exists.', schema: 'app', table: 'users', constraint: 'users_email_key',
    file: 'nbtinsert.c', line: '664', routine: '_bt_check_unique'
  }),
  foreignKey: () => bunPostgresError('insert or update on table "posts" violates foreign key constraint "posts_user_id_fkey"', {
    errno: '23503', detail: 'Key (user_id)=(99) is not present in table "users".', schema: 'app', table: 'posts', constraint: 'posts_user_id_fkey',
    file: 'ri_triggers.c', line: '2650', routine: 'ri_ReportViolation'
  }),
  notNull: () => bunPostgresError('null value in column "email" of relation "users" violates not-null constraint', {
    errno: '23502', detail: 'Failing row contains (3, null, null).', schema: 'app', table: 'users', column: 'email',
    file: 'execMain.c', line: '2039', routine: 'ExecConstraints'
  }),
  check: () => bunPostgresError('new row for relation "users" violates check constraint "users_age_check"', {
    errno: '23514', detail: 'Failing row contains (4, b@x, -1).', schema: 'app', table: 'users', constraint: 'users_age_check',
    file: 'execMain.c', line: '2090', routine: 'ExecConstraints'
  }),
  exclusion: () => bunPostgresError('conflicting key value violates exclusion constraint "rooms_room_during_excl"', {
    errno: '23P01',
    detail: 'Key (room, during)=(1, ["2020-01-01 00:00:00+00","2020-01-03 00:00:00+00")) conflicts with existing key (room, during)=(1, ["2020-01-01 00:00:00+00","2020-01-02 00:00:00+00")).',
    schema: 'app', table: 'rooms', constraint: 'rooms_room_during_excl', file: 'execIndexing.c', line: '879', routine: 'check_exclusion_or_unique_constraint'
  }),
  serialization: () => bunPostgresError('could not serialize access due to read/write dependencies among transactions', {
    errno: '40001', detail: 'Reason code: Canceled on identification as a pivot, during commit attempt.', hint: 'The transaction might succeed if retried.',
    file: 'predicate.c', line: '4879', routine: 'PreCommit_CheckForSerializationFailure'
  })
}

/** Bun.SQL's error for a refused connection: the same class, another code, no SQLSTATE and no severity. */
export function bunConnectionError (): BunError {
  const error = new PostgresError('Failed to connect', { code: 'ERR_POSTGRES_CONNECTION_REFUSED' }) as unknown as BunError
  return error
}
