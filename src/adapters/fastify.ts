import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import type { Queryable } from '../catalog/catalog.js'
import { ConflictCounters, type ConflictCount } from '../races/counters.js'
import { describeConflict, type Conflict } from '../core/describe.js'
import { ConflictEngine, isPromise, type Understood } from '../engine/engine.js'
import { InvalidOptionError, SequenceBehindError } from '../util/errors.js'
import { pathOf } from '../util/path.js'
import type { Deadline } from '../util/deadline.js'
import { askHooks, retryingHandler, type OnConflict } from '../races/route-retry.js'
import { answeredStatuses, withResponseSchemas } from './openapi.js'
import { unknownConstraintsError } from '../engine/unmatched.js'
import { warnLoudly } from '../engine/loud.js'
import { checkPluginOptions, checkRouteConfig, routeRetry, type FastifyPgConflictOptions, type RouteConflictConfig } from '../engine/options.js'
import { findPgError, integrityKind, type PgErrorFields } from '../core/recognise.js'
import { integrityError, type ResponseFormat } from '../core/respond.js'
import { pathParameters } from '../core/locations.js'
import { DEFAULT_RETRY } from '../races/retry.js'
import { matcher, type Level } from '../core/rules.js'
import type { SequenceCheck } from '../sequences/sequences.js'
import { withTransaction, type PooledTransactionClient, type QueryClient, type TransactionOptions, type TransactionPool } from '../races/transaction.js'
import { ConnectionKeeper } from '../connections/keeper.js'
import { loadTelemetry } from './otel.js'
import { checkReplay, REPLAY_HEADER, Replayer, violatedIndex, type ReplayOptions } from '../engine/replay.js'
import { suppliedValues } from '../engine/supplied.js'

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
  /** The integrity error in a thrown value, described with the plugin-wide settings; `undefined` if it is none the plugin answers. */
  describe: (error: unknown) => Promise<Conflict | undefined>
  /** Reads the catalog again now (after a migration, say). */
  refresh: () => Promise<void>
  /** Conflicts retried, recovered and given up, by constraint, since start (route retries and `withTransaction` here). */
  counters: () => Record<string, ConflictCount>
  /**
   * `withTransaction` on the plugin's pool (the `pool` option, or `@fastify/postgres`'s), counting
   * into `counters()`. For a client already in a transaction, call `withTransaction(client, …)`.
   */
  withTransaction: <T, C extends PooledTransactionClient = QueryClient>(fn: (client: C) => Promise<T>, options?: Omit<TransactionOptions, 'counters'>) => Promise<T>
}

/**
 * What another adapter on the same app (the GraphQL one, adapters/mercurius.ts) needs to answer
 * an error as this plugin would: found on the decorator under `INTERNALS`, not public API.
 * `Symbol.for`: the same key when the package's ES module and CommonJS builds are both loaded.
 */
export const INTERNALS: unique symbol = Symbol.for('fastify-pg-conflict.internals')
export interface PluginInternals {
  engine: ConflictEngine
  /** The settings of the request's route (its `config.conflict`); `undefined`: the plugin's; `false`: the route leaves its errors alone. */
  levelOf: (request: FastifyRequest) => Level | undefined | false
  /** The request's one deadline for all the plugin's queries. */
  deadlineOf: (request: FastifyRequest) => Deadline
  /** Logs a sequence fault and, with `repairSequences`, repairs it once per request. */
  sequenceFault: (check: SequenceCheck, request: FastifyRequest | undefined, log: FastifyBaseLogger, outcome: string) => Promise<void>
  /** Reports an answer to OpenTelemetry, as the plugin's own are (the active span, the answers metric). */
  answered: (conflict: Conflict, status: number) => void
}

