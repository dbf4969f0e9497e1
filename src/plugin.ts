import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import { CatalogCache } from './catalog-cache.js'
import type { Queryable } from './catalog.js'
import { parseKeyDetail } from './detail.js'
import { describeConflict, indexMatchesDetail, type Conflict } from './describe.js'
import {
  checkPluginOptions, checkRouteConfig, InvalidOptionError, overlongNames, routeRetry, MAX_IDENTIFIER_BYTES,
  type FastifyPgConflictOptions, type RouteConflictConfig
} from './options.js'
import { ConflictCounters, type ConflictCount } from './counters.js'
import { askHooks, retryingHandler, type OnConflict } from './handler-retry.js'
import { findUniqueViolation, type PgErrorFields } from './recognise.js'
import { DEFAULT_RETRY } from './retry.js'
import { SequenceWatch } from './sequence-watch.js'
import type { SequenceCheck } from './sequences.js'
import { SequenceBehindError } from './errors.js'
import { withTransaction, type PooledTransactionClient, type TransactionOptions, type TransactionPool } from './transaction.js'
import { conflictBody, conflictError, defaultMessage, logEntry } from './respond.js'
import { matcher, resolveSettings, RuleSet, type ConflictSettings, type ConstraintRule, type ResolvedSettings } from './rules.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** fastify-pg-conflict's settings for this route; `false` leaves its errors alone. */
    conflict?: RouteConflictConfig | false
  }
  interface FastifyInstance {
    pgConflict: PgConflictDecorator
  }
}

/** `fastify.pgConflict`: the plugin's core, for application code that handles errors itself. */
export interface PgConflictDecorator {
  /** The conflict in a thrown value, described with the plugin-wide settings; `undefined` if it is no unique violation. */
  describe: (error: unknown) => Promise<Conflict | undefined>
  /** Reads the catalog again now (after a migration, say). */
  refresh: () => Promise<void>
  /** Conflicts retried, recovered and given up, by constraint, since start (route retries and `withTransaction` here). */
  counters: () => Record<string, ConflictCount>
  /**
   * `withTransaction` on the plugin's pool (the `pool` option, or `@fastify/postgres`'s), counting
   * into `counters()`. For a client already in a transaction, call `withTransaction(client, …)`.
   */
  withTransaction: <T, C extends PooledTransactionClient = PooledTransactionClient>(fn: (client: C) => Promise<T>, options?: Omit<TransactionOptions, 'counters'>) => Promise<T>
}

/** One level of settings: the plugin's, or a route's. */
interface Level {
  rules: RuleSet
  settings: ConflictSettings
  fieldName: ((column: string) => string) | undefined
}

