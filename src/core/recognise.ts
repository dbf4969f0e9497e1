/**
 * Step one of the data path: is this thrown value a PostgreSQL error, under whatever wrapper?
 *
 * node-postgres throws `DatabaseError` (`code`, `detail`, `constraint`, `table`, `schema`, `column`);
 * postgres.js throws `PostgresError` (`code`, `detail`, `constraint_name`, `table_name`, …);
 * Bun's own client (`Bun.SQL`) throws its `PostgresError` with the SQLSTATE in `errno` and
 * `code: 'ERR_POSTGRES_SERVER_ERROR'`, the other fields under node-postgres's names.
 * Libraries wrap them and keep the original on `cause` (or `driverError`, `parent`, `original`),
 * sometimes with a copy of the fields on top. This module finds the original and gives its fields
 * under one set of names.
 *
 * Only an error a PostgreSQL driver made counts (see `madeBy`): a route that copies an upstream
 * service's JSON error body onto an `Error` must not be able to pass it off as the database's.
 */

import { citusKind } from './dialects.js'

/** A PostgreSQL error's fields, whichever client produced it. */
export interface PgErrorFields {
  /** SQLSTATE, e.g. `23505`. */
  code: string
  message: string
  detail: string | undefined
  constraint: string | undefined
  schema: string | undefined
  table: string | undefined
  column: string | undefined
  /** The domain of a domain check violation (`dataType`, or postgres.js's `data_type_name`). */
  dataType?: string | undefined
  /** PostgreSQL's HINT, which tells a 21000 from ON CONFLICT or MERGE from other 21000s. */
  hint?: string | undefined
  /** Columns a wrapper named in place of the constraint (Prisma's `constraint: { fields }`), when the error has no DETAIL. */
  columns?: string[] | undefined
  /** The error object the fields were read from. */
  error: object
}

/** How deep to follow wrappers; real ones nest two or three levels. */
const MAX_DEPTH = 8

/** How many objects to look at in all, whatever the wrappers (a hostile object could branch at every level). */
const MAX_VISITS = 32

/**
 * Properties on which libraries keep the error they wrap, in the order they are tried. Prisma
 * keeps its driver adapter's error at `meta.driverAdapterError`. An `AggregateError`'s `errors`
 * are tried after these.
 */
const WRAPPED = ['cause', 'driverError', 'parent', 'original', 'meta', 'driverAdapterError'] as const

const SQLSTATE = /^[0-9A-Z]{5}$/

/** How far up a prototype chain to look for the driver's class (MikroORM's is five levels up). */
const MAX_PROTOTYPES = 8

/**
 * Which driver made an object, by the classes in its prototype chain; `undefined` for anything
 * else. A class counts only as a real constructor function that owns the prototype (`C.prototype
 * === proto`, `proto.constructor === C`): data cannot make a function, so a JSON body copied onto
 * an `Error`, even with a `"__proto__"` key that `Object.assign` turns into its prototype, is not
 * one. The driver's own field layout must be there too.
 *
 * - `pg`: node-postgres's `DatabaseError` (pg-protocol), with the own `length` and `severity`
 *   its parser sets; also MikroORM's `DriverException`, which copies every own field of that
 *   error onto itself and keeps nothing else of it.
 * - `bun`: Bun.SQL's `PostgresError` (a subclass of its `SQLError`), with the own `code`
 *   `ERR_POSTGRES_SERVER_ERROR` that Bun gives an error the server sent (its connection errors
 *   have other codes and no SQLSTATE), the own `errno` holding the SQLSTATE and the own `severity`
 *   every server error has. Told by its class and layout, as the others are: `instanceof
 *   Bun.SQL.PostgresError` would need the Bun runtime, and proves nothing more against data.
 * - `postgres.js`: its `PostgresError`, with `severity` (or `severity_local`, all CockroachDB sends).
 * - `prisma`: `DriverAdapterError` of Prisma's driver adapters, whose `cause` is the adapter's
 *   summary of the driver's error (a plain object, believed only there).
 */
export function madeBy (value: object): 'pg' | 'postgres.js' | 'bun' | 'prisma' | undefined {
  let prototype: unknown = Object.getPrototypeOf(value)
  for (let depth = 0; depth < MAX_PROTOTYPES && typeof prototype === 'object' && prototype !== null; depth++) {
    // (hasOwn and plain reads rather than property descriptors: nothing allocated per error.)
    const constructor: unknown = hasOwn(prototype, 'constructor') ? (prototype as { constructor: unknown }).constructor : undefined
    if (typeof constructor === 'function' && constructor.prototype === prototype) {
      switch (constructor.name) {
        case 'DatabaseError':
        case 'DriverException':
          if (hasPgLayout(value as Record<string, unknown>)) return 'pg'
          break
        case 'PostgresError':
          if (hasBunLayout(value as Record<string, unknown>, prototype)) return 'bun'
          if (ownString(value as Record<string, unknown>, 'severity') || ownString(value as Record<string, unknown>, 'severity_local')) return 'postgres.js'
          break
        case 'DriverAdapterError':
          return 'prisma'
      }
    }
    prototype = Object.getPrototypeOf(prototype)
  }
  return undefined
}

