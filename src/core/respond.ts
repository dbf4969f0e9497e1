import createError from '@fastify/error'
import { STATUS_CODES } from 'node:http'
import type { Conflict } from './describe.js'
import { KIND_DEFAULTS } from './kinds.js'
import { fieldProblem, type FieldProblem } from './locations.js'
import type { ResolvedSettings } from './rules.js'
import { identifierName } from './sql-text.js'

/**
 * Step three of the data path: the answer to an integrity error. The body in the chosen format,
 * the status and headers, the error handed to the application's error handlers, and the log line.
 */

export const CONFLICT_CODE = 'PG_UNIQUE_VIOLATION'

/** The default body (Fastify's own error shape, with `fields`). `constraint`, `table` and `values` only when the configuration exposes them. */
export interface ConflictBody {
  statusCode: number
  code: string
  /** The status's reason phrase: `Conflict`, `Unprocessable Entity`… */
  error: string
  message: string
  fields: string[]
  constraint?: string
  table?: string
  values?: Record<string, string>
  /**
   * With `allConflicts`: every unique key the request conflicts with, the violated one first, each
   * with its fields and message (and its constraint when exposed). `fields` is then all of theirs.
   */
  conflicts?: KeyConflict[]
}

/** One conflicting unique key of `ConflictBody.conflicts`. */
export interface KeyConflict {
  fields: string[]
  message: string
  constraint?: string
}

/** Another unique key the request's values conflict with (found by the `allConflicts` check), with its settings. */
export interface OtherConflict {
  conflict: Conflict
  settings: ResolvedSettings
}

/** An RFC 9457 Problem Details body (`application/problem+json`). */
export interface ProblemBody {
  type: string
  title: string
  status: number
  detail: string
  instance?: string
  code: string
  /**
   * One entry per field: a body member's `pointer` into the body (`#/email`); a path or query
   * parameter's or a header's `parameter` and `in` (`{ parameter: 'orgId', in: 'path' }`).
   */
  errors: FieldProblem[]
  constraint?: string
  table?: string
  values?: Record<string, string>
}

/** What a `format` function is given: everything the answer is made of, and the default body. */
export interface AnswerParts {
  status: number
  code: string
  message: string
  fields: string[]
  /** The full description (with the values and internal names: mind what you show). */
  conflict: Conflict
  /** The default body, with only what the configuration exposes. */
  body: ConflictBody
}

/** `fastify` (the default body), `problem` (RFC 9457), or a function making the body. */
export type ResponseFormat<Request = unknown> = 'fastify' | 'problem' | ((parts: AnswerParts, request: Request) => unknown)

/** The answer to send. */
export interface Answer {
  status: number
  /** The message the body carries. */
  message: string
  /** `content-type` and, for a 503, `retry-after`. */
  headers: Record<string, string>
  body: unknown
  /** The fields the body names: the conflict's, or with `allConflicts` every conflicting key's. */
  fields: string[]
}

const PROBLEM_TYPE = 'application/problem+json; charset=utf-8'
const JSON_TYPE = 'application/json; charset=utf-8'

/**
 * The answer to an integrity error, in `format`; `instance` is the request's path, and
 * `routeParameters` the names of the route's path parameters, for Problem Details. `others`: the
 * other unique keys the `allConflicts` check found (set, maybe empty, whenever it applies).
 */
export function answerOf<Request> (conflict: Conflict, settings: ResolvedSettings, format: ResponseFormat<Request> | undefined, request: Request, instance: string | undefined, routeParameters: readonly string[] = [], others?: readonly OtherConflict[]): Answer {
  const body = defaultBody(conflict, settings, others)
  const headers: Record<string, string> = { 'content-type': JSON_TYPE }
  if (settings.retryAfter !== undefined) headers['retry-after'] = String(settings.retryAfter)
  const { status } = settings
  const { fields } = body
  if (format === undefined || format === 'fastify') return { status, message: body.message, headers, body, fields }
  if (format === 'problem') {
    headers['content-type'] = PROBLEM_TYPE
    return { status, message: body.message, headers, body: problemBody(body, settings, instance, routeParameters), fields }
  }
  return { status, message: body.message, headers, body: format({ status, code: body.code, message: body.message, fields: body.fields, conflict, body }, request), fields }
}