/** A route's level: its settings and body format. */
interface RouteLevel {
  level: Level
  format: ResponseFormat<FastifyRequest> | undefined
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
    pool, catalog: catalogOptions, onConflict, repairSequences = false, sequenceCheckInterval = 10_000,
    format: pluginFormat, openapi = false, keepConnections = true, unknownConstraints = 'warn', uncoveredRoutes = 'warn', telemetry: telemetryOption = true, ...levelOptions
  } = options
  checkRoutesBefore(fastify, uncoveredRoutes)
  // pool.query() keeps its connection after an error the server answered (docs/connections.md).
  const keeper = new ConnectionKeeper(keepConnections)
  keeper.pool(pool)
  keeper.fastifyPostgres((fastify as { pg?: unknown }).pg)
  fastify.addHook('onClose', (_instance, done) => { keeper.close(); done() })
  const engine = new ConflictEngine(levelOptions, fastify.log)
  const counters = new ConflictCounters()
  // OpenTelemetry when the application has @opentelemetry/api: span attributes and metrics (docs/opentelemetry.md).
  const telemetry = await loadTelemetry(telemetryOption, fastify.log)
  const counting = telemetry?.counting(counters) ?? counters
  /** Errors whose conflict the onConflict hooks have seen already (in the route handler). */
  const offered = new WeakSet<object>()

  /** Each route's compiled level, by its `config.conflict` (which `request.routeOptions.config` still holds). */
  const routeLevels = new WeakMap<object, RouteLevel>()

  /** Requests whose sequence fault was repaired (or tried) already: once per request. */
  const repairedFor = new WeakSet<FastifyRequest>()

  /** Replays (docs/replays.md) read through the pool the catalog is read through, set when ready. */
  let replayDb: Queryable | undefined
  const replayer = new Replayer(() => replayDb)

  /** Each request's one deadline for all the plugin's own queries, made at its first. */
  const deadlines = new WeakMap<FastifyRequest, Deadline>()
  function deadlineOf (request: FastifyRequest): Deadline {
    let deadline = deadlines.get(request)
    if (deadline === undefined) deadlines.set(request, deadline = engine.deadline())
    return deadline
  }

  /** Repairs a sequence found colliding, once per request; true when it no longer collides. */
  async function repair (check: SequenceCheck, request: FastifyRequest): Promise<boolean> {
    repairedFor.add(request)
    return await engine.repairSequence(check, request.log, deadlineOf(request))
  }

  /** A unique violation described for the retry loop and the hooks, with the route's settings. */
  async function describeUnique (pgError: PgErrorFields, route: Level | undefined, request: FastifyRequest): Promise<Conflict> {
    const understood = await engine.understand(pgError, 'unique', route, request.log, deadlineOf(request))
    // (Unique violations not answered on this route: described from the error alone.)
    return understood?.conflict ?? describeConflict(pgError, undefined, { fields: undefined, fieldName: identity })
  }

  /**
   * The route's error handler: an integrity error this route answers is answered (or handed to the
   * route's own error handler, or the scope's, as a translated error); anything else goes on
   * exactly as without this plugin. Synchronous when nothing needs waiting for.
   */
  function translating (route: RouteLevel | undefined, userHandler: ErrorHandler | undefined, hooks: readonly OnConflict[], routeParameters: readonly string[], replay?: ReplayOptions<FastifyRequest>): Translating {
    const level = route?.level
    const format = route?.format ?? pluginFormat

    /** On to the route's or the scope's error handler. Rejected, not thrown: Fastify sends a thrown value that is not an Error (a string, a plain object) as a 200 body. */
    function passOn (error: FastifyError, request: FastifyRequest, reply: FastifyReply): unknown {
      return userHandler !== undefined ? userHandler(error, request, reply) : Promise.reject(error)
    }

    function answer (understood: Understood | undefined, thrown: FastifyError, request: FastifyRequest, reply: FastifyReply): unknown {
      if (understood === undefined) return passOn(thrown, request, reply) // its kind is switched off here
      // (An error the route's handler found to be the client's, the same id colliding again after a repair, stays a conflict.)
      if (understood.fault !== undefined && !offered.has(thrown)) return serverFault(understood as Understood & { fault: SequenceCheck }, thrown, request, reply)
      if (understood.conflict.kind !== 'unique') return send(understood, request, reply)
      return toHooks(understood, thrown, request, reply)
    }

    /** A conflict from a hook (preHandler…) or a route without retries meets the hooks here; a 'retry' cannot be honoured outside the handler, so only an answer counts. */
    function toHooks (understood: Understood, thrown: FastifyError, request: FastifyRequest, reply: FastifyReply): unknown {
      if (hooks.length === 0 || offered.has(thrown)) return conclude(understood, request, reply)
      return askHooks(hooks, understood.conflict, request, reply, 1)
        .then((decision) => decision === 'answered' ? undefined : conclude(understood, request, reply))
    }

    /** A unique violation after the hooks: the route's replay when the row is this request's own, else the 409. */
    function conclude (understood: Understood, request: FastifyRequest, reply: FastifyReply): unknown {
      const index = replay === undefined ? undefined : violatedIndex(engine.cache?.catalog, understood.conflict.error)
      if (replay === undefined || index === undefined) return sendAll(understood, request, reply)
      const named = (level as Level).fieldName ?? engine.plugin.fieldName // (a route with replay has its level)
      const fieldName = named === undefined ? identity : (column: string) => named(column, index.table)
      const { values } = replay
      return replayer.replay(index, replay, {
        supplied: (columns) => values === undefined
          ? suppliedValues(columns, { body: request.body, params: request.params }, { fieldName, fieldLocations: understood.settings.fieldLocations, routeParameters })
          : new Map(Object.entries(values(request))),
        fieldName
      }, deadlineOf(request), request.log)
        .then((row) => row === undefined ? undefined : { body: replay.respond === undefined ? row : replay.respond(row) })
        .catch((err: unknown) => {
          request.log.error({ err }, 'fastify-pg-conflict: a replay failed (fieldName, values or respond threw); the conflict is answered 409')
          return undefined
        })
        .then((replayed) => {
          if (replayed === undefined) return sendAll(understood, request, reply)
          request.log.info({ constraint: understood.conflict.constraint }, 'fastify-pg-conflict: replayed the row this request wrote before, instead of a 409')
          reply.code(replay.status ?? 200).header(REPLAY_HEADER, 'true')
          return replayed.body
        })
    }

    /** A unique violation's answer, with the table's other conflicting keys when `allConflicts` applies (docs/all-conflicts.md). */
    function sendAll (understood: Understood, request: FastifyRequest, reply: FastifyReply): unknown {
      const checked = engine.withOthers(understood, { body: request.body, params: request.params }, routeParameters, level, request.log, deadlineOf(request))
      return isPromise(checked) ? checked.then(() => send(understood, request, reply)) : send(understood, request, reply)
    }

    function send (understood: Understood, request: FastifyRequest, reply: FastifyReply): unknown {
      const { conflict, settings } = understood
      const answered = engine.answer(understood, format, request, pathOf(request.url), request.log, routeParameters)
      engine.logAnswer(understood, request.log)
      telemetry?.answered(conflict, answered.status)
      // The translated error only for a handler of the application's (its stack trace costs microseconds).
      if (userHandler !== undefined) return userHandler(integrityError(conflict, answered, settings) as unknown as FastifyError, request, reply)
      if (!isFastifyDefault(request.server.errorHandler)) throw integrityError(conflict, answered, settings)
      reply.code(answered.status).headers(answered.headers)
      return answered.body
    }

    /** The id sequence is behind its table: a 500 without details, and the fix in the log. */
    async function serverFault ({ fault: sequence, conflict }: Understood & { fault: SequenceCheck }, thrown: unknown, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
      engine.logSequenceFault(sequence, request.log, 'answered 500')
      telemetry?.answered(conflict, 500)
      // This request failed; the next ones need not. (Once per request: a repair tried by the handler's retry is not repeated.)
      if (repairSequences && !repairedFor.has(request)) await repair(sequence, request)
      const error = new SequenceBehindError(`the id sequence ${sequence.sequence} is behind its table`, { cause: thrown })
      if (userHandler !== undefined) return await userHandler(error, request, reply)
      if (!isFastifyDefault(request.server.errorHandler)) throw error
      reply.code(500)
      return { statusCode: 500, error: 'Internal Server Error', message: 'Internal Server Error' }
    }

    const handler: ErrorHandler = (error, request, reply) => {
      const pgError = findPgError(error)
      const kind = pgError === undefined ? undefined : integrityKind(pgError)
      if (kind === undefined || !engine.mayAnswer(kind, level)) return passOn(error, request, reply)
      const understood = engine.resolve(pgError as PgErrorFields, kind, level, request.log, deadlineOf(request))
      return isPromise(understood)
        ? understood.then((found) => answer(found, error, request, reply))
        : answer(understood, error, request, reply)
    }
    return Object.assign(handler, { [WRAPPED]: userHandler ?? null })
  }

  fastify.addHook('onRoute', (routeOptions: RouteOptions) => {
    const userHandler = routesOwn(routeOptions.errorHandler as (ErrorHandler & { [WRAPPED]?: ErrorHandler | null }) | undefined)
    const config = routeOptions.config?.conflict
    const where = `route ${String(routeOptions.method)} ${routeOptions.url} config.conflict`
    checkRouteConfig(config, where)
    if (catalogOptions === false && config !== undefined && config !== false && config.allConflicts === true) {
      throw new InvalidOptionError(`${where}.allConflicts needs the catalog (the table's unique keys): it cannot be used with the plugin's catalog: false`)
    }
    if (config === false) {
      routeOptions.errorHandler = userHandler as RouteOptions['errorHandler']
      return
    }
    // @fastify/postgres's pg: { transact: true } runs the handler inside a transaction it began:
    // after an error every statement there fails (25P02), so nothing may run the handler again.
    const ownsTransaction = (routeOptions as { pg?: { transact?: unknown } }).pg?.transact === undefined ||
      (routeOptions as { pg?: { transact?: unknown } }).pg?.transact === false
    let route: RouteLevel | undefined
    const hooks: OnConflict[] = []
    let retry: ReturnType<typeof routeRetry>
    let replay: ReplayOptions<FastifyRequest> | undefined
    if (config !== undefined) {
      const { retry: retryConfig, onConflict: routeHook, format, replay: replayConfig, ...routeLevel } = config
      replay = checkReplay(replayConfig, `${where}.replay`, [routeOptions.method].flat())
      if (replay !== undefined && catalogOptions === false) throw new InvalidOptionError(`${where}.replay needs the database (it reads the row that won the conflict): it cannot be used with catalog: false`)
      route = { level: engine.level(routeLevel, `route ${routeOptions.url}: `, fastify.log), format }
      routeLevels.set(config, route)
      if (routeHook !== undefined) hooks.push(routeHook)
      retry = routeRetry(retryConfig, `${where}.retry`)
      if (retry !== undefined && !ownsTransaction) {
        throw new InvalidOptionError(`${where}.retry: the handler runs inside a transaction it does not own (pg: { transact: true }), where a retry can only fail with 25P02; retry the whole transaction with withTransaction() instead`)
      }
      if (openapi) routeOptions.schema = withResponseSchemas(routeOptions.schema, route.format ?? pluginFormat, answeredStatuses(engine, route.level))
    }
    if (onConflict !== undefined) hooks.push(onConflict)
    routeOptions.errorHandler = translating(route, userHandler, hooks, pathParameters(routeOptions.url), replay) as RouteOptions['errorHandler']

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
      describe: async (pgError, request) => await describeUnique(pgError, route?.level, request),
      counters: counting,
      offered,
      sequenceColliding: (conflict, request) => engine.sequenceColliding(conflict, deadlineOf(request)),
      repair: repairSequences ? repair : undefined
    })
    routeOptions.handler = Object.assign(wrapped, { [WRAPPED]: handler })
  })

  fastify.addHook('onReady', async function () {
    keeper.fastifyPostgres((this as { pg?: unknown }).pg) // registered after this plugin
    if (catalogOptions === false) return
    const db = pool ?? (this as FastifyInstance & { pg?: { pool?: Queryable } }).pg?.pool
    if (db === undefined) {
      if (repairSequences) this.log.warn('fastify-pg-conflict: repairSequences does nothing without a pool (the pool option, or @fastify/postgres registered before ready)')
      if (unknownConstraints === 'error') throw new InvalidOptionError('options.unknownConstraints is "error", which needs the database to check the constraints against: the pool option, or @fastify/postgres registered before ready')
      return
    }
    replayDb = db
    // Start-up waits for the first read at most `timeout`; a slower read still fills the cache when it ends.
    await engine.connect(db, {
      schemas: catalogOptions?.schemas,
      minRefreshInterval: catalogOptions?.minRefreshInterval ?? 5000,
      timeout: catalogOptions?.timeout ?? 2000,
      sequenceCheckInterval,
      repairSequences,
      log: this.log,
      unknownConstraints
    })
    if (engine.refused.length > 0) throw unknownConstraintsError(engine.refused)
  })

  const internals: PluginInternals = {
    engine,
    levelOf (request) {
      const config = request.routeOptions.config.conflict
      return config === false ? false : config === undefined ? undefined : routeLevels.get(config)?.level
    },
    deadlineOf,
    async sequenceFault (check, request, log, outcome) {
      engine.logSequenceFault(check, log, outcome)
      if (!repairSequences) return
      if (request === undefined) await engine.repairSequence(check, log)
      else if (!repairedFor.has(request)) await repair(check, request)
    },
    answered (conflict, status) { telemetry?.answered(conflict, status) }
  }

  fastify.decorate('pgConflict', {
    async describe (error: unknown) {
      return await engine.describe(error, fastify.log)
    },
    async refresh () {
      await engine.cache?.refresh()
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
      return await withTransaction(db as unknown as TransactionPool<C>, fn, { ...options, counters: counting })
    }
  } satisfies PgConflictDecorator)
  Object.defineProperty(fastify.pgConflict, INTERNALS, { value: internals })
}

