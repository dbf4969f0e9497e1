import { CatalogCache } from '../catalog/cache.js'
import type { IndexCatalog, Queryable } from '../catalog/catalog.js'
import { scanKeyDetail, type KeyScan } from '../core/detail.js'
import { citusShard, dialectOf } from '../core/dialects.js'
import { describeIntegrityError, detailAgainst, indexMatchesDetail, isStillReferenced, type Conflict, type Found } from '../core/describe.js'
import { KIND_DEFAULTS } from '../core/kinds.js'
import { MAX_IDENTIFIER_BYTES, overlongNames } from './options.js'
import { findPgError, integrityKind, type IntegrityKind, type PgErrorFields } from '../core/recognise.js'
import { answerOf, logEntry, LOG_MESSAGES, type Answer, type ResponseFormat } from '../core/respond.js'
import { answers, compileLevel, matcher, resolveSettings, type ConstraintRule, type Level, type LevelOptions, type ResolvedSettings } from '../core/rules.js'
import { SequenceWatch } from '../sequences/watch.js'
import { warnLoudly } from './loud.js'
import { unmatchedMessage, type UnknownConstraints } from './unmatched.js'

export type { LevelOptions }
import type { SequenceCheck } from '../sequences/sequences.js'

/**
 * The data path without a framework: describe an integrity error with the catalog (step two) and
 * settle its answer (step three). The Fastify plugin and the Express middleware are adapters
 * around one of these. Answers without waiting whenever the catalog and the sequence checks it
 * needs are cached, which is the steady state.
 */

/** What the engine logs through: pino's shape (Fastify's `request.log`, pino-http's `req.log`). */
export interface Log {
  /** pino's; when it says `info` is off, the info line is not built. */
  isLevelEnabled?: (level: string) => boolean
  info: (obj: object, msg: string) => void
  warn: (obj: object | string, msg?: string) => void
  error: (obj: object | string, msg?: string) => void
}

export interface ConnectOptions {
  schemas: readonly string[] | undefined
  minRefreshInterval: number
  timeout: number
  sequenceCheckInterval: number
  log: Log
  /** `error`: constraints that match nothing at the first read are kept in `refused` (for the adapter to refuse start-up), not warned of. Default `warn`. */
  unknownConstraints?: UnknownConstraints
}

/** An error described, with its settings. */
export interface Understood {
  conflict: Conflict
  settings: ResolvedSettings
  /** Set by `resolve` when a unique violation is the server's fault: an id sequence behind its table. */
  fault?: SequenceCheck | undefined
}

export type Maybe<T> = T | Promise<T>

const identity = (column: string): string => column

export class ConflictEngine {
  readonly plugin: Level
  cache: CatalogCache | undefined
  sequences: SequenceWatch | undefined
  /** Every rule, with the level it is on, for the check against the catalog at its first read. */
  private readonly configured = new Map<ConstraintRule, string>()
  /** With `unknownConstraints: 'error'`: what the first read, within `connect`, found matching nothing. */
  readonly refused: string[] = []
  private refusing = false
  /** The catalog as last read: rules of levels made after the first read are checked against it. */
  private lastCatalog: IndexCatalog | undefined

  constructor (options: LevelOptions, log: Log) {
    this.plugin = this.level(options, '', log)
  }

  /** Compiles a level's settings, and warns now of a constraint name PostgreSQL would cut. */
  level (options: LevelOptions, where: string, log: Log): Level {
    const added: ConstraintRule[] = []
    for (const rule of options.constraints ?? []) {
      if (this.configured.has(rule)) continue // the HEAD route Fastify copies from a GET has the same rules
      this.configured.set(rule, where)
      added.push(rule)
      for (const name of overlongNames([rule])) {
        warnLoudly(log, `fastify-pg-conflict: ${where}constraint "${name}" is longer than ${MAX_IDENTIFIER_BYTES} bytes; PostgreSQL cuts names to that length, so it never reports this one`, 'PG_CONFLICT_UNKNOWN_CONSTRAINT')
      }
    }
    // A level made after the first read (an Express route first used later) is checked now.
    if (this.lastCatalog !== undefined && added.length > 0) this.warnUnmatched(this.lastCatalog, log, added.map((rule) => [rule, where]))
    return compileLevel(options)
  }