type ErrorHandler = (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => unknown

/** On the error handlers and route handlers this plugin installs: the route's own one it wraps (or `null`). */
const WRAPPED = Symbol('fastify-pg-conflict.wrapped')
type Translating = ErrorHandler & { [WRAPPED]: ErrorHandler | null }
type Handler = RouteOptions['handler']

const identity = (column: string): string => column

/**
 * Fastify's own error handler is the only unbound one: `setErrorHandler` binds the user's to its
 * instance, so theirs is named `bound …` whatever they called it.
 */
function isFastifyDefault (handler: (...args: never[]) => unknown): boolean {
  return handler.name === 'defaultErrorHandler'
}

// async, so that a bad option rejects the registration (avvio does not catch a callback plugin's throw)
const plugin: FastifyPluginAsync<FastifyPgConflictOptions> = async function fastifyPgConflict (fastify, options) {
  checkPluginOptions(options)
  const {
    pool, catalog: catalogOptions, constraints = [], fieldName, onConflict,
    repairSequences = false, sequenceCheckInterval = 10_000, ...settings
  } = options
  const pluginLevel: Level = { rules: new RuleSet(constraints), settings, fieldName }
  const configured = new Set<ConstraintRule>() // every rule, for the start-up check against the catalog
  let cache: CatalogCache | undefined
  let sequences: SequenceWatch | undefined
  const counters = new ConflictCounters()
  /** Errors whose conflict the onConflict hooks have seen already (in the route handler). */
  const offered = new WeakSet<object>()

  /** Keeps a rule for the start-up check, and warns now of a name PostgreSQL would cut. */
  function remember (rules: readonly ConstraintRule[], where: string): void {
    for (const rule of rules) {
      if (configured.has(rule)) continue // the HEAD route Fastify copies from a GET has the same rules
      configured.add(rule)
      for (const name of overlongNames([rule])) {
        fastify.log.warn(`fastify-pg-conflict: ${where}constraint "${name}" is longer than ${MAX_IDENTIFIER_BYTES} bytes; PostgreSQL cuts names to that length, so it never reports this one`)
      }
    }
  }
  remember(constraints, '')

  /** Describe a unique violation and settle its settings, route level first. */
  async function understand (pgError: PgErrorFields, route: Level | undefined, log: FastifyBaseLogger): Promise<{ conflict: Conflict, settings: ResolvedSettings }> {
    const detail = parseKeyDetail(pgError.detail)
    const index = pgError.constraint === undefined || cache === undefined
      ? undefined
      : await cache.find(pgError.constraint, pgError.schema, (found) => indexMatchesDetail(found, detail))
    const names = [index?.parent?.name, pgError.constraint]
    const settings = resolveSettings([route?.rules.match(names), route?.settings, pluginLevel.rules.match(names), pluginLevel.settings])
    const conflict = describeConflict(pgError, index, {
      fields: settings.fields,
      fieldName: guardFieldName(route?.fieldName ?? pluginLevel.fieldName, log)
    }, detail)
    return { conflict, settings: { ...settings, message: guardMessage(settings.message, log) } }
  }

  /** The sequence check of a conflict that is an id sequence colliding with its table, else `undefined`. */
  async function sequenceColliding (conflict: Conflict): Promise<SequenceCheck | undefined> {
    return await sequences?.colliding(conflict)
  }

  /** Requests whose sequence fault was repaired (or tried) already: once per request. */
  const repairedFor = new WeakSet<FastifyRequest>()

  /**
   * Repairs a sequence found colliding (or waits for the repair under way), logging what happened;
   * true when it no longer collides, so that running the handler again makes sense.
   */
  async function repair (check: SequenceCheck, request: FastifyRequest): Promise<boolean> {
    repairedFor.add(request)
    try {
      const { moved } = await (sequences as SequenceWatch).repair(check)
      if (moved) request.log.warn({ sequence: sequenceLog(check) }, `fastify-pg-conflict: repaired the sequence ${check.sequence}, which was behind ${check.table}.${check.column}`)
      return true
    } catch (err) {
      request.log.error({ err, sequence: sequenceLog(check) }, `fastify-pg-conflict: could not repair the sequence ${check.sequence}`)
      return false
    }
  }

  function translating (route: Level | undefined, userHandler: ErrorHandler | undefined, hooks: readonly OnConflict[]): Translating {
    async function answer (pgError: PgErrorFields, thrown: unknown, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
      const { conflict, settings } = await understand(pgError, route, request.log)
      const sequence = await sequenceColliding(conflict)
      if (sequence !== undefined) return await serverFault(sequence, thrown, request, reply)
      // A conflict from a hook (preHandler…) or a route without retries meets the hooks here; a
      // 'retry' cannot be honoured outside the handler, so only an answer counts.
      if (hooks.length > 0 && !offered.has(thrown as object) && await askHooks(hooks, conflict, request, reply, 1) === 'answered') return undefined
      const body = conflictBody(conflict, settings)
      request.log.info(logEntry(conflict, settings), 'unique violation')
      // The translated error only for a handler of the application's (its stack trace costs microseconds).
      if (userHandler !== undefined) return await userHandler(conflictError(conflict, body), request, reply)
      if (!isFastifyDefault(request.server.errorHandler)) throw conflictError(conflict, body)
      reply.code(409)
      return body
    }
    /** The id sequence is behind its table: a 500 without details, and the fix in the log. */
    async function serverFault (sequence: SequenceCheck, thrown: unknown, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
      request.log.error({ sequence: sequenceLog(sequence) },
        `fastify-pg-conflict: the sequence ${sequence.sequence} is behind ${sequence.table}.${sequence.column} (at ${sequence.lastValue}, the table's maximum is ${String(sequence.max)}): ` +
        `every insert taking the default id collides. Not the client's fault: answered 500. Fix: ${String(sequence.fixSql)}`)
      // This request failed; the next ones need not. (Once per request: a repair tried by the handler's retry is not repeated.)
      if (repairSequences && !repairedFor.has(request)) await repair(sequence, request)
      const error = new SequenceBehindError(`the id sequence ${sequence.sequence} is behind its table`, { cause: thrown })
      if (userHandler !== undefined) return await userHandler(error, request, reply)
      if (!isFastifyDefault(request.server.errorHandler)) throw error
      reply.code(500)
      return { statusCode: 500, error: 'Internal Server Error', message: 'Internal Server Error' }
    }

    const handler: ErrorHandler = (error, request, reply) => {
      const pgError = findUniqueViolation(error)
      if (pgError !== undefined) return answer(pgError, error, request, reply)
      if (userHandler !== undefined) return userHandler(error, request, reply)
      // On to the scope's error handler, exactly as without this plugin. Rejected, not thrown: Fastify
      // sends a thrown value that is not an Error (a string, a plain object) as a 200 body.
      return Promise.reject(error)
    }
    return Object.assign(handler, { [WRAPPED]: userHandler ?? null })
  }

  fastify.addHook('onRoute', (routeOptions: RouteOptions) => {
    const userHandler = routesOwn(routeOptions.errorHandler as (ErrorHandler & { [WRAPPED]?: ErrorHandler | null }) | undefined)
    const config = routeOptions.config?.conflict
    checkRouteConfig(config, `route ${String(routeOptions.method)} ${routeOptions.url} config.conflict`)
    if (config === false) {
      routeOptions.errorHandler = userHandler as RouteOptions['errorHandler']
      return
    }
    const where = `route ${String(routeOptions.method)} ${routeOptions.url} config.conflict`
    // @fastify/postgres's pg: { transact: true } runs the handler inside a transaction it began:
    // after an error every statement there fails (25P02), so nothing may run the handler again.
    const ownsTransaction = (routeOptions as { pg?: { transact?: unknown } }).pg?.transact === undefined ||
      (routeOptions as { pg?: { transact?: unknown } }).pg?.transact === false
    let route: Level | undefined
    const hooks: OnConflict[] = []
    let retry: ReturnType<typeof routeRetry>
    if (config !== undefined) {
      const { constraints: routeRules = [], fieldName: routeFieldName, retry: retryConfig, onConflict: routeHook, ...routeSettings } = config
      route = { rules: new RuleSet(routeRules), settings: routeSettings, fieldName: routeFieldName }
      remember(routeRules, `route ${routeOptions.url}: `)
      if (routeHook !== undefined) hooks.push(routeHook)
      retry = routeRetry(retryConfig, `${where}.retry`)
      if (retry !== undefined && !ownsTransaction) {
        throw new InvalidOptionError(`${where}.retry: the handler runs inside a transaction it does not own (pg: { transact: true }), where a retry can only fail with 25P02; retry the whole transaction with withTransaction() instead`)
      }
    }
    if (onConflict !== undefined) hooks.push(onConflict)
    routeOptions.errorHandler = translating(route, userHandler, hooks) as RouteOptions['errorHandler']

    const handler = routesOwn(routeOptions.handler as Handler & { [WRAPPED]?: Handler }) as Handler // a route always has one
    if (retry === undefined && hooks.length === 0 && !repairSequences) {
      routeOptions.handler = handler // no wrapper: this route's success path is untouched
      return
    }
    const matchers = retry?.constraints?.map((constraint) => matcher({ constraint }))
    const wrapped = retryingHandler(handler, {
      policy: retry?.policy,
      retries: (conflict) => matchers === undefined ||
        matchers.some((matches) => [conflict.constraint, conflict.error.constraint].some((name) => name !== undefined && matches(name))),
      fallbackPolicy: DEFAULT_RETRY,
      mayRunAgain: ownsTransaction,
      hooks,
      describe: async (pgError, request) => (await understand(pgError, route, request.log)).conflict,
      counters,
      offered,
      sequenceColliding,
      repair: repairSequences ? repair : undefined
    })
    routeOptions.handler = Object.assign(wrapped, { [WRAPPED]: handler })
  })

  fastify.addHook('onReady', async function () {
    if (catalogOptions === false) return
    const db = pool ?? (this as FastifyInstance & { pg?: { pool?: Queryable } }).pg?.pool
    if (db === undefined) {
      if (repairSequences) this.log.warn('fastify-pg-conflict: repairSequences does nothing without a pool (the pool option, or @fastify/postgres registered before ready)')
      return
    }
    let checked = false
    cache = new CatalogCache(db, {
      schemas: catalogOptions?.schemas,
      minRefreshInterval: catalogOptions?.minRefreshInterval ?? 5000,
      timeout: catalogOptions?.timeout ?? 2000,
      onRead: (catalog) => {
        if (checked) return
        checked = true
        warnUnmatched(this, [...catalog.names()], configured)
      },
      onError: (err) => { this.log.warn({ err }, 'fastify-pg-conflict: could not read the catalog; fields come from DETAIL alone until it can') }
    })
    sequences = new SequenceWatch(db, {
      interval: sequenceCheckInterval,
      timeout: catalogOptions?.timeout ?? 2000,
      onError: (err) => { this.log.warn({ err }, 'fastify-pg-conflict: could not check an id sequence; the conflict is answered as a conflict') }
    })
    // Start-up waits for the first read at most `timeout`; a slower read still fills the cache when it ends.
    await cache.refresh()
  })

  fastify.decorate('pgConflict', {
    async describe (error: unknown) {
      const pgError = findUniqueViolation(error)
      return pgError === undefined ? undefined : (await understand(pgError, undefined, fastify.log)).conflict
    },
    async refresh () {
      await cache?.refresh()
    },
    counters: () => counters.snapshot(),
    async withTransaction<T, C extends PooledTransactionClient> (fn: (client: C) => Promise<T>, options: Omit<TransactionOptions, 'counters'> = {}): Promise<T> {
      const db = pool ?? (fastify as FastifyInstance & { pg?: { pool?: Queryable } }).pg?.pool
      if (db === undefined) throw new InvalidOptionError('pgConflict.withTransaction needs a pool: the pool option, or @fastify/postgres registered')
      // A query-only pool (a wrapper with just query()) would run BEGIN, the statements and COMMIT
      // on whichever connections it hands out: a transaction needs connect() and a client of its own.
      const pooled = db as { connect?: unknown, totalCount?: unknown }
      if (typeof pooled.connect !== 'function' || typeof pooled.totalCount !== 'number') {
        throw new InvalidOptionError('pgConflict.withTransaction needs a pg.Pool (with connect()); the pool option given has only query(): call withTransaction(pool, fn) with the real pool')
      }
      return await withTransaction(db as unknown as TransactionPool<C>, fn, { ...options, counters })
    }
  } satisfies PgConflictDecorator)
}

/** What the log says of a sequence found behind. */
function sequenceLog (check: SequenceCheck): object {
  return { name: check.sequence, kind: check.kind, table: `${check.schema}.${check.table}`, column: check.column, lastValue: check.lastValue, max: check.max, fix: check.fixSql }
}

/**
 * The route's own error handler or handler, under any of ours: one of ours is there already when
 * the plugin is registered again in a child scope (the closer registration wins) and on the HEAD
 * route Fastify copies from a GET.
 */
function routesOwn<F> (installed: (F & { [WRAPPED]?: F | null }) | undefined): F | undefined {
  const wrapped = installed?.[WRAPPED]
  return wrapped === undefined ? installed : wrapped ?? undefined
}

/** Warns of configured constraints that no index in the database answers to: typos, renamed or cut names. */
function warnUnmatched (fastify: FastifyInstance, names: string[], rules: Iterable<ConstraintRule>): void {
  for (const rule of rules) {
    if (!names.some(matcher(rule))) {
      fastify.log.warn(`fastify-pg-conflict: no unique index or constraint in the database matches the configured constraint ${String(rule.constraint)}${rule.match === undefined || rule.match === 'exact' ? '' : ` (${rule.match})`}`)
    }
  }
}

/**
 * The application's `fieldName`, made safe: a throw or a result that is not a non-empty string
 * keeps the column name, and is logged as the bug it is. A conflict stays a 409.
 */
function guardFieldName (fieldName: ((column: string) => string) | undefined, log: FastifyBaseLogger): (column: string) => string {
  if (fieldName === undefined) return identity
  return (column) => {
    try {
      const field: unknown = fieldName(column)
      if (typeof field === 'string' && field !== '') return field
      log.error(`fastify-pg-conflict: fieldName("${column}") returned ${typeof field === 'string' ? 'an empty string' : typeof field}, not a field name; the column name is used`)
    } catch (err) {
      log.error({ err }, `fastify-pg-conflict: fieldName("${column}") threw; the column name is used`)
    }
    return column
  }
}

/** The configured message function, made safe the same way: the default message stands in for a bad one. */
function guardMessage (message: ResolvedSettings['message'], log: FastifyBaseLogger): ResolvedSettings['message'] {
  if (typeof message !== 'function') return message
  return (conflict) => {
    try {
      const text: unknown = message(conflict)
      if (typeof text === 'string') return text
      log.error(`fastify-pg-conflict: the message function returned ${typeof text}, not a string; the default message is used`)
    } catch (err) {
      log.error({ err }, 'fastify-pg-conflict: the message function threw; the default message is used')
    }
    return defaultMessage(conflict.fields)
  }
}

export const fastifyPgConflict = fp(plugin, { fastify: '5.x', name: 'fastify-pg-conflict' })
