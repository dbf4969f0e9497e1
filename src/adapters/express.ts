import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express'
import type { CatalogCache } from '../catalog/cache.js'
import type { Queryable } from '../catalog/catalog.js'
import type { Conflict } from '../core/describe.js'
import { ConflictEngine, isPromise, type LevelOptions, type Log, type Maybe, type Understood } from '../engine/engine.js'
import { InvalidOptionError, SequenceBehindError } from '../util/errors.js'
import { unknownConstraintsError, type UnknownConstraints } from '../engine/unmatched.js'
import { pathOf } from '../util/path.js'
import type { Deadline } from '../util/deadline.js'
import { checkKeys, checkLevel, checkPluginOptions, fail, isObject, LEVEL_KEYS, type CatalogOptions } from '../engine/options.js'
import { findPgError, integrityKind, type IntegrityKind, type PgErrorFields } from '../core/recognise.js'
import type { ResponseFormat } from '../core/respond.js'
import { pathParameters } from '../core/locations.js'
import { compileLevel, type ConflictSettings, type ConstraintRule, type ErrorKinds, type Level } from '../core/rules.js'
import type { SequenceCheck } from '../sequences/sequences.js'
import { keepConnections as keepPoolConnections } from '../connections/pool.js'
import { loadTelemetry, type Telemetry } from './otel.js'
import { checkReplay, REPLAY_HEADER, Replayer, violatedIndex, type ReplayOptions } from '../engine/replay.js'
import { suppliedValues } from '../engine/supplied.js'

/**
 * `fastify-pg-conflict/express`: the same core as the Fastify plugin, as an Express 5 error
 * middleware. `pgConflict(options)` answers the integrity errors that reach it (an async handler's
 * rejection, a `next(err)`) with the plugin's bodies and log lines, and hands everything else to
 * `next(err)` untouched; `conflictConfig(config)` before a route's handler gives that route its
 * own settings. No runtime dependency on Express: only its types.
 */

/** What the middleware logs through: pino's shape (pino-http's `req.log`, a pino logger); `console` works too. */
export type ConflictLogger = Log

/** Options of `pgConflict()`. Each one is checked when the middleware is made. */
export interface PgConflictExpressOptions extends ConflictSettings {
  /** Where to read the catalog (unique indexes, constraints): a `pg.Pool` or anything with its `query`. Without it, fields come from DETAIL alone. */
  pool?: Queryable
  /** The catalog cache; `false` to never read the catalog. */
  catalog?: false | CatalogOptions
  /** Settings per constraint name, prefix, suffix or pattern. */
  constraints?: ConstraintRule[]
  /** Column name to API field name (`snakeToCamel`, `prismaFieldNames(…)`); `table` is the column's, when known. Default: the column name. */
  fieldName?: (column: string, table?: string) => string
  /** Which integrity errors are answered, and how (status, message, Problem Details type). Default: all. */
  errors?: ErrorKinds
  /** The body: `fastify` (default), `problem` (RFC 9457 Problem Details), or `(parts, req) => body`. */
  format?: ResponseFormat<Request>
  /**
   * When a unique violation comes from an id sequence behind its table (a 500, the server's fault):
   * move the sequence forward to the end of the ids packed above it, so that the next requests succeed. The request that
   * met it is still passed on as a 500: a middleware cannot run the handler again. Needs `pool`.
   */
  repairSequences?: boolean
  /** The same column's sequence is checked at most this often, ms. Default 10000. */
  sequenceCheckInterval?: number
  /** Logs when the request has no `req.log` (pino-http), and the catalog's warnings. Default: nothing is logged (warnings about the configuration are still printed, as process warnings). */
  logger?: ConflictLogger
  /**
   * `pool.query()` keeps its connection when the server answered an error (a conflict…) and the
   * session is idle again outside a transaction; pg-pool would close it. Applies to the `pool`
   * option's pg Pool, whose `query` is replaced. Default true; `false` leaves the pool as it is.
   * See docs/connections.md.
   */
  keepConnections?: boolean
  /**
   * A configured constraint that matches no index or constraint in the database: `warn` (default),
   * or `error` for `ready()` to reject, for CI. Needs `pool`; checked when `ready()` reads the
   * catalog (call it at start-up, before requests): a `conflictConfig`'s rules, met later, are warned of.
   */
  unknownConstraints?: UnknownConstraints
  /**
   * OpenTelemetry: when `@opentelemetry/api` is installed, the active span gets the SQLSTATE,
   * `error.type` and the constraint of each answer, and answers are counted as metrics. Loaded when
   * the middleware is made (`ready()` waits for it). Default true; `false` leaves OpenTelemetry
   * alone. See docs/opentelemetry.md.
   */
  telemetry?: boolean
}

