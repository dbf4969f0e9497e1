import { InvalidOptionError } from '../util/errors.js'
import type { Queryable } from '../catalog/catalog.js'
import type { OnConflict } from '../races/route-retry.js'
import { retryPolicy, type RetryOptions, type RetryPolicy } from '../races/retry.js'
import { INTEGRITY_KINDS } from '../core/recognise.js'
import { FIELD_LOCATIONS } from '../core/locations.js'
import type { ResponseFormat } from '../core/respond.js'
import type { ConflictSettings, ConstraintRule, ErrorKinds } from '../core/rules.js'
import type { FastifyRequest } from 'fastify'
import type { ReplayOptions } from './replay.js'

/** Options of the plugin. Each one is checked at registration. */
export interface FastifyPgConflictOptions extends ConflictSettings {
  /** Where to read the catalog: a `pg.Pool` or anything with its `query`. Default: `fastify.pg.pool` when `@fastify/postgres` is registered. */
  pool?: Queryable
  /** Settings per constraint name, prefix, suffix or pattern. */
  constraints?: ConstraintRule[]
  /** Column name to API field name (`snakeToCamel`, `prismaFieldNames(…)`); `table` is the column's, when known. Default: the column name. */
  fieldName?: (column: string, table?: string) => string
  /** The catalog cache; `false` to never read the catalog. */
  catalog?: false | CatalogOptions
  /** Called for every route's conflicts before the 409 (after the route's own hook). */
  onConflict?: OnConflict
  /** When a conflict comes from an id sequence behind its table: move the sequence past the table's maximum and run the handler once more. Default false. */
  repairSequences?: boolean
  /** The same column's sequence is checked at most this often, ms. Default 10000. */
  sequenceCheckInterval?: number
  /** Which integrity errors are answered, and how (status, message, Problem Details type). Default: all, see the README. */
  errors?: ErrorKinds
  /** The body: `fastify` (default), `problem` (RFC 9457 Problem Details), or a function making it. */
  format?: ResponseFormat<FastifyRequest>
  /** Add the error answers' JSON Schemas to the `response` of routes with `config.conflict`, for `@fastify/swagger`. Default false. */
  openapi?: boolean
  /**
   * `pool.query()` keeps its connection when the server answered an error (a conflict…) and the
   * session is idle again outside a transaction; pg-pool would close it. Applies to the `pool`
   * option's pg Pool and @fastify/postgres's: their `query` (and `fastify.pg.query`) is replaced
   * until the app closes. Default true; `false` leaves the pools as they are. See docs/connections.md.
   */
  keepConnections?: boolean
  /**
   * A configured constraint that matches no index or constraint in the database (at the first
   * catalog read): `warn` (default: a warning with the nearest names, heard without a logger too),
   * or `error` to refuse to start (`ready()` rejects), for CI.
   */
  unknownConstraints?: UnknownConstraints
  /**
   * Routes declared before the plugin was registered, which it never sees (their integrity errors
   * go unanswered): `warn` (default: a warning naming them, heard without a logger too), or
   * `error` to refuse to start.
   */
  uncoveredRoutes?: 'warn' | 'error'
  /**
   * OpenTelemetry: when `@opentelemetry/api` is installed, the request's span gets the SQLSTATE,
   * `error.type` and the constraint of each answer, and answers and retries are counted as
   * metrics. Default true; `false` leaves OpenTelemetry alone (the API is not even loaded). See docs/opentelemetry.md.
   */
  telemetry?: boolean
}

export interface CatalogOptions {
  /** Schemas to read. Default: every schema but the system ones. */
  schemas?: string[]
  /**
   * Least time between two reads caused by unknown names, ms, for the whole process, when the
   * catalog version has not changed (a rename keeps it) or the server gives none; a changed
   * version reads at once. Default 5000.
   */
  minRefreshInterval?: number
  /**
   * One request's deadline for all the plugin's own queries (catalog, sequence checks and repairs),
   * ms; past it the request is answered from what the error alone says. Also the longest start-up
   * waits for the first read. Default 2000.
   */
  timeout?: number
}

/** Per-route settings: `config: { conflict: { … } }`, or `conflict: false` to leave the route's errors alone. */
export interface RouteConflictConfig extends ConflictSettings {
  constraints?: ConstraintRule[]
  fieldName?: (column: string, table?: string) => string
  /** Run the handler again when it fails on a unique violation (on `constraints`, or any). */
  retry?: true | RouteRetryOptions
  /** Called for this route's conflicts before the 409, before the plugin-wide hook. */
  onConflict?: OnConflict
  /** Which integrity errors this route answers, and how; over the plugin's. */
  errors?: ErrorKinds
  /** This route's body format; over the plugin's. */
  format?: ResponseFormat<FastifyRequest>
  /** Answer a conflict with this request's own earlier row (a retried create) instead of a 409: docs/replays.md. */
  replay?: boolean | ReplayOptions<FastifyRequest>
}

