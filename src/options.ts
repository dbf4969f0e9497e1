import { InvalidOptionError } from './errors.js'
import type { Queryable } from './catalog.js'
import type { OnConflict } from './handler-retry.js'
import { retryPolicy, type RetryOptions, type RetryPolicy } from './retry.js'
import type { ConflictSettings, ConstraintRule } from './rules.js'

/** Options of the plugin. Each one is checked at registration. */
export interface FastifyPgConflictOptions extends ConflictSettings {
  /** Where to read the catalog: a `pg.Pool` or anything with its `query`. Default: `fastify.pg.pool` when `@fastify/postgres` is registered. */
  pool?: Queryable
  /** Settings per constraint name, prefix, suffix or pattern. */
  constraints?: ConstraintRule[]
  /** Column name to API field name (e.g. `snakeToCamel`). Default: the column name. */
  fieldName?: (column: string) => string
  /** The catalog cache; `false` to never read the catalog. */
  catalog?: false | CatalogOptions
  /** Called for every route's conflicts before the 409 (after the route's own hook). */
  onConflict?: OnConflict
  /** When a conflict comes from an id sequence behind its table: move the sequence past the table's maximum and run the handler once more. Default false. */
  repairSequences?: boolean
  /** The same column's sequence is checked at most this often, ms. Default 10000. */
  sequenceCheckInterval?: number
}

export interface CatalogOptions {
  /** Schemas to read. Default: every schema but the system ones. */
  schemas?: string[]
  /** Least time between two reads caused by unknown index names, ms. Default 5000. */
  minRefreshInterval?: number
  /** Longest a request waits for a catalog read, ms. Default 2000. */
  timeout?: number
}

/** Per-route settings: `config: { conflict: { … } }`, or `conflict: false` to leave the route's errors alone. */
export interface RouteConflictConfig extends ConflictSettings {
  constraints?: ConstraintRule[]
  fieldName?: (column: string) => string
  /** Run the handler again when it fails on a unique violation (on `constraints`, or any). */
  retry?: true | RouteRetryOptions
  /** Called for this route's conflicts before the 409, before the plugin-wide hook. */
  onConflict?: OnConflict
}

export interface RouteRetryOptions extends RetryOptions {
  /** The constraints whose violations are retried: names or patterns. Default: all. */
  constraints?: Array<string | RegExp>
}

export { InvalidOptionError }

/** PostgreSQL cuts identifiers to 63 bytes (NAMEDATALEN - 1). */
export const MAX_IDENTIFIER_BYTES = 63

function fail (where: string, problem: string): never {
  throw new InvalidOptionError(`${where} ${problem}`)
}

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function checkKeys (value: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) fail(where, `has an unknown option "${key}" (known: ${allowed.join(', ')})`)
  }
}

const SETTINGS_KEYS = ['message', 'fields', 'expose'] as const

/** Options Fastify's `register` itself takes, which reach the plugin too. */
const FASTIFY_REGISTER_KEYS = ['prefix', 'logLevel', 'logSerializers'] as const

function checkSettings (value: Record<string, unknown>, where: string): void {
  const { message, fields, expose } = value
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
}

function checkRules (rules: unknown, where: string): void {
  if (rules === undefined) return
  if (!Array.isArray(rules)) fail(where, 'must be an array of { constraint, match?, message?, fields?, expose? }')
  rules.forEach((rule: unknown, i) => {
    const at = `${where}[${i}]`
    if (!isObject(rule)) fail(at, 'must be an object like { constraint: "users_email_key", fields: ["email"] }')
    checkKeys(rule, ['constraint', 'match', ...SETTINGS_KEYS], at)
    const { constraint, match } = rule
    if (!(constraint instanceof RegExp) && (typeof constraint !== 'string' || constraint.length === 0)) {
      fail(`${at}.constraint`, 'must be a non-empty string or a RegExp')
    }
    if (match !== undefined) {
      if (match !== 'exact' && match !== 'prefix' && match !== 'suffix') fail(`${at}.match`, 'must be "exact", "prefix" or "suffix"')
      if (constraint instanceof RegExp) fail(`${at}.match`, 'does not apply to a RegExp constraint')
    }
    checkSettings(rule, at)
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
  checkKeys(options, ['pool', 'constraints', 'fieldName', 'catalog', 'onConflict', 'repairSequences', 'sequenceCheckInterval',
    ...SETTINGS_KEYS, ...FASTIFY_REGISTER_KEYS], 'options')
  if (options.repairSequences !== undefined && typeof options.repairSequences !== 'boolean') fail('options.repairSequences', 'must be true or false')
  if (options.repairSequences === true && options.catalog === false) fail('options.repairSequences', 'needs the database: it cannot be used with catalog: false')
  milliseconds(options.sequenceCheckInterval, 'options.sequenceCheckInterval')
  checkFunction(options.onConflict, 'options.onConflict', 'must be a function (conflict, request, reply, attempt)')
  checkSettings(options, 'options')
  checkRules(options.constraints, 'options.constraints')
  checkFieldName(options.fieldName, 'options.fieldName')
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
  checkKeys(config, ['constraints', 'fieldName', 'retry', 'onConflict', ...SETTINGS_KEYS], where)
  checkSettings(config, where)
  checkRules(config.constraints, `${where}.constraints`)
  checkFieldName(config.fieldName, `${where}.fieldName`)
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