/** A route's (or a router's) own settings, over the middleware's: `conflictConfig({ … })`. */
export interface ConflictRouteConfig extends ConflictSettings {
  constraints?: ConstraintRule[]
  fieldName?: (column: string, table?: string) => string
  errors?: ErrorKinds
  format?: ResponseFormat<Request>
  /** Answer a conflict with this request's own earlier row (a retried create) instead of a 409: docs/replays.md. */
  replay?: boolean | ReplayOptions<Request>
}

/** The error middleware, with the catalog's controls. */
export interface PgConflictMiddleware extends ErrorRequestHandler {
  (err: unknown, req: Request, res: Response, next: NextFunction): void | Promise<void>
  /**
   * Reads the catalog now rather than at the first integrity error, and warns of constraint rules
   * that match nothing. Waits at most `catalog.timeout`. Call it at start-up. Rejects only with
   * `unknownConstraints: 'error'`, when a rule matches nothing.
   */
  ready: () => Promise<void>
  /** Reads the catalog again (after a migration, say). Never rejects. */
  refresh: () => Promise<void>
  /** The integrity error in a thrown value, described with the middleware's settings; `undefined` if there is none it answers. */
  describe: (error: unknown) => Promise<Conflict | undefined>
}

export { InvalidOptionError }
export type { Conflict } from '../core/describe.js'
export type { AnswerParts, ConflictBody, ProblemBody, ResponseFormat } from '../core/respond.js'
export type { ConflictSettings, ConstraintRule, ErrorKinds, Expose, KindSettings, SerializationSettings, Message } from '../core/rules.js'
export type { FieldLocation, FieldLocations, FieldPlace, FieldProblem } from '../core/locations.js'
export type { CatalogOptions, UnknownConstraints } from '../engine/options.js'
export type { Queryable } from '../catalog/catalog.js'

/** A route's level, compiled once by `conflictConfig`. */
interface RouteLevel {
  level: Level
  format: ResponseFormat<Request> | undefined
  /** As given: the middlewares that meet it check its rules (names too long, names in no index). */
  options: LevelOptions
  replay: ReplayOptions<Request> | undefined
}

/** The level `conflictConfig` gave each request (`false`: leave its errors alone). */
const routeLevels = new WeakMap<Request, RouteLevel | false>()

/**
 * The route's path parameters, kept by a `conflictConfig` with `allConflicts` or `replay` (the
 * error middleware sees its own `req.params`, not the route's): what those read them from.
 */
const routeParams = new WeakMap<Request, unknown>()

/**
 * Integrity errors a `pgConflict` middleware left alone on purpose (their kind is switched off
 * there): the middlewares further out (a router's error goes on to the app's) leave them alone too.
 */
const declined = new WeakSet<object>()

/**
 * The names of the path parameters of the route that failed, from its definition (`req.route.path`;
 * Express has put `req.params` back to the error middleware's own by then). A router's mount
 * path is not known here: say where such fields are with `fieldLocations`.
 */
function routeParametersOf (req: Request): string[] {
  const path: unknown = (req as { route?: { path?: unknown } }).route?.path
  return (Array.isArray(path) ? path : [path]).flatMap((one: unknown) => typeof one === 'string' ? pathParameters(one) : [])
}

/** What `handle` gives when it sent the answer; otherwise it gives the error for `next`. */
const ANSWERED = Symbol('answered')

const noop = (): void => {}
const identity = (column: string): string => column
const SILENT: Log = { info: noop, warn: noop, error: noop }

const OPTION_KEYS = ['pool', 'catalog', 'repairSequences', 'sequenceCheckInterval', 'logger', 'unknownConstraints', ...LEVEL_KEYS, 'keepConnections', 'telemetry'] as const