const hasOwn = (value: object, key: string): boolean => Object.prototype.hasOwnProperty.call(value, key)

/** node-postgres's `DatabaseError` layout: the message's `length`, a number, and the `severity` every server error has. */
function hasPgLayout (value: Record<string, unknown>): boolean {
  return hasOwn(value, 'length') && typeof value.length === 'number' && ownString(value, 'severity')
}

/** The code Bun.SQL gives an error the server sent (its `errno` is then the SQLSTATE). */
const BUN_SERVER_ERROR = 'ERR_POSTGRES_SERVER_ERROR'

/**
 * Bun.SQL's `PostgresError` layout: its class extends one named `SQLError`, and the error owns
 * `code: 'ERR_POSTGRES_SERVER_ERROR'`, the SQLSTATE in `errno` and a `severity`.
 */
function hasBunLayout (value: Record<string, unknown>, prototype: object): boolean {
  const parent: unknown = Object.getPrototypeOf(prototype)
  const constructor: unknown = typeof parent === 'object' && parent !== null && hasOwn(parent, 'constructor') ? (parent as { constructor: unknown }).constructor : undefined
  return typeof constructor === 'function' && constructor.name === 'SQLError' &&
    value.code === BUN_SERVER_ERROR && ownString(value, 'code') && ownString(value, 'errno') && ownString(value, 'severity')
}

function ownString (value: Record<string, unknown>, key: string): boolean {
  return hasOwn(value, key) && typeof value[key] === 'string'
}

/**
 * The PostgreSQL error in `thrown`, looking through up to eight levels of wrappers (and never
 * twice at the same object); `undefined` when there is none. Only an error a PostgreSQL driver
 * made counts (`madeBy`), and only when its `code` is a SQLSTATE. Never throws, even on hostile
 * getters and proxies.
 */
export function findPgError (thrown: unknown): PgErrorFields | undefined {
  return search(thrown, 0, undefined)
}

/** `seen` is made only when the search goes past the thrown value itself: a bare error costs no set. */
function search (value: unknown, depth: number, seen: Set<object> | undefined): PgErrorFields | undefined {
  if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return undefined
  if (seen !== undefined && (seen.has(value) || seen.size >= MAX_VISITS)) return undefined
  const fields = readSafely(value as Record<string, unknown>)
  if (fields !== undefined) return fields
  const visited = seen ?? new Set()
  visited.add(value)
  for (const key of WRAPPED) {
    const found = search(property(value as Record<string, unknown>, key), depth + 1, visited)
    if (found !== undefined) return found
  }
  // An AggregateError's (Promise.any, several statements at once): the first PostgreSQL error in it.
  const errors = property(value as Record<string, unknown>, 'errors')
  if (Array.isArray(errors)) {
    for (let i = 0; i < errors.length && visited.size < MAX_VISITS; i++) {
      const found = search(property(errors as unknown as Record<string, unknown>, String(i)), depth + 1, visited)
      if (found !== undefined) return found
    }
  }
  return undefined
}

/** A read that throws (a getter, a Proxy) counts as nothing there. */
function readSafely (value: Record<string, unknown>): PgErrorFields | undefined {
  try {
    const maker = madeBy(value)
    if (maker === undefined) return undefined
    if (maker === 'prisma') return readPrisma(value.cause)
    return read(value, maker === 'bun' ? value.errno : value.code)
  } catch {
    return undefined
  }
}

function property (value: Record<string, unknown>, key: string): unknown {
  try {
    return value[key]
  } catch {
    return undefined
  }
}

/** A driver's error, whose SQLSTATE is `sqlstateField`: node-postgres names first (Bun.SQL's are the same), then postgres.js's. */
function read (e: Record<string, unknown>, sqlstateField: unknown): PgErrorFields | undefined {
  const code = sqlstate(sqlstateField)
  if (code === undefined) return undefined
  const message = text(e.message) ?? ''
  // YugabyteDB (and a Citus coordinator relaying a worker's error) name a unique violation's index only in the message.
  const constraint = text(e.constraint) ?? text(e.constraint_name) ?? (code === UNIQUE_VIOLATION ? uniqueConstraintFromMessage(message) : undefined)
  return {
    code,
    message,
    detail: text(e.detail),
    constraint,
    schema: text(e.schema) ?? text(e.schema_name),
    table: text(e.table) ?? text(e.table_name),
    column: text(e.column) ?? text(e.column_name),
    dataType: text(e.dataType) ?? text(e.data_type_name),
    hint: text(e.hint),
    error: e
  }
}

