// Errors as the PostgreSQL drivers build them, for the shapes no server here can produce (another
// engine's, another language's). Made with the drivers' own classes, as their parsers make them:
// the plugin believes only errors a driver made (src/core/recognise.ts, madeBy), so a plain
// object or an `Error` with the same fields is not one.
import pg from 'pg'
import postgres from 'postgres'

export type DriverError = Error & Record<string, unknown>

/** The fields node-postgres 8 sets on every `DatabaseError`, `undefined` for those the server did not send. */
export const NODE_PG_FIELDS = [
  'severity', 'code', 'detail', 'hint', 'position', 'internalPosition', 'internalQuery', 'where', 'schema', 'table',
  'column', 'dataType', 'constraint', 'file', 'line', 'routine'
] as const

export type NodePgFields = Partial<Record<typeof NODE_PG_FIELDS[number], string>>

/**
 * A node-postgres `DatabaseError` as pg-protocol's parser builds it: `new DatabaseError(message,
 * length, 'error')`, then every field. `severity` is `ERROR` unless given.
 */
export function pgDatabaseError (message: string, fields: NodePgFields): DriverError {
  const error = new pg.DatabaseError(message, 100 + message.length, 'error') as unknown as DriverError
  for (const field of NODE_PG_FIELDS) error[field] = fields[field]
  error.severity ??= 'ERROR'
  return error
}

/** A postgres.js `PostgresError`: `new PostgresError(fields)`, which copies the fields the server sent onto itself. */
export function postgresJsError (fields: Record<string, string> & { message: string }): DriverError {
  const PostgresError = (postgres as unknown as { PostgresError: new (fields: object) => DriverError }).PostgresError
  return new PostgresError({ severity_local: 'ERROR', severity: 'ERROR', ...fields })
}