function isLog (value: unknown): value is Log {
  const log = value as Partial<Record<keyof Log, unknown>> | null | undefined
  return typeof log?.info === 'function' && typeof log.warn === 'function' && typeof log.error === 'function'
}

function checkOptions (options: unknown): asserts options is PgConflictExpressOptions {
  if (!isObject(options)) fail('options', 'must be an object')
  checkKeys(options, OPTION_KEYS, 'options')
  const { logger, ...shared } = options
  if (logger !== undefined && !isLog(logger)) fail('options.logger', 'must be a logger with info, warn and error methods, such as a pino logger')
  checkPluginOptions(shared) // the plugin's checks and messages for every option the two share
  if (shared.repairSequences === true && shared.pool === undefined) fail('options.repairSequences', 'needs the database: give the pool option')
  if (shared.allConflicts === true && shared.pool === undefined) fail('options.allConflicts', 'needs the database (the table\'s unique keys): give the pool option')
  if (shared.unknownConstraints === 'error' && shared.pool === undefined) fail('options.unknownConstraints', 'is "error", which needs the database to check the constraints against: give the pool option')
}

/**
 * A route's (or router's) own settings: put it before the handler, as in
 * `app.post('/users', conflictConfig({ fields: 'email' }), handler)`, or `router.use(conflictConfig(…))`
 * for every route after it. The closest one wins. `false` leaves the route's integrity errors alone.
 * Checked and compiled here, once.
 */
export function conflictConfig (config: ConflictRouteConfig | false): RequestHandler {
  let route: RouteLevel | false = false
  if (config !== false) {
    if (!isObject(config)) fail('conflictConfig', 'must be false or an object like { message, fields, expose, constraints }')
    checkKeys(config, [...LEVEL_KEYS, 'replay'], 'conflictConfig')
    checkLevel(config, 'conflictConfig')
    const { format, replay, ...options } = config as ConflictRouteConfig
    // The method is not known here: a route without a body meets no value to compare, a 409.
    route = { level: compileLevel(options), format, options, replay: checkReplay(replay, 'conflictConfig.replay', []) }
  }
  const level = route
  const keepsParams = route !== false && (route.options.allConflicts === true || route.replay !== undefined)
  return function conflictConfigMiddleware (req, _res, next) {
    routeLevels.set(req, level)
    if (keepsParams) routeParams.set(req, req.params)
    next()
  }
}

/**
 * The error middleware: `app.use(pgConflict({ pool }))` after the routes (or `router.use(…)`
 * after a router's, for that router's errors). The catalog is read at the first integrity error,
 * or at `ready()`.
 */
