import { CatalogCache } from '../catalog/cache.js'
import type { IndexCatalog, Queryable, UniqueIndex } from '../catalog/catalog.js'
import { scanKeyDetail, type KeyScan } from '../core/detail.js'
import { citusShard, dialectOf, isRelayedByCitus } from '../core/dialects.js'
import { describeIntegrityError, detailAgainst, foreignKeyMatchesDetail, indexMatchesDetail, isStillReferenced, type Conflict, type Found } from '../core/describe.js'
import { KIND_DEFAULTS } from '../core/kinds.js'
import { MAX_IDENTIFIER_BYTES, overlongNames } from './options.js'
import { findPgError, integrityKind, type IntegrityKind, type PgErrorFields } from '../core/recognise.js'
import { answerOf, logEntry, LOG_MESSAGES, type Answer, type OtherConflict, type ResponseFormat } from '../core/respond.js'
import { answers, compileLevel, matcher, resolveSettings, type ConstraintRule, type Level, type LevelOptions, type ResolvedSettings } from '../core/rules.js'
import { SequenceWatch } from '../sequences/watch.js'
import { warnLoudly } from './loud.js'
import { unmatchedMessage, type UnknownConstraints } from './unmatched.js'
import { Deadline } from '../util/deadline.js'
import { checksFor, conflictingIndexes } from './all-conflicts.js'
import { suppliedValues, type SuppliedSources } from './supplied.js'

export type { LevelOptions }
import { repairPrivileges, type SequenceCheck } from '../sequences/sequences.js'

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
  /** One request's budget for all the plugin's own queries (catalog, sequence checks, repairs), ms; also the wait for the first read. */
  timeout: number
  sequenceCheckInterval: number
  /** Whether sequences found behind are repaired: the grants a repair needs are checked now, and what is missing said once. */
  repairSequences?: boolean
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
  /** Set by `withOthers` when `allConflicts` applies: the table's other unique keys the request also conflicts with (maybe none). */
  others?: OtherConflict[]
}

export type Maybe<T> = T | Promise<T>

const identity = (column: string): string => column