export interface RouteRetryOptions extends RetryOptions {
  /** The constraints whose violations are retried: names or patterns. Default: all. */
  constraints?: Array<string | RegExp>
}

export { InvalidOptionError }

/** How a configured constraint that matches nothing is met: a warning (the default), or an error at start-up (for CI). */
export type UnknownConstraints = 'warn' | 'error'

/** PostgreSQL cuts identifiers to 63 bytes (NAMEDATALEN - 1). */
export const MAX_IDENTIFIER_BYTES = 63

export function fail (where: string, problem: string): never {
  throw new InvalidOptionError(`${where} ${problem}`)
}

export function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function checkKeys (value: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) fail(where, `has an unknown option "${key}" (known: ${allowed.join(', ')})`)
  }
}

const SETTINGS_KEYS = ['message', 'fields', 'expose', 'fieldLocations', 'allConflicts'] as const

/** Options a level (the plugin, a route, an Express router) has besides its settings. */
export const LEVEL_KEYS = ['constraints', 'fieldName', 'errors', 'format', ...SETTINGS_KEYS] as const

/** Options Fastify's `register` itself takes, which reach the plugin too. */
const FASTIFY_REGISTER_KEYS = ['prefix', 'logLevel', 'logSerializers'] as const

function checkSettings (value: Record<string, unknown>, where: string): void {
  const { message, fields, expose, fieldLocations } = value
  if (message !== undefined && typeof message !== 'string' && typeof message !== 'function') {
    fail(`${where}.message`, 'must be a string or a function of the conflict')
  }
  if (fields !== undefined && typeof fields !== 'string' &&
    !(Array.isArray(fields) && fields.every((field) => typeof field === 'string'))) {
    fail(`${where}.fields`, 'must be a field name or an array of field names')
  }
  if (expose !== undefined) {
    if (!isObject(expose)) fail(`${where}.expose`, 'must be an object like { values: false, constraint: false }')
    checkKeys(expose, ['values', 'constraint'], `${where}.expose`)
    for (const [key, flag] of Object.entries(expose)) {
      if (typeof flag !== 'boolean') fail(`${where}.expose.${key}`, 'must be true or false')
    }
  }
  checkFieldLocations(fieldLocations, `${where}.fieldLocations`)
  if (value.allConflicts !== undefined && typeof value.allConflicts !== 'boolean') fail(`${where}.allConflicts`, 'must be true or false')
}

const LOCATION_LIST = FIELD_LOCATIONS.map((location) => `"${location}"`).join(', ')

/** Checks `fieldLocations: { orgId: 'path', tenant: { in: 'header', name: 'x-tenant' } }`. */
function checkFieldLocations (locations: unknown, where: string): void {
  if (locations === undefined) return
  if (!isObject(locations)) fail(where, `must be an object from field names to where they are in the request (${LOCATION_LIST}), like { orgId: "path" }`)
  for (const [field, place] of Object.entries(locations)) {
    const at = `${where}.${field}`
    if (typeof place === 'string') {
      if (!(FIELD_LOCATIONS as readonly string[]).includes(place)) fail(at, `must be one of ${LOCATION_LIST}, or an object like { in: "header", name: "x-tenant-id" }`)
      continue
    }
    if (!isObject(place)) fail(at, `must be one of ${LOCATION_LIST}, or an object like { in: "header", name: "x-tenant-id" }`)
    checkKeys(place, ['in', 'name'], at)
    if (!(FIELD_LOCATIONS as readonly unknown[]).includes(place.in)) fail(`${at}.in`, `must be one of ${LOCATION_LIST}`)
    if (place.name !== undefined && (typeof place.name !== 'string' || place.name === '')) fail(`${at}.name`, 'must be a non-empty string: the name the field has there')
  }
}

function checkStatus (status: unknown, where: string): void {
  if (status !== undefined && !(Number.isInteger(status) && (status as number) >= 400 && (status as number) <= 599)) {
    fail(where, 'must be an HTTP error status, an integer from 400 to 599')
  }
}

