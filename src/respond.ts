import createError from '@fastify/error'
import type { Conflict } from './describe.js'
import type { ResolvedSettings } from './rules.js'
import { identifierName } from './sql-text.js'

/**
 * Step three of the data path: the answer to a conflict. The error handed to the application's
 * error handlers, the JSON body sent when there is none, and the log line.
 */

export const CONFLICT_CODE = 'PG_UNIQUE_VIOLATION'

/** The body of a 409 answer. `constraint`, `table` and `values` only when the configuration exposes them. */
export interface ConflictBody {
  statusCode: 409
  code: typeof CONFLICT_CODE
  error: 'Conflict'
  message: string
  fields: string[]
  constraint?: string
  table?: string
  values?: Record<string, string>
}

/** JSON Schema of the 409 body, for a route's `response: { 409: conflictResponseSchema }`. */
export const conflictResponseSchema = {
  $id: 'fastify-pg-conflict',
  type: 'object',
  required: ['statusCode', 'code', 'error', 'message', 'fields'],
  properties: {
    statusCode: { type: 'integer', const: 409 },
    code: { type: 'string', const: CONFLICT_CODE },
    error: { type: 'string', const: 'Conflict' },
    message: { type: 'string' },
    fields: { type: 'array', items: { type: 'string' } },
    constraint: { type: 'string' },
    table: { type: 'string' },
    values: { type: 'object', additionalProperties: { type: 'string' } }
  }
} as const

const BaseConflictError = createError(CONFLICT_CODE, '%s', 409)

/**
 * The error the application's error handlers receive for a unique violation: status 409, code
 * `PG_UNIQUE_VIOLATION`, the original error as `cause`, the fields, the full description as
 * `conflict` and the body this plugin would send as `body` (those two are not enumerable, so that
 * a logged error does not carry the values).
 */
export interface ConflictError extends Error {
  code: typeof CONFLICT_CODE
  statusCode: 409
  fields: string[]
  readonly conflict: Conflict
  readonly body: ConflictBody
}

export function conflictError (conflict: Conflict, body: ConflictBody): ConflictError {
  const error = new BaseConflictError(body.message, { cause: conflict.error.error }) as unknown as ConflictError
  error.fields = body.fields
  Object.defineProperty(error, 'conflict', { value: conflict })
  Object.defineProperty(error, 'body', { value: body })
  return error
}

export function isConflictError (value: unknown): value is ConflictError {
  return value instanceof BaseConflictError
}

export function conflictBody (conflict: Conflict, settings: ResolvedSettings): ConflictBody {
  const body: ConflictBody = {
    statusCode: 409,
    code: CONFLICT_CODE,
    error: 'Conflict',
    message: message(conflict, settings),
    fields: conflict.fields
  }
  if (settings.exposeConstraint) {
    if (conflict.constraint !== undefined) body.constraint = conflict.constraint
    if (conflict.table !== undefined) body.table = conflict.table
  }
  if (settings.exposeValues) {
    const values = valuesByField(conflict)
    if (values !== undefined) body.values = values
  }
  return body
}

function message (conflict: Conflict, settings: ResolvedSettings): string {
  const configured = settings.message
  if (typeof configured === 'string') return configured
  if (configured !== undefined) return configured(conflict)
  return defaultMessage(conflict.fields)
}

/** `A record with this email already exists.`, `… with this org_id and name …`, `… with these values …`. */
export function defaultMessage (fields: readonly string[]): string {
  if (fields.length === 0) return 'A record with these values already exists.'
  const named = fields.length === 1
    ? fields[0]
    : `${fields.slice(0, -1).join(', ')} and ${fields[fields.length - 1]}`
  return `A record with this ${named} already exists.`
}

/**
 * The values by field, for the keys that are plain columns: an expression's value (`lower(email)`)
 * is not what the client sent for the column, so it is left out. `undefined` when none is left.
 */
function valuesByField ({ keys, values, columns, fields }: Conflict): Record<string, string> | undefined {
  if (values === undefined || fields.length !== columns.length) return undefined
  const byField: Record<string, string> = Object.create(null) // a column may be named __proto__
  let any = false
  for (let i = 0; i < keys.length; i++) {
    const column = identifierName(keys[i] as string)
    const field = column === undefined ? undefined : fields[columns.indexOf(column)]
    if (field === undefined) continue
    byField[field] = values[i] as string
    any = true
  }
  return any ? byField : undefined
}

/** What the request's logger gets, once per conflict: no values unless they are exposed. */
export function logEntry (conflict: Conflict, settings: ResolvedSettings): object {
  return {
    conflict: {
      constraint: conflict.constraint,
      schema: conflict.schema,
      table: conflict.table,
      columns: conflict.columns,
      fields: conflict.fields,
      values: settings.exposeValues ? conflict.values : '[redacted]'
    }
  }
}