/**
 * Prisma's driver adapter summary (`{ originalCode, originalMessage, kind, constraint: { index } |
 * { fields }, table }`), the `cause` of its `DriverAdapterError`: no DETAIL, no schema.
 */
function readPrisma (summary: unknown): PgErrorFields | undefined {
  if (typeof summary !== 'object' || summary === null) return undefined
  const e = summary as Record<string, unknown>
  const code = sqlstate(e.originalCode)
  if (code === undefined || typeof e.kind !== 'string') return undefined
  const named = typeof e.constraint === 'object' && e.constraint !== null ? e.constraint as { index?: unknown, fields?: unknown } : {}
  const message = text(e.originalMessage) ?? ''
  const fields: PgErrorFields = {
    code,
    message,
    detail: undefined,
    constraint: text(named.index) ?? (code === UNIQUE_VIOLATION ? uniqueConstraintFromMessage(message) : undefined),
    schema: undefined,
    table: text(e.table),
    column: undefined,
    error: e
  }
  const columns = named.fields
  if (Array.isArray(columns) && columns.every((c) => typeof c === 'string')) fields.columns = columns as string[]
  return fields
}

function sqlstate (value: unknown): string | undefined {
  return typeof value === 'string' && SQLSTATE.test(value) ? value : undefined
}

function text (value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined
}

/** SQLSTATE of a unique violation. */
export const UNIQUE_VIOLATION = '23505'

/**
 * The integrity errors this library answers, by what they mean to a client. A foreign key
 * violation is `foreignKey` until the description tells a missing referenced row from a row still
 * referenced (`referenced`): both have SQLSTATE 23503.
 */
export type IntegrityKind =
  | 'unique' | 'exclusion' | 'foreignKey' | 'referenced' | 'notNull' | 'check' | 'serialization' | 'cardinality'

export const INTEGRITY_KINDS: readonly IntegrityKind[] = ['unique', 'exclusion', 'foreignKey', 'referenced', 'notNull', 'check', 'serialization', 'cardinality']

/**
 * The kind of a PostgreSQL error, or `undefined` for an error this library leaves alone. A 21000
 * counts only with a HINT: PostgreSQL gives one when ON CONFLICT DO UPDATE or MERGE meets the same
 * row twice (duplicates in the request's own batch), and none for a subquery returning two rows
 * (a bug of the server's, left a 500).
 */
export function integrityKind (error: PgErrorFields): IntegrityKind | undefined {
  switch (error.code) {
    case UNIQUE_VIOLATION: return 'unique'
    case '23P01': return 'exclusion'
    case '23503': return 'foreignKey'
    case '23502': return 'notNull'
    case '23514': return 'check'
    case '40001': case '40P01': return 'serialization'
    case '21000': return error.hint === undefined ? undefined : 'cardinality'
    // Citus's COPY relays a shard's integrity error as XX000, and refuses a NULL distribution column with 22004 (dialects.ts).
    case 'XX000': case '22004': return citusKind(error)
    default: return undefined
  }
}

/** The integrity error in `thrown` and its kind, if it is one this library answers. */
export function findIntegrityError (thrown: unknown): { error: PgErrorFields, kind: IntegrityKind } | undefined {
  const error = findPgError(thrown)
  const kind = error === undefined ? undefined : integrityKind(error)
  return kind === undefined ? undefined : { error: error as PgErrorFields, kind }
}

/** The unique violation in `thrown`, if that is what it is. */
export function findUniqueViolation (thrown: unknown): PgErrorFields | undefined {
  const found = findPgError(thrown)
  return found?.code === UNIQUE_VIOLATION ? found : undefined
}

const UNIQUE_MESSAGE = 'duplicate key value violates unique constraint "'

/**
 * The constraint a unique violation's message names, for the errors that carry no constraint
 * field (YugabyteDB's, Citus's relayed ones): `duplicate key value violates unique constraint
 * "users_email_key"` → `users_email_key`. The message is PostgreSQL's English one (`lc_messages`
 * other than English gives `undefined`); the name is printed unescaped, so everything between
 * the first and the last `"` is taken.
 */
export function uniqueConstraintFromMessage (message: string): string | undefined {
  if (!message.startsWith(UNIQUE_MESSAGE) || !message.endsWith('"')) return undefined
  const name = message.slice(UNIQUE_MESSAGE.length, -1)
  return name === '' ? undefined : name
}