  /** Starts reading the catalog of `db` (and checking id sequences there); waits for the first read at most `timeout`. */
  async connect (db: Queryable, options: ConnectOptions): Promise<void> {
    const { log } = options
    this.refusing = options.unknownConstraints === 'error'
    this.cache = new CatalogCache(db, {
      schemas: options.schemas,
      minRefreshInterval: options.minRefreshInterval,
      timeout: options.timeout,
      onRead: (catalog) => {
        const first = this.lastCatalog === undefined
        this.lastCatalog = catalog
        if (first) this.warnUnmatched(catalog, log, this.configured)
      },
      onError: (err) => { log.warn({ err }, 'fastify-pg-conflict: could not read the catalog; fields come from DETAIL alone until it can') }
    })
    this.sequences = new SequenceWatch(db, {
      interval: options.sequenceCheckInterval,
      timeout: options.timeout,
      onError: (err) => { log.warn({ err }, 'fastify-pg-conflict: could not check an id sequence; the conflict is answered as a conflict') }
    })
    await this.cache.refresh()
    this.refusing = false // a first read that ends later warns: nobody is starting up to refuse
  }

  /** Whether errors of this kind may be answered at this level (a 23503 when either of its kinds is). */
  mayAnswer (kind: IntegrityKind, route: Level | undefined): boolean {
    if (kind === 'foreignKey') return answers('foreignKey', route, this.plugin) || answers('referenced', route, this.plugin)
    return answers(kind, route, this.plugin)
  }

  /**
   * Describes the error and settles its settings, route level first; `undefined` when its kind
   * is not answered here. Without a promise when the catalog has what it needs.
   */
  understand (error: PgErrorFields, kind: IntegrityKind, route: Level | undefined, log: Log): Maybe<Understood | undefined> {
    // The steady state: the index is cached and DETAIL shows its keys, so nothing is sliced out of it but the values.
    if ((kind === 'unique' || kind === 'exclusion') && this.cache !== undefined && error.constraint !== undefined) {
      const index = this.cache.catalog.find(error.constraint, error.schema)
      const detail = index === undefined ? null : detailAgainst(error, index)
      if (detail !== null) return this.settle(error, kind, { index }, detail, route, log)
    }
    const detail = kind === 'unique' || kind === 'exclusion' || kind === 'foreignKey' ? scanKeyDetail(error.detail, dialectOf(error)) : undefined
    const cache = this.cache
    if (cache === undefined || !lookedUp(kind)) return this.settle(asDistributed(error), kind, {}, detail, route, log)
    if (error.constraint !== undefined) {
      const found = find(cache.catalog, error, kind, detail)
      if (found !== undefined) return this.settle(error, kind, found, detail, route, log)
    }
    // Not in the catalog as sent: a Citus shard's names are looked up as its distributed table's.
    const named = asDistributed(error)
    if (named.constraint === undefined) return this.settle(named, kind, {}, detail, route, log)
    if (named !== error) {
      const found = find(cache.catalog, named, kind, detail)
      if (found !== undefined) return this.settle(named, kind, found, detail, route, log)
    }
    const key = `${kind}\u0000${named.schema ?? ''}\u0000${named.table ?? ''}\u0000${named.constraint}`
    return cache.findAfterRefresh(key, (catalog) => find(catalog, named, kind, detail))
      .then((fresh) => this.settle(named, kind, fresh ?? {}, detail, route, log))
  }

