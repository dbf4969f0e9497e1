import { CatalogCache } from './catalog-cache.js'
import type { IndexCatalog, Queryable } from './catalog.js'
import { scanKeyDetail, type KeyScan } from './detail.js'
import { citusShard, dialectOf } from './dialects.js'
import { describeIntegrityError, detailAgainst, indexMatchesDetail, isStillReferenced, type Conflict, type Found } from './describe.js'
import { KIND_DEFAULTS } from './kinds.js'
import { MAX_IDENTIFIER_BYTES, overlongNames } from './options.js'
import type { IntegrityKind, PgErrorFields } from './recognise.js'
import { answerOf, type Answer, type ResponseFormat } from './respond.js'
import { answers, matcher, resolveSettings, RuleSet, type ConflictSettings, type ConstraintRule, type ErrorKinds, type Level, type ResolvedSettings } from './rules.js'
import { SequenceWatch } from './sequence-watch.js'
import type { SequenceCheck } from './sequences.js'

/**
 * The data path without a framework: describe an integrity error with the catalog (step two) and
 * settle its answer (step three). The Fastify plugin and the Express middleware are adapters
 * around one of these. Answers without waiting whenever the catalog and the sequence checks it
 * needs are cached, which is the steady state.
 */

/** What the engine logs through: pino's shape (Fastify's `request.log`, pino-http's `req.log`). */
export interface Log {
  info: (obj: object, msg: string) => void
  warn: (obj: object | string, msg?: string) => void
  error: (obj: object | string, msg?: string) => void
}

/** The settings of one level: the plugin's (or middleware's) options, or a route's. */
export interface LevelOptions extends ConflictSettings {
  constraints?: ConstraintRule[]
  fieldName?: (column: string) => string
  errors?: ErrorKinds
}

export interface ConnectOptions {
  schemas: readonly string[] | undefined
  minRefreshInterval: number
  timeout: number
  sequenceCheckInterval: number
  log: Log
}

/** An error described, with its settings. */
export interface Understood {
  conflict: Conflict
  settings: ResolvedSettings
}

export type Maybe<T> = T | Promise<T>

const identity = (column: string): string => column

export class ConflictEngine {
  readonly plugin: Level
  cache: CatalogCache | undefined
  sequences: SequenceWatch | undefined
  /** Every rule, for the check against the catalog at its first read. */
  private readonly configured = new Set<ConstraintRule>()
  /** The catalog as last read: rules of levels made after the first read are checked against it. */
  private lastCatalog: IndexCatalog | undefined

  constructor (options: LevelOptions, log: Log) {
    this.plugin = this.level(options, '', log)
  }

  /** Compiles a level's settings, and warns now of a constraint name PostgreSQL would cut. */
  level (options: LevelOptions, where: string, log: Log): Level {
    const { constraints = [], fieldName, errors = {}, message, fields, expose } = options
    const added: ConstraintRule[] = []
    for (const rule of constraints) {
      if (this.configured.has(rule)) continue // the HEAD route Fastify copies from a GET has the same rules
      this.configured.add(rule)
      added.push(rule)
      for (const name of overlongNames([rule])) {
        log.warn(`fastify-pg-conflict: ${where}constraint "${name}" is longer than ${MAX_IDENTIFIER_BYTES} bytes; PostgreSQL cuts names to that length, so it never reports this one`)
      }
    }
    // A level made after the first read (an Express route first used later) is checked now.
    if (this.lastCatalog !== undefined && added.length > 0) this.warnUnmatched(this.lastCatalog, log, added)
    return { rules: new RuleSet(constraints), settings: { message, fields, expose }, errors, fieldName }
  }

  /** Starts reading the catalog of `db` (and checking id sequences there); waits for the first read at most `timeout`. */
  async connect (db: Queryable, options: ConnectOptions): Promise<void> {
    const { log } = options
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

  /** The answer in `format`; `instance` is the request's path. */
  answer<Request> ({ conflict, settings }: Understood, format: ResponseFormat<Request> | undefined, request: Request, instance: string | undefined, log: Log): Answer {
    if (typeof format !== 'function') return answerOf(conflict, settings, format, request, instance)
    try {
      return answerOf(conflict, settings, format, request, instance)
    } catch (err) {
      log.error({ err }, 'fastify-pg-conflict: the format function threw; the default body is sent')
      return answerOf(conflict, settings, 'fastify', request, instance)
    }
  }

  /** Warns of configured constraints that no index or constraint in the database answers to: typos, renamed or cut names. */
  private warnUnmatched (catalog: IndexCatalog, log: Log, rules: Iterable<ConstraintRule>): void {
    const names = [...catalog.names()]
    for (const rule of rules) {
      if (!names.some(matcher(rule))) {
        log.warn(`fastify-pg-conflict: no unique index or constraint in the database matches the configured constraint ${String(rule.constraint)}${rule.match === undefined || rule.match === 'exact' ? '' : ` (${rule.match})`}`)
      }
    }
  }
}

/** The error with a Citus shard's constraint and table named as the distributed table's (the error itself otherwise). */
function asDistributed (error: PgErrorFields): PgErrorFields {
  const shard = citusShard(error)
  if (shard === undefined) return error
  return { ...error, constraint: shard.constraint ?? error.constraint, table: shard.table ?? error.table }
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

/** Whether a value is a promise (the engine's answers are one only when they had to wait). */
export function isPromise<T> (value: Maybe<T>): value is Promise<T> {
  return value instanceof Promise
}