function checkType (type: unknown, where: string): void {
  if (type !== undefined && (typeof type !== 'string' || type === '')) fail(where, 'must be a URI (a non-empty string), such as "https://example.com/problems/duplicate"')
}

/** Checks `errors: { unique: …, foreignKey: false, … }`. */
export function checkErrorKinds (errors: unknown, where: string): void {
  if (errors === undefined) return
  if (!isObject(errors)) fail(where, `must be an object like { foreignKey: { status: 422 }, check: false } (kinds: ${INTEGRITY_KINDS.join(', ')})`)
  checkKeys(errors, INTEGRITY_KINDS, where)
  for (const [kind, settings] of Object.entries(errors)) {
    const at = `${where}.${kind}`
    if (settings === undefined || typeof settings === 'boolean') continue
    if (!isObject(settings)) fail(at, 'must be true, false or an object like { status, message, type }')
    checkKeys(settings, kind === 'serialization' ? ['status', 'message', 'type', 'retryAfter'] : ['status', 'message', 'type'], at)
    checkStatus(settings.status, `${at}.status`)
    checkType(settings.type, `${at}.type`)
    if (settings.message !== undefined && typeof settings.message !== 'string' && typeof settings.message !== 'function') {
      fail(`${at}.message`, 'must be a string or a function of the error described')
    }
    const { retryAfter } = settings
    if (retryAfter !== undefined && !(Number.isInteger(retryAfter) && (retryAfter as number) >= 0)) fail(`${at}.retryAfter`, 'must be a whole number of seconds, 0 or more')
  }
}

function checkFormat (format: unknown, where: string): void {
  if (format !== undefined && format !== 'fastify' && format !== 'problem' && typeof format !== 'function') {
    fail(where, 'must be "fastify", "problem" or a function (parts, request) returning the body')
  }
}

/** Checks the settings every level has: rules, field names, kinds, format and the unique violation's settings. */
export function checkLevel (value: Record<string, unknown>, where: string): void {
  checkSettings(value, where)
  checkRules(value.constraints, `${where}.constraints`)
  checkFieldName(value.fieldName, `${where}.fieldName`)
  checkErrorKinds(value.errors, `${where}.errors`)
  checkFormat(value.format, `${where}.format`)
}

function checkRules (rules: unknown, where: string): void {
  if (rules === undefined) return
  if (!Array.isArray(rules)) fail(where, 'must be an array of { constraint, match?, message?, fields?, expose? }')
  rules.forEach((rule: unknown, i) => {
    const at = `${where}[${i}]`
    if (!isObject(rule)) fail(at, 'must be an object like { constraint: "users_email_key", fields: ["email"] }')
    checkKeys(rule, ['constraint', 'match', 'status', 'type', ...SETTINGS_KEYS], at)
    const { constraint, match } = rule
    if (!(constraint instanceof RegExp) && (typeof constraint !== 'string' || constraint.length === 0)) {
      fail(`${at}.constraint`, 'must be a non-empty string or a RegExp')
    }
    if (match !== undefined) {
      if (match !== 'exact' && match !== 'prefix' && match !== 'suffix') fail(`${at}.match`, 'must be "exact", "prefix" or "suffix"')
      if (constraint instanceof RegExp) fail(`${at}.match`, 'does not apply to a RegExp constraint')
    }
    checkSettings(rule, at)
    checkStatus(rule.status, `${at}.status`)
    checkType(rule.type, `${at}.type`)
  })
}

function checkFunction (value: unknown, where: string, problem: string): void {
  if (value !== undefined && typeof value !== 'function') fail(where, problem)
}

function checkFieldName (fieldName: unknown, where: string): void {
  checkFunction(fieldName, where, 'must be a function from a column name to a field name')
}