  /** `detail`: DETAIL scanned, or where its values start when read against `found.index`'s keys. */
  private settle (error: PgErrorFields, coarse: IntegrityKind, found: Found, detail: KeyScan | number | undefined, route: Level | undefined, log: Log): Understood | undefined {
    const kind = coarse === 'foreignKey' && isStillReferenced(error, found.constraint, detail as KeyScan | undefined) ? 'referenced' : coarse
    if (!answers(kind, route, this.plugin)) return undefined
    const parent = found.index?.parent?.name ?? found.constraint?.rootName
    const settings = resolveSettings(kind, parent === undefined ? [error.constraint] : [parent, error.constraint], route, this.plugin)
    const fieldName = route?.fieldName ?? this.plugin.fieldName
    const conflict = describeIntegrityError(error, kind, found, {
      fields: settings.fields,
      fieldName: fieldName === undefined ? identity : guardFieldName(fieldName, log)
    }, detail)
    if (typeof settings.message === 'function') settings.message = guardMessage(settings.message, log)
    return { conflict, settings }
  }

  /** For a unique violation: the sequence check when an id sequence behind its table caused it (the server's fault). */
  sequenceColliding (conflict: Conflict): Maybe<SequenceCheck | undefined> {
    if (conflict.kind !== 'unique' || this.sequences === undefined) return undefined
    return this.sequences.colliding(conflict)
  }

  /**
   * `understand`, then for a unique violation the sequence check: `fault` is set when an id
   * sequence behind its table caused it. What both adapters answer from.
   */
  resolve (error: PgErrorFields, kind: IntegrityKind, route: Level | undefined, log: Log): Maybe<Understood | undefined> {
    const understood = this.understand(error, kind, route, log)
    return isPromise(understood) ? understood.then((found) => this.withFault(found)) : this.withFault(understood)
  }

  private withFault (understood: Understood | undefined): Maybe<Understood | undefined> {
    if (understood === undefined) return undefined
    const fault = this.sequenceColliding(understood.conflict)
    if (isPromise(fault)) {
      return fault.then((check) => {
        understood.fault = check
        return understood
      })
    }
    understood.fault = fault
    return understood
  }

  /** The integrity error in a thrown value, described with the plugin-wide settings; `undefined` if it is none answered. */
  async describe (thrown: unknown, log: Log): Promise<Conflict | undefined> {
    const error = findPgError(thrown)
    const kind = error === undefined ? undefined : integrityKind(error)
    if (kind === undefined) return undefined
    return (await this.understand(error as PgErrorFields, kind, undefined, log))?.conflict
  }

  /** The one log line of an answered error, at `info` (built only when that level is on). */
  logAnswer ({ conflict, settings }: Understood, log: Log): void {
    if (log.isLevelEnabled?.('info') !== false) log.info(logEntry(conflict, settings), LOG_MESSAGES[conflict.kind])
  }

  /** Logs a sequence behind its table, with its fix; `outcome` says what became of the request. */
  logSequenceFault (check: SequenceCheck, log: Log, outcome: string): void {
    log.error({ sequence: sequenceLog(check) },
      `fastify-pg-conflict: the sequence ${check.sequence} is behind ${check.table}.${check.column} (at ${check.lastValue}, the table's maximum is ${String(check.max)}): ` +
      `every insert taking the default id collides. Not the client's fault: ${outcome}. Fix: ${String(check.fixSql)}`)
  }

  /**
   * Repairs a sequence found colliding (or waits for the repair under way), logging what happened;
   * true when it no longer collides.
   */
  async repairSequence (check: SequenceCheck, log: Log): Promise<boolean> {
    try {
      const { moved } = await (this.sequences as SequenceWatch).repair(check)
      if (moved) log.warn({ sequence: sequenceLog(check) }, `fastify-pg-conflict: repaired the sequence ${check.sequence}, which was behind ${check.table}.${check.column}`)
      return true
    } catch (err) {
      log.error({ err, sequence: sequenceLog(check) }, `fastify-pg-conflict: could not repair the sequence ${check.sequence}`)
      return false
    }
  }