export function pgConflict (options: PgConflictExpressOptions = {}): PgConflictMiddleware {
  checkOptions(options)
  const { pool, catalog, repairSequences = false, sequenceCheckInterval = 10_000, format, logger, unknownConstraints = 'warn', keepConnections = true, telemetry: telemetryOption = true, ...levelOptions } = options
  if (keepConnections) keepPoolConnections(pool)
  const base = logger ?? SILENT
  const engine = new ConflictEngine(levelOptions, base)
  // OpenTelemetry when the application has @opentelemetry/api (docs/opentelemetry.md): in use once loaded.
  let telemetry: Telemetry | undefined
  const telemetryLoaded = loadTelemetry(telemetryOption, base).then((loaded) => { telemetry = loaded })
  const catalogOptions = catalog === false ? undefined : catalog
  /** Where the catalog is read, if anywhere. */
  const db = catalog === false ? undefined : pool
  let connecting: Promise<void> | undefined
  /** Whether the first read is over (or waited for as long as `timeout`), or there is none to make. */
  let connected = db === undefined
  /** Route levels whose rules this middleware has checked. */
  const adopted = new WeakSet<RouteLevel>()
  const replayer = new Replayer(() => db)

  /**
   * Starts the first catalog read, once; waits for it at most `timeout`. Constraints that match
   * nothing are refused (kept for `ready()` to reject with) only when `ready()` starts the read.
   */
  function connect (refuse = false): Promise<void> {
    connecting ??= engine.connect(db as Queryable, {
      schemas: catalogOptions?.schemas,
      minRefreshInterval: catalogOptions?.minRefreshInterval ?? 5000,
      timeout: catalogOptions?.timeout ?? 2000,
      sequenceCheckInterval,
      repairSequences,
      log: base,
      unknownConstraints: refuse ? unknownConstraints : 'warn'
    }).then(() => { connected = true })
    return connecting
  }

  function logOf (req: Request): Log {
    const log = (req as { log?: unknown }).log // pino-http's
    return isLog(log) ? log : base
  }

  /** The error, or `ANSWERED` once the answer is sent. Without a promise when nothing needs waiting for. */
  function handle (err: unknown, req: Request, res: Response): Maybe<unknown> {
    if (res.headersSent) return err
    const pgError = findPgError(err)
    const kind = pgError === undefined ? undefined : integrityKind(pgError)
    if (kind === undefined || declined.has(err as object)) return err
    const route = routeLevels.get(req)
    if (route === false) return err
    const log = logOf(req)
    if (route !== undefined && !adopted.has(route)) {
      adopted.add(route)
      engine.level(route.options, 'conflictConfig: ', log) // warns of names too long; checked against the catalog if its first read is still to come
    }
    if (!engine.mayAnswer(kind, route?.level)) return decline(err)
    // One deadline for all the middleware's queries for this request, the first catalog read included
    // (made once that read has begun: it sets the engine's timeout).
    const first = connected ? undefined : connect()
    const deadline = engine.deadline()
    if (first !== undefined) return deadline.within(first).then(() => resolve(pgError as PgErrorFields, kind, route, err, req, res, log, deadline))
    return resolve(pgError as PgErrorFields, kind, route, err, req, res, log, deadline)
  }

  function decline (err: unknown): unknown {
    declined.add(err as object)
    return err
  }

  function resolve (pgError: PgErrorFields, kind: IntegrityKind, route: RouteLevel | undefined, err: unknown, req: Request, res: Response, log: Log, deadline: Deadline): Maybe<unknown> {
    const understood = engine.resolve(pgError, kind, route?.level, log, deadline)
    return isPromise(understood)
      ? understood.then((found) => answer(found, route, err, req, res, log, deadline))
      : answer(understood, route, err, req, res, log, deadline)
  }

  function answer (understood: Understood | undefined, route: RouteLevel | undefined, err: unknown, req: Request, res: Response, log: Log, deadline: Deadline): Maybe<unknown> {
    if (understood === undefined) return decline(err) // its refined kind (a row still referenced) is switched off here
    if (understood.fault !== undefined) return serverFault(understood as Understood & { fault: SequenceCheck }, err, log, deadline)
    const replay = route?.replay
    const index = replay === undefined ? undefined : violatedIndex(engine.cache?.catalog, understood.conflict.error)
    if (replay === undefined || index === undefined) return sendAll(understood, route, err, req, res, log, deadline)
    return replayed(understood, replay, index, route as RouteLevel, err, req, res, log, deadline)
  }

  /** A unique violation on a route with `replay`: its own earlier row (200), or the 409 (docs/replays.md). */
  async function replayed (understood: Understood, replay: ReplayOptions<Request>, index: NonNullable<ReturnType<typeof violatedIndex>>, route: RouteLevel, err: unknown, req: Request, res: Response, log: Log, deadline: Deadline): Promise<unknown> {
    const named = route.level.fieldName ?? engine.plugin.fieldName
    const fieldName = named === undefined ? identity : (column: string) => named(column, index.table)
    const { values } = replay
    let body: unknown
    try {
      const row = await replayer.replay(index, replay, {
        supplied: (columns) => values === undefined
          ? suppliedValues(columns, { body: req.body, params: routeParams.get(req) }, { fieldName, fieldLocations: understood.settings.fieldLocations, routeParameters: routeParametersOf(req) })
          : new Map(Object.entries(values(req))),
        fieldName
      }, deadline, log)
      if (row === undefined) return sendAll(understood, route, err, req, res, log, deadline)
      body = replay.respond === undefined ? row : replay.respond(row)
    } catch (bug) {
      log.error({ err: bug }, 'fastify-pg-conflict: a replay failed (fieldName, values or respond threw); the conflict is answered 409')
      return sendAll(understood, route, err, req, res, log, deadline)
    }
    log.info({ constraint: understood.conflict.constraint }, 'fastify-pg-conflict: replayed the row this request wrote before, instead of a 409')
    res.status(replay.status ?? 200).set(REPLAY_HEADER, 'true').json(body)
    return ANSWERED
  }

  /** The answer, with the table's other conflicting keys when `allConflicts` applies: the body, and the path parameters a conflictConfig kept (docs/all-conflicts.md). */
  function sendAll (understood: Understood, route: RouteLevel | undefined, err: unknown, req: Request, res: Response, log: Log, deadline: Deadline): Maybe<unknown> {
    if (!understood.settings.allConflicts) return send(understood, route, err, req, res, log)
    const checked = engine.withOthers(understood, { body: req.body, params: routeParams.get(req) }, routeParametersOf(req), route?.level, log, deadline)
    return isPromise(checked) ? checked.then(() => send(understood, route, err, req, res, log)) : send(understood, route, err, req, res, log)
  }

  function send (understood: Understood, route: RouteLevel | undefined, err: unknown, req: Request, res: Response, log: Log): unknown {
    if (res.headersSent) return err // answered by someone else while the catalog was read
    const answered = engine.answer(understood, route?.format ?? format, req, pathOf(req.originalUrl), log, routeParametersOf(req))
    engine.logAnswer(understood, log)
    const before = res.statusCode
    res.status(answered.status).set(answered.headers)
    try {
      // As Fastify: a string body (from a format function) goes as it is, anything else as JSON (the app's `json replacer` and `json spaces` apply).
      if (typeof answered.body === 'string') res.send(answered.body)
      else res.json(answered.body)
    } catch (bug) {
      // Nothing sent (JSON cannot hold the body): the response as it was, for the next error handler.
      res.status(before)
      for (const name of Object.keys(answered.headers)) res.removeHeader(name)
      throw bug
    }
    telemetry?.answered(understood.conflict, answered.status)
    return ANSWERED
  }

  /** The id sequence is behind its table: the fix in the log, and a 500 error for the next error handler. */
  async function serverFault ({ fault: check, conflict }: Understood & { fault: SequenceCheck }, err: unknown, log: Log, deadline: Deadline): Promise<unknown> {
    engine.logSequenceFault(check, log, 'passed on as a 500 error (PG_SEQUENCE_BEHIND)')
    telemetry?.answered(conflict, 500)
    if (repairSequences) await engine.repairSequence(check, log, deadline)
    return new SequenceBehindError(`the id sequence ${check.sequence} is behind its table`, { cause: err })
  }

  /** A failure of this middleware's own (a body JSON cannot hold): logged, and the error goes on as if the middleware were not there. */
  function failed (bug: unknown, err: unknown, req: Request, next: NextFunction): void {
    logOf(req).error({ err: bug }, 'fastify-pg-conflict: could not answer an integrity error; it is passed on')
    next(err)
  }

  function finish (outcome: unknown, next: NextFunction): void {
    if (outcome !== ANSWERED) next(outcome)
  }

  const middleware = function pgConflictErrorHandler (err: unknown, req: Request, res: Response, next: NextFunction): void | Promise<void> {
    let outcome: Maybe<unknown>
    try {
      outcome = handle(err, req, res)
    } catch (bug) {
      failed(bug, err, req, next)
      return
    }
    if (isPromise(outcome)) return outcome.then((done) => { finish(done, next) }, (bug: unknown) => { failed(bug, err, req, next) })
    finish(outcome, next)
  }

  async function ready (): Promise<void> {
    await telemetryLoaded
    if (db === undefined) return
    await connect(true)
    if (engine.refused.length > 0) throw unknownConstraintsError(engine.refused)
  }

  return Object.assign(middleware, {
    ready,
    async refresh (): Promise<void> {
      if (db === undefined) return
      const first = connecting === undefined
      await connect()
      if (!first) await (engine.cache as CatalogCache).refresh()
    },
    async describe (error: unknown): Promise<Conflict | undefined> {
      if (db !== undefined) await connect()
      return await engine.describe(error, base)
    }
  })
}

export default pgConflict