/** Node's timers take at most 2^31 - 1 ms (about 24.8 days); a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1

function milliseconds (value: unknown, where: string): void {
  if (value !== undefined && !(typeof value === 'number' && value >= 0 && value <= MAX_TIMER_MS)) {
    fail(where, `must be a number of milliseconds from 0 to ${MAX_TIMER_MS}`)
  }
}

/** Checks the plugin's options; throws `PG_CONFLICT_INVALID_OPTION` naming the first problem. */
export function checkPluginOptions (options: unknown): asserts options is FastifyPgConflictOptions {
  if (!isObject(options)) fail('options', 'must be an object')
  checkKeys(options, ['pool', 'catalog', 'onConflict', 'repairSequences', 'sequenceCheckInterval', 'openapi', 'keepConnections', 'unknownConstraints', 'uncoveredRoutes', 'telemetry',
    ...LEVEL_KEYS, ...FASTIFY_REGISTER_KEYS], 'options')
  if (options.openapi !== undefined && typeof options.openapi !== 'boolean') fail('options.openapi', 'must be true or false')
  if (options.keepConnections !== undefined && typeof options.keepConnections !== 'boolean') fail('options.keepConnections', 'must be true or false')
  if (options.telemetry !== undefined && typeof options.telemetry !== 'boolean') fail('options.telemetry', 'must be true or false')
  if (options.repairSequences !== undefined && typeof options.repairSequences !== 'boolean') fail('options.repairSequences', 'must be true or false')
  if (options.repairSequences === true && options.catalog === false) fail('options.repairSequences', 'needs the database: it cannot be used with catalog: false')
  const { unknownConstraints } = options
  if (unknownConstraints !== undefined && unknownConstraints !== 'warn' && unknownConstraints !== 'error') fail('options.unknownConstraints', 'must be "warn" or "error"')
  if (options.uncoveredRoutes !== undefined && options.uncoveredRoutes !== 'warn' && options.uncoveredRoutes !== 'error') fail('options.uncoveredRoutes', 'must be "warn" or "error"')
  if (unknownConstraints === 'error' && options.catalog === false) fail('options.unknownConstraints', 'is "error", which needs the catalog to check the constraints against: it cannot be used with catalog: false')
  if (options.allConflicts === true && options.catalog === false) fail('options.allConflicts', 'needs the catalog (the table\'s unique keys): it cannot be used with catalog: false')
  milliseconds(options.sequenceCheckInterval, 'options.sequenceCheckInterval')
  checkFunction(options.onConflict, 'options.onConflict', 'must be a function (conflict, request, reply, attempt)')
  checkLevel(options, 'options')
  const { pool, catalog } = options
  if (pool !== undefined && !(isObject(pool) && typeof pool.query === 'function')) {
    fail('options.pool', 'must be a pg.Pool or an object with a pg-compatible query() method')
  }
  if (catalog !== undefined && catalog !== false) {
    if (!isObject(catalog)) fail('options.catalog', 'must be false or an object like { schemas, minRefreshInterval, timeout }')
    checkKeys(catalog, ['schemas', 'minRefreshInterval', 'timeout'], 'options.catalog')
    const { schemas } = catalog
    if (schemas !== undefined && !(Array.isArray(schemas) && schemas.length > 0 && schemas.every((s) => typeof s === 'string'))) {
      fail('options.catalog.schemas', 'must be a non-empty array of schema names (catalog: false reads none)')
    }
    milliseconds(catalog.minRefreshInterval, 'options.catalog.minRefreshInterval')
    milliseconds(catalog.timeout, 'options.catalog.timeout')
  }
}

/** Checks a route's `config.conflict`; `where` names the route in the error. */
export function checkRouteConfig (config: unknown, where: string): asserts config is RouteConflictConfig | false | undefined {
  if (config === undefined || config === false) return
  if (!isObject(config)) fail(where, 'must be false or an object like { message, fields, expose, constraints }')
  checkKeys(config, ['retry', 'onConflict', 'replay', ...LEVEL_KEYS], where)
  checkLevel(config, where)
  checkFunction(config.onConflict, `${where}.onConflict`, 'must be a function (conflict, request, reply, attempt)')
}

/** Checks a route's `retry` and gives its policy and the constraints it covers. */
export function routeRetry (retry: unknown, where: string): { policy: RetryPolicy, constraints: Array<string | RegExp> | undefined } | undefined {
  if (retry === undefined || retry === false) return undefined
  if (!isObject(retry)) return { policy: retryPolicy(retry, where), constraints: undefined } // true, or refused there
  const { constraints, ...bounds } = retry
  if (constraints !== undefined && !(Array.isArray(constraints) && constraints.every((c) => (typeof c === 'string' && c !== '') || c instanceof RegExp))) {
    fail(`${where}.constraints`, 'must be an array of constraint names or RegExps')
  }
  return { policy: retryPolicy(bounds, where), constraints: constraints as Array<string | RegExp> | undefined }
}

/** Constraint names PostgreSQL could never report: longer than 63 bytes, so cut when created. */
export function overlongNames (rules: readonly ConstraintRule[]): string[] {
  return rules
    .filter((rule) => (rule.match ?? 'exact') === 'exact' && typeof rule.constraint === 'string' &&
      Buffer.byteLength(rule.constraint) > MAX_IDENTIFIER_BYTES)
    .map((rule) => rule.constraint as string)
}