export class ConflictEngine {
  readonly plugin: Level
  cache: CatalogCache | undefined
  sequences: SequenceWatch | undefined
  /** Every rule, with the level it is on, for the check against the catalog at its first read. */
  private readonly configured = new Map<ConstraintRule, string>()
  /** What was wrong with tags in the database's comments, said once each. */
  private readonly warnedComments = new Set<string>()
  /** With `unknownConstraints: 'error'`: what the first read, within `connect`, found matching nothing. */
  readonly refused: string[] = []
  private refusing = false
  /** The catalog as last read: rules of levels made after the first read are checked against it. */
  private lastCatalog: IndexCatalog | undefined
  /** One request's budget for the plugin's own queries, ms (`catalog.timeout`). */
  private timeout = DEFAULT_TIMEOUT
  /** Where the catalog is read, and the `allConflicts` check runs. */
  private db: Queryable | undefined
  /** Whether a level turns `allConflicts` on: catalog reads then take the indexes' details the check needs. */
  private checksOtherKeys = false

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
    if (options.allConflicts === true || options.constraints?.some((rule) => rule.allConflicts === true) === true) this.checksOtherKeys = true
    return compileLevel(options)
  }

  /**
   * Starts reading the catalog of `db` (and checking id sequences there); waits for the first read
   * at most `timeout`. With `repairSequences`, also checks which sequences the role may repair, and
   * warns once of the grants missing.
   */
  async connect (db: Queryable, options: ConnectOptions): Promise<void> {
    const { log } = options
    this.refusing = options.unknownConstraints === 'error'
    this.timeout = options.timeout
    this.db = db
    this.cache = new CatalogCache(db, {
      schemas: options.schemas,
      minRefreshInterval: options.minRefreshInterval,
      timeout: options.timeout,
      onRead: (catalog) => {
        const first = this.lastCatalog === undefined
        this.lastCatalog = catalog
        if (first) this.warnUnmatched(catalog, log, this.configured)
        this.warnComments(catalog, log)
      },
      onError: (err) => { log.warn({ err }, 'fastify-pg-conflict: could not read the catalog; fields come from DETAIL alone until it can') },
      keyDetails: () => this.checksOtherKeys
    })
    const sequences = this.sequences = new SequenceWatch(db, {
      interval: options.sequenceCheckInterval,
      lockTimeout: DEFAULT_LOCK_TIMEOUT,
      onError: (err) => { log.warn({ err }, 'fastify-pg-conflict: could not check an id sequence; the conflict is answered as a conflict') }
    })
    const grants = options.repairSequences === true ? checkRepairGrants(db, options.schemas, sequences, log) : undefined
    await this.cache.refresh()
    if (grants !== undefined) await this.deadline().within(grants)
    this.refusing = false // a first read that ends later warns: nobody is starting up to refuse
  }

  /** Whether errors of this kind may be answered at this level (a 23503 when either of its kinds is). */
  mayAnswer (kind: IntegrityKind, route: Level | undefined): boolean {
    if (kind === 'foreignKey') return answers('foreignKey', route, this.plugin) || answers('referenced', route, this.plugin)
    return answers(kind, route, this.plugin)
  }

  /**
   * A deadline for one request's waits: the catalog, the sequence checks and repairs it needs all
   * share it (`catalog.timeout`, default 2 s).
   */
  deadline (): Deadline {
    return new Deadline(this.timeout)
  }

  /**
   * Describes the error and settles its settings, route level first; `undefined` when its kind
   * is not answered here. Without a promise when the catalog has what it needs and the error
   * confirms it (DETAIL shows the keys the catalog has): the steady state of unique and foreign
   * key violations. An error that cannot confirm it (a check constraint; a key without DETAIL)
   * asks the catalog's version first; one naming what the catalog does not know reads it again
   * if it changed. All within `deadline`.
   */
  understand (error: PgErrorFields, kind: IntegrityKind, route: Level | undefined, log: Log, deadline: Deadline = this.deadline()): Maybe<Understood | undefined> {
    const cache = this.cache
    // The steady state: the index is cached and DETAIL shows its keys, so nothing is sliced out of it but the values.
    if ((kind === 'unique' || kind === 'exclusion') && cache !== undefined && error.constraint !== undefined) {
      const index = cache.catalog.find(error.constraint, error.schema)
      const detail = index === undefined || !onTable(index, error) ? null : detailAgainst(error, index)
      if (detail !== null && detail !== undefined) return this.settle(error, kind, { index }, detail, route, log)
    }
    const detail = kind === 'unique' || kind === 'exclusion' || kind === 'foreignKey' ? scanKeyDetail(error.detail, dialectOf(error)) : undefined
    if (cache === undefined || !lookedUp(kind)) return this.settle(asDistributed(error), kind, {}, detail, route, log)
    // As sent, then (a Citus shard's names) as its distributed table's.
    const named = asDistributed(error)
    const candidates = (named === error ? [error] : [error, named]).filter((candidate) => candidate.constraint !== undefined)
    for (const candidate of candidates) {
      const looked = find(cache.catalog, candidate, kind, detail)
      if (looked === undefined) continue
      if (looked.confirmed) return this.settle(candidate, kind, looked.found, detail, route, log)
      return cache.current(deadline)
        .then(() => this.settle(candidate, kind, find(cache.catalog, candidate, kind, detail)?.found ?? {}, detail, route, log))
    }
    if (named.constraint === undefined) return this.settle(named, kind, {}, detail, route, log)
    // After the read too, as sent first: a table of the application's may end in `_<digits>` like a shard's.
    return cache.findAfterRefresh((catalog) => {
      for (const candidate of candidates) {
        const found = find(catalog, candidate, kind, detail)?.found
        if (found !== undefined) return { candidate, found }
      }
      return undefined
    }, deadline)
      .then((fresh) => this.settle(fresh?.candidate ?? named, kind, fresh?.found ?? {}, detail, route, log))
  }

  /** `detail`: DETAIL scanned, or where its values start when read against `found.index`'s keys. */
  private settle (error: PgErrorFields, coarse: IntegrityKind, found: Found, detail: KeyScan | number | undefined, route: Level | undefined, log: Log): Understood | undefined {
    const kind = coarse === 'foreignKey' && isStillReferenced(error, found.constraint, detail as KeyScan | undefined) ? 'referenced' : coarse
    if (!answers(kind, route, this.plugin)) return undefined
    const parent = found.index?.parent?.name ?? found.constraint?.rootName
    // A foreign key's comment speaks of the referencing side (its columns, a missing referenced row), not of a row still referenced.
    const comment = kind === 'referenced' ? undefined : found.index?.comment ?? found.constraint?.comment
    const settings = resolveSettings(kind, parent === undefined ? [error.constraint] : [parent, error.constraint], route, this.plugin, comment)
    const fieldName = route?.fieldName ?? this.plugin.fieldName
    const conflict = describeIntegrityError(error, kind, found, {
      fields: settings.fields,
      fieldName: fieldName === undefined ? identity : guardFieldName(fieldName, log)
    }, detail)
    // With a catalog, the columns are the ones it has: a DETAIL it did not confirm (a constraint
    // outside the schemas read, a name a function made up) names no column of the answer.
    if (this.cache?.loaded === true && found.index === undefined && found.constraint === undefined && found.keysConfirmed !== true && lookedUp(coarse)) {
      conflict.columns = []
      conflict.fields = settings.fields === undefined ? [] : [...settings.fields]
    }
    if (typeof settings.message === 'function') settings.message = guardMessage(settings.message, log)
    return { conflict, settings }
  }

  /** For a unique violation: the sequence check when an id sequence behind its table caused it (the server's fault). */
  sequenceColliding (conflict: Conflict, deadline: Deadline = this.deadline()): Maybe<SequenceCheck | undefined> {
    if (conflict.kind !== 'unique' || this.sequences === undefined) return undefined
    return this.sequences.colliding(conflict, deadline)
  }

  /**
   * `understand`, then for a unique violation the sequence check: `fault` is set when an id
   * sequence behind its table caused it. What both adapters answer from.
   */
  resolve (error: PgErrorFields, kind: IntegrityKind, route: Level | undefined, log: Log, deadline: Deadline = this.deadline()): Maybe<Understood | undefined> {
    const understood = this.understand(error, kind, route, log, deadline)
    return isPromise(understood) ? understood.then((found) => this.withFault(found, deadline)) : this.withFault(understood, deadline)
  }

  private withFault (understood: Understood | undefined, deadline: Deadline): Maybe<Understood | undefined> {
    if (understood === undefined) return undefined
    const fault = this.sequenceColliding(understood.conflict, deadline)
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
  logAnswer ({ conflict, settings, others }: Understood, log: Log): void {
    if (log.isLevelEnabled?.('info') !== false) log.info(logEntry(conflict, settings, others), LOG_MESSAGES[conflict.kind])
  }

  /** Logs a sequence fault, with its fix; `outcome` says what became of the request. */
  logSequenceFault (check: SequenceCheck, log: Log, outcome: string): void {
    const where = `${check.table}.${check.column}`
    const what = check.behind
      ? `the sequence ${check.sequence} is behind ${where} (at ${check.lastValue}, the table's maximum is ${String(check.max)}): inserts taking the default id collide.`
      : `the sequence ${check.sequence} handed out ${check.lastValue}, which ${where} already held (it was behind by one); it is not behind any more.`
    const fix = check.fixSql === null ? '' : ` Fix: ${check.fixSql}`
    const outlier = check.outlier === null
      ? ''
      : ` The maximum ${check.outlier.max} lies far beyond the other ids (one chosen by a client?): no repair follows it; if those ids are real, run by hand: ${check.outlier.sql}`
    log.error({ sequence: sequenceLog(check) }, `fastify-pg-conflict: ${what} Not the client's fault: ${outcome}.${fix}${outlier}`)
  }

  /**
   * Repairs a sequence found colliding (or waits for the repair under way), within the request's
   * deadline, logging what happened; true when the repair ended (the sequence no longer collides,
   * or was left alone for a person). False when it was not tried (the role lacks the grants,
   * said at start-up), failed, or had not ended by the deadline: the request is then answered
   * as without a repair.
   */
  async repairSequence (check: SequenceCheck, log: Log, deadline: Deadline = this.deadline()): Promise<boolean> {
    try {
      const { repair, done, late } = await (this.sequences as SequenceWatch).repair(check, deadline)
      if (late) log.warn({ sequence: sequenceLog(check) }, `fastify-pg-conflict: the repair of the sequence ${check.sequence} had not ended by the request's deadline (catalog.timeout); it goes on, and the request is answered as without it`)
      if (repair?.moved === true) log.warn({ sequence: sequenceLog(check) }, `fastify-pg-conflict: repaired the sequence ${check.sequence}, which was behind ${check.table}.${check.column}: moved to ${repair.after}`)
      if (repair?.outlier != null) {
        log.error({ sequence: sequenceLog(check) },
          `fastify-pg-conflict: the sequence ${check.sequence} was left at ${repair.after}: the maximum of ${check.table}.${check.column}, ${repair.outlier.max}, lies far beyond the other ids ` +
          `(one chosen by a client?), and no repair follows it. If those ids are real, run by hand: ${repair.outlier.sql}`)
      }
      return done
    } catch (err) {
      log.error({ err, sequence: sequenceLog(check) }, `fastify-pg-conflict: could not repair the sequence ${check.sequence}`)
      return false
    }
  }

  /** The answer in `format`; `instance` is the request's path, `routeParameters` the names of the route's path parameters. */
  answer<Request> ({ conflict, settings, others }: Understood, format: ResponseFormat<Request> | undefined, request: Request, instance: string | undefined, log: Log, routeParameters: readonly string[] = []): Answer {
    if (typeof format !== 'function') return answerOf(conflict, settings, format, request, instance, routeParameters, others)
    try {
      return answerOf(conflict, settings, format, request, instance, routeParameters, others)
    } catch (err) {
      log.error({ err }, 'fastify-pg-conflict: the format function threw; the default body is sent')
      return answerOf(conflict, settings, 'fastify', request, instance, [], others)
    }
  }

  /** Warns once of each tag of ours in a comment that is ignored, and why (the DBA's mistake, not the application's). */
  private warnComments (catalog: IndexCatalog, log: Log): void {
    for (const problem of catalog.commentProblems) {
      if (this.warnedComments.has(problem)) continue
      this.warnedComments.add(problem)
      log.warn(`fastify-pg-conflict: ${problem}`)
    }
  }

  /**
   * With `allConflicts` (a unique violation): checks the table's other unique keys against the
   * values the request supplied (`sources`, read through the field mapping), in one read-only
   * query within `deadline`, and sets `understood.others` to those that conflict too, each with
   * its settings (its rule's message and fields). Without a promise when there is nothing to ask:
   * the option off (the data path as without it), no catalog, no other key whose columns the
   * request all supplied. A query that fails or is late leaves `others` empty, logged: the answer
   * is as without the option.
   */
  withOthers (understood: Understood, sources: SuppliedSources, routeParameters: readonly string[], route: Level | undefined, log: Log, deadline: Deadline): Maybe<Understood> {
    const { conflict, settings } = understood
    if (!settings.allConflicts) return understood
    const others: OtherConflict[] = understood.others = []
    const { schema, table } = conflict
    const cache = this.cache
    if (this.db === undefined || cache === undefined || schema === undefined || table === undefined) return understood
    // A catalog read before any level turned the option on (an Express route's, met later) lacks
    // the details: read again once, within the deadline.
    if (!cache.catalog.keyDetails) return cache.refresh(deadline).then(() => cache.catalog.keyDetails ? this.checkOthers(understood, others, sources, routeParameters, route, log, deadline) : understood)
    return this.checkOthers(understood, others, sources, routeParameters, route, log, deadline)
  }

  private checkOthers (understood: Understood, others: OtherConflict[], sources: SuppliedSources, routeParameters: readonly string[], route: Level | undefined, log: Log, deadline: Deadline): Maybe<Understood> {
    const { conflict, settings } = understood
    const schema = conflict.schema as string
    const table = conflict.table as string
    const indexes = (this.cache as CatalogCache).catalog.uniqueIndexesOn(schema, table)
    const configured = route?.fieldName ?? this.plugin.fieldName
    const fieldName = configured === undefined ? identity : guardFieldName(configured, log)
    const columns = new Set<string>()
    for (const index of indexes) {
      for (const column of index.columns) columns.add(column)
      for (const { column } of index.predicateColumns ?? []) columns.add(column)
    }
    const supplied = suppliedValues(columns, sources, { fieldName: (column) => fieldName(column, table), fieldLocations: settings.fieldLocations, routeParameters })
    const checks = checksFor(indexes, conflict.constraint, supplied)
    if (checks.length === 0) return understood
    const asked = conflictingIndexes(this.db as Queryable, schema, table, checks, supplied)
    return deadline.within(asked).then((found) => {
      if (found === undefined) {
        log.warn(`fastify-pg-conflict: the check of ${schema}.${table}'s other unique keys (allConflicts) had not ended by the request's deadline (catalog.timeout); answered with the violated one alone`)
        return understood
      }
      for (const index of found) {
        const names = [index.name]
        const keySettings = resolveSettings('unique', names, route, this.plugin, index.comment)
        // A level's own `fields` names the violated key's fields; only a rule for this constraint (or its comment) renames its own.
        const fields = route?.rules.match(names)?.fields ?? this.plugin.rules.match(names)?.fields ?? index.comment?.fields
        keySettings.fields = typeof fields === 'string' ? [fields] : fields
        if (typeof keySettings.message === 'function') keySettings.message = guardMessage(keySettings.message, log)
        others.push({
          conflict: {
            kind: 'unique',
            constraint: index.name,
            schema,
            table,
            columns: [...index.columns],
            fields: keySettings.fields === undefined ? index.columns.map((column) => fieldName(column, table)) : [...keySettings.fields],
            keys: [...index.definitions],
            values: undefined, // what the request sent: never echoed
            error: conflict.error
          },
          settings: keySettings
        })
      }
      return understood
    }, (err: unknown) => {
      // (A late failure, after the deadline answered, is dropped here too: within() has settled by then.)
      // The code only: the server's message can quote a value the request sent (`invalid input syntax for type integer: "…"`).
      log.warn({ code: (err as { code?: unknown } | null)?.code },
        `fastify-pg-conflict: could not check ${schema}.${table}'s other unique keys (allConflicts: the role needs SELECT on the table, and each value one its column's type accepts); answered with the violated one alone`)
      return understood
    })
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

/**
 * What the catalog knows of the error's constraint, and whether the error confirms it is current:
 * DETAIL shows the keys the catalog has (a unique or foreign key violation), or there is nothing to
 * look up (a domain's check). `undefined` when the catalog does not know the name, or DETAIL shows
 * other keys (the constraint was made again since): a read may tell more.
 */
function find (catalog: IndexCatalog, error: PgErrorFields, kind: IntegrityKind, detail: KeyScan | undefined): { found: Found, confirmed: boolean } | undefined {
  const name = error.constraint as string
  if (kind === 'unique' || kind === 'exclusion') {
    const index = catalog.find(name, error.schema)
    if (index === undefined) return keysConfirmed(catalog, error, detail) ? { found: { keysConfirmed: true }, confirmed: true } : undefined
    if (!onTable(index, error) || !indexMatchesDetail(index, detail)) return undefined
    return { found: { index }, confirmed: detail !== undefined }
  }
  // A domain's check names no table and is not in this catalog: nothing to find, nor to read again for.
  if (kind === 'check' && error.table === undefined) return { found: {}, confirmed: true }
  const constraint = catalog.findConstraint(name, error.table, error.schema)
  if (constraint === undefined) return undefined
  const matches = kind === 'foreignKey' ? foreignKeyMatchesDetail(error, constraint, detail) : undefined
  return matches === false ? undefined : { found: { constraint }, confirmed: matches === true }
}

/** Whether the index is on the table the error names (when it names one): a table renamed since the read is not. */
function onTable (index: UniqueIndex, error: PgErrorFields): boolean {
  return error.table === undefined || error.table === index.table
}

/** A name Citus shortened to give its shards theirs: the start of the name, `_`, 8 hex digits of a hash. */
const SHORTENED = /^(.+)_[0-9a-f]{8}$/

/**
 * For a unique violation whose name the catalog has no one index of: whether DETAIL shows the keys
 * of every index the name can stand for, and there is one at least. An error that names no schema
 * stands for the indexes of that name in every schema read; a name Citus shortened (a relayed
 * error, `<start>_<hash>`) for those whose name starts with `<start>`. Then DETAIL's columns are
 * the catalog's.
 */
function keysConfirmed (catalog: IndexCatalog, error: PgErrorFields, detail: KeyScan | undefined): boolean {
  if (detail === undefined) return false
  const name = error.constraint as string
  const start = isRelayedByCitus(error) ? SHORTENED.exec(name)?.[1] : undefined
  const candidates = error.schema === undefined ? catalog.candidates(name) : []
  if (candidates.length === 0 && start !== undefined) candidates.push(...catalog.candidates(start, true))
  return candidates.length > 0 && candidates.every((index) => indexMatchesDetail(index, detail))
}

/**
 * The application's `fieldName`, made safe: a throw or a result that is not a non-empty string
 * keeps the column name, and is logged as the bug it is. The answer stays the same kind.
 */
function guardFieldName (fieldName: (column: string, table?: string) => string, log: Log): (column: string, table?: string) => string {
  return (column, table) => {
    try {
      const field: unknown = fieldName(column, table)
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
  return {
    name: check.sequence, kind: check.kind, table: `${check.schema}.${check.table}`, column: check.column,
    value: check.value, lastValue: check.lastValue, max: check.max, target: check.target, outlier: check.outlier?.max, fix: check.fixSql
  }
}

/** The default of `catalog.timeout`: one request's budget for the plugin's own queries, ms. */
const DEFAULT_TIMEOUT = 2000
/** The longest an automatic repair waits for its table's lock (inserts queue behind it meanwhile), ms; less when the request's deadline is nearer. */
const DEFAULT_LOCK_TIMEOUT = 2000
/** How many columns the start-up warning about repair grants names. */
const MAX_LISTED = 10

/**
 * Which sequences the role may repair: those it may not are not tried (a repair would fail on
 * its lock or its setval), and the grants missing are said once, at start-up.
 */
async function checkRepairGrants (db: Queryable, schemas: readonly string[] | undefined, sequences: SequenceWatch, log: Log): Promise<void> {
  try {
    const missing = await repairPrivileges(db, schemas)
    for (const column of missing) sequences.unrepairable.add(`${column.schema}\u0000${column.table}\u0000${column.column}`)
    if (missing.length === 0) return
    const listed = missing.slice(0, MAX_LISTED).map((column) => `${column.schema}.${column.table}.${column.column}: ${column.grants.join('; ')}`)
    log.warn({ missing: missing.length },
      `fastify-pg-conflict: repairSequences is on, but the database role cannot repair the id sequences of ${missing.length} column(s); ` +
      'their faults are found and logged, not repaired. A repair takes LOCK TABLE … IN SHARE ROW EXCLUSIVE MODE (UPDATE, DELETE or TRUNCATE on the table) and setval (UPDATE on the sequence). ' +
      `Grants (the first ${MAX_LISTED} columns): ${listed.join(' | ')}`)
  } catch (err) {
    log.warn({ err }, 'fastify-pg-conflict: could not check which id sequences the role may repair; repairs will be tried')
  }
}

/** Whether a value is a promise (the engine's answers are one only when they had to wait). */
export function isPromise<T> (value: Maybe<T>): value is Promise<T> {
  return value instanceof Promise
}