/** The default body; with `others` (the `allConflicts` check applied), every conflicting key's fields and messages. */
export function defaultBody (conflict: Conflict, settings: ResolvedSettings, others?: readonly OtherConflict[]): ConflictBody {
  const body: ConflictBody = {
    statusCode: settings.status,
    code: settings.code,
    error: STATUS_CODES[settings.status] ?? 'Error',
    message: message(conflict, settings),
    fields: conflict.fields
  }
  if (others !== undefined) {
    const conflicts = [keyConflict(conflict, settings, body.message), ...others.map((other) => keyConflict(other.conflict, other.settings, message(other.conflict, other.settings)))]
    body.conflicts = conflicts
    if (others.length > 0) {
      body.fields = [...new Set(conflicts.flatMap((key) => key.fields))]
      body.message = conflicts.map((key) => key.message).join(' ')
    }
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

function keyConflict (conflict: Conflict, settings: ResolvedSettings, text: string): KeyConflict {
  const key: KeyConflict = { fields: conflict.fields, message: text }
  if (settings.exposeConstraint && conflict.constraint !== undefined) key.constraint = conflict.constraint
  return key
}

/** The Problem Details body with the same content as the default one. */
function problemBody (body: ConflictBody, settings: ResolvedSettings, instance: string | undefined, routeParameters: readonly string[]): ProblemBody {
  const problem: ProblemBody = {
    type: settings.type,
    title: body.error,
    status: body.statusCode,
    detail: body.message,
    code: body.code,
    // Each field with its own key's message when the allConflicts check found several.
    errors: body.fields.map((field) => fieldProblem(field, body.conflicts?.find((key) => key.fields.includes(field))?.message ?? body.message, settings.fieldLocations, routeParameters))
  }
  if (instance !== undefined) problem.instance = instance
  if (body.constraint !== undefined) problem.constraint = body.constraint
  if (body.table !== undefined) problem.table = body.table
  if (body.values !== undefined) problem.values = body.values
  return problem
}

export { pointerTo } from './locations.js'

function message (conflict: Conflict, settings: ResolvedSettings): string {
  const configured = settings.message
  if (typeof configured === 'string') return configured
  if (configured !== undefined) return configured(conflict)
  return KIND_DEFAULTS[conflict.kind].message(conflict.fields)
}

/** A unique violation's default message: `A record with this email already exists.` */
export function defaultMessage (fields: readonly string[]): string {
  return KIND_DEFAULTS.unique.message(fields)
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
    // A column name as PostgreSQL prints it (quoted if need be), or bare as CockroachDB prints it.
    const key = keys[i] as string
    const column = identifierName(key) ?? (columns.includes(key) ? key : undefined)
    const field = column === undefined ? undefined : fields[columns.indexOf(column)]
    if (field === undefined) continue
    byField[field] = values[i] as string
    any = true
  }
  return any ? byField : undefined
}

/** What the request's logger gets, once per error: no values unless they are exposed. */
export function logEntry (conflict: Conflict, settings: ResolvedSettings, others?: readonly OtherConflict[]): object {
  const entry = {
    conflict: {
      kind: conflict.kind,
      code: conflict.error.code,
      constraint: conflict.constraint,
      schema: conflict.schema,
      table: conflict.table,
      columns: conflict.columns,
      fields: conflict.fields,
      values: conflict.values === undefined ? undefined : settings.exposeValues ? conflict.values : '[redacted]'
    }
  }
  // The other keys the allConflicts check found: names and fields, never values.
  if (others !== undefined && others.length > 0) {
    Object.assign(entry.conflict, { others: others.map(({ conflict: other }) => ({ constraint: other.constraint, columns: other.columns, fields: other.fields })) })
  }
  return entry
}

/** The log message for each kind. */
export const LOG_MESSAGES: Readonly<Record<Conflict['kind'], string>> = {
  unique: 'unique violation',
  exclusion: 'exclusion violation',
  foreignKey: 'foreign key violation: the referenced row does not exist',
  referenced: 'foreign key violation: the row is still referenced',
  notNull: 'not-null violation',
  check: 'check violation',
  serialization: 'serialization failure or deadlock',
  cardinality: 'ON CONFLICT or MERGE met the same row twice'
}

// ---- The error the application's error handlers receive ----

const BaseConflictError = createError(CONFLICT_CODE, '%s', 409)
const baseErrors = new Map<string, ReturnType<typeof createError>>([[CONFLICT_CODE, BaseConflictError]])

/**
 * The error the application's error handlers receive for an integrity error: its status, its
 * `code` (`PG_UNIQUE_VIOLATION`, `PG_FOREIGN_KEY_VIOLATION`…), the original error as `cause`,
 * the fields, the full description as `conflict`, and the answer this plugin would send: `body`
 * with its `replyHeaders` (`conflict` and `body` are not enumerable, so that a logged error does
 * not carry the values). To send that answer from a handler of the application's:
 * `reply.code(error.statusCode).headers(error.replyHeaders).send(error.body)`.
 */
export interface IntegrityError extends Error {
  code: string
  statusCode: number
  fields: string[]
  readonly conflict: Conflict
  readonly body: unknown
  /**
   * The headers that go with `body`: its `content-type` (`application/problem+json` for Problem
   * Details) and, for a serialization failure or deadlock, `retry-after`.
   */
  readonly replyHeaders: Readonly<Record<string, string>>
  /**
   * `{ 'retry-after': '1' }` for a serialization failure or deadlock; Fastify sets it when the
   * error itself is sent on (`reply.send(error)`, a throw), with Fastify's own body (so no content type here).
   */
  headers?: Record<string, string>
}

/** The error for a unique violation. */
export interface ConflictError extends IntegrityError {
  code: typeof CONFLICT_CODE
}

export function integrityError (conflict: Conflict, answer: Answer, settings: ResolvedSettings): IntegrityError {
  let Base = baseErrors.get(settings.code)
  if (Base === undefined) {
    Base = createError(settings.code, '%s', KIND_DEFAULTS[conflict.kind].status)
    baseErrors.set(settings.code, Base)
  }
  const error = new Base(answer.message, { cause: conflict.error.error }) as unknown as IntegrityError
  error.statusCode = answer.status
  error.fields = answer.fields
  // Only Retry-After: a handler that sends the error on gets Fastify's body, not this format's content type.
  const retryAfter = answer.headers['retry-after']
  if (retryAfter !== undefined) error.headers = { 'retry-after': retryAfter }
  Object.defineProperty(error, 'conflict', { value: conflict })
  Object.defineProperty(error, 'body', { value: answer.body })
  Object.defineProperty(error, 'replyHeaders', { value: Object.freeze({ ...answer.headers }) })
  return error
}

/** Whether an error is the one handed over for a unique violation. */
export function isConflictError (value: unknown): value is ConflictError {
  return value instanceof BaseConflictError
}

/** Whether an error is one handed over for any integrity error. */
export function isIntegrityError (value: unknown): value is IntegrityError {
  for (const Base of baseErrors.values()) if (value instanceof Base) return true
  return false
}