  /** The answer in `format`; `instance` is the request's path, `routeParameters` the names of the route's path parameters. */
  answer<Request> ({ conflict, settings }: Understood, format: ResponseFormat<Request> | undefined, request: Request, instance: string | undefined, log: Log, routeParameters: readonly string[] = []): Answer {
    if (typeof format !== 'function') return answerOf(conflict, settings, format, request, instance, routeParameters)
    try {
      return answerOf(conflict, settings, format, request, instance, routeParameters)
    } catch (err) {
      log.error({ err }, 'fastify-pg-conflict: the format function threw; the default body is sent')
      return answerOf(conflict, settings, 'fastify', request, instance)
    }
  }

  /**
   * Warns (loudly: see loud.ts) of configured constraints that no index or constraint in the
   * database answers to, with the nearest names: typos, renamed or cut names. Kept in `refused`
   * instead while `connect` refuses them.
   */
  private warnUnmatched (catalog: IndexCatalog, log: Log, rules: Iterable<[ConstraintRule, string]>): void {
    const names = [...catalog.names()]
    for (const [rule, where] of rules) {
      if (names.some(matcher(rule))) continue
      const message = unmatchedMessage(rule, where, names)
      if (this.refusing) this.refused.push(message)
      else warnLoudly(log, message, 'PG_CONFLICT_UNKNOWN_CONSTRAINT')
    }
  }
}

/** The error with a Citus shard's constraint and table named as the distributed table's (the error itself otherwise). */
function asDistributed (error: PgErrorFields): PgErrorFields {
  const shard = citusShard(error)
  if (shard === undefined) return error
  return { ...error, constraint: shard.constraint ?? error.constraint, table: shard.table ?? error.table, column: shard.column ?? error.column }
}

/** Whether the catalog says anything of this kind's constraint. */
function lookedUp (kind: IntegrityKind): boolean {
  return kind === 'unique' || kind === 'exclusion' || kind === 'foreignKey' || kind === 'check'
}

/** What the catalog knows of the error's constraint, if it is current; `undefined` when nothing. */
function find (catalog: IndexCatalog, error: PgErrorFields, kind: IntegrityKind, detail: KeyScan | undefined): Found | undefined {
  const name = error.constraint as string
  if (kind === 'unique' || kind === 'exclusion') {
    const index = catalog.find(name, error.schema)
    return index !== undefined && indexMatchesDetail(index, detail) ? { index } : undefined
  }
  // A domain's check names no table and is not in this catalog: nothing to find, nor to read again for.
  if (kind === 'check' && error.table === undefined) return {}
  const constraint = catalog.findConstraint(name, error.table, error.schema)
  return constraint === undefined ? undefined : { constraint }
}

/**
 * The application's `fieldName`, made safe: a throw or a result that is not a non-empty string
 * keeps the column name, and is logged as the bug it is. The answer stays the same kind.
 */
function guardFieldName (fieldName: (column: string) => string, log: Log): (column: string) => string {
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

/** The configured message function, made safe the same way: the kind's default message stands in for a bad one. */
function guardMessage (message: (conflict: Conflict) => string, log: Log): (conflict: Conflict) => string {
  return (conflict) => {
    try {
      const text: unknown = message(conflict)
      if (typeof text === 'string') return text
      log.error(`fastify-pg-conflict: the message function returned ${typeof text}, not a string; the default message is used`)
    } catch (err) {
      log.error({ err }, 'fastify-pg-conflict: the message function threw; the default message is used')
    }
    return KIND_DEFAULTS[conflict.kind].message(conflict.fields)
  }
}

/** What the log says of a sequence found behind. */
function sequenceLog (check: SequenceCheck): object {
  return { name: check.sequence, kind: check.kind, table: `${check.schema}.${check.table}`, column: check.column, lastValue: check.lastValue, max: check.max, fix: check.fixSql }
}

/** Whether a value is a promise (the engine's answers are one only when they had to wait). */
export function isPromise<T> (value: Maybe<T>): value is Promise<T> {
  return value instanceof Promise
}