/** The apps (by their server, which every scope of an app shares) where this plugin was registered already. */
const registeredIn = new WeakSet<object>()

/**
 * Routes declared before the plugin's first registration in the app: Fastify gave them their error
 * handling when they were declared, and the plugin's onRoute hook never saw them, so their
 * integrity errors are not answered (a duplicate gets Fastify's 500, naming the constraint). That
 * is the case when the registration is not awaited before routes are declared (CommonJS, without
 * top-level await), or comes after them. No public API reaches such routes, and an error handler
 * set on the application's scope would collide with the application's own: they are named, in a
 * warning heard without a logger too, or refused with `uncoveredRoutes: 'error'`. A later
 * registration (in a child scope) says nothing: the routes before it were the first's to see.
 */
function checkRoutesBefore (fastify: FastifyInstance, uncoveredRoutes: 'warn' | 'error'): void {
  if (registeredIn.has(fastify.server)) return
  registeredIn.add(fastify.server)
  const routes = fastify.printRoutes({ commonPrefix: false })
  if (routes === '(empty tree)') return
  const message = 'these routes were declared before the plugin was registered, so it never sees them and their integrity errors are not answered ' +
    "(a duplicate gets Fastify's 500, naming the constraint):\n" +
    routes.trimEnd().split('\n').map((line) => `  ${line}`).join('\n') + '\n' +
    'Register fastify-pg-conflict before declaring routes: `await app.register(fastifyPgConflict, …)` first; without top-level await (CommonJS), ' +
    'declare them in `app.after(() => { … })` or in a plugin registered after it.'
  if (uncoveredRoutes === 'error') throw new InvalidOptionError(`${message} (uncoveredRoutes is 'error')`)
  warnLoudly(fastify.log, `fastify-pg-conflict: ${message}`, 'PG_CONFLICT_UNCOVERED_ROUTES')
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

export const fastifyPgConflict = fp(plugin, { fastify: '5.x', name: 'fastify-pg-conflict' })
