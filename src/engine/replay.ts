import type { IndexCatalog, Queryable, UniqueIndex } from '../catalog/catalog.js'
import type { PgErrorFields } from '../core/recognise.js'
import { identifierName, quoteIdentifier } from '../core/sql-text.js'
import type { Deadline } from '../util/deadline.js'
import { InvalidOptionError } from '../util/errors.js'

/**
 * Idempotent replays (docs/replays.md): a create that fails on a unique violation because its own
 * earlier attempt won (a retry after a lost response, a double submit) is answered with the row
 * that attempt wrote instead of a 409. Whether the row is this request's is decided by the
 * database, in one read-only query through the violated key: every column the request supplied
 * must be equal (`IS NOT DISTINCT FROM`, typed by the table's own row type), and with `key` the
 * idempotency-key column too. Any doubt (no such row, a value that does not fit its column, an
 * error, the deadline) leaves the 409 as it was.
 */

/** `config.conflict.replay` as an object. */
export interface ReplayOptions<Request = unknown> {
  /** An idempotency-key column: only requests that supply a value for it are replayed, onto the row that has it. */
  key?: string
  /** The replay's status: 200 (default: this request created nothing) or 201 (the status of the create). */
  status?: 200 | 201
  /**
   * Columns the answer may show besides the ones the request supplied and the violated key's (an
   * `id` the database chose, `created_at`): nothing else is read from the row.
   */
  columns?: string[]
  /** Only conflicts on this table are replayed: `users`, or `schema.users`. Default: the table of the violated key. */
  table?: string
  /**
   * The values the handler wrote, by column (`{ email, owner_id: request.user.id }`), when they
   * are not the request's fields as they are (a value from the session, a value the handler
   * changes). Default: the body members and path parameters of the table's columns' fields.
   */
  values?: (request: Request) => Record<string, unknown>
  /** The body from the row (its columns as API fields). Default: the row. */
  respond?: (row: Record<string, unknown>) => unknown
}

/** What a replay logs through (the engine's `Log`; not imported: the engine's options import this module). */
interface Log {
  warn: (obj: object, msg: string) => void
}

/** The header every replay carries (Stripe's name). */
export const REPLAY_HEADER = 'Idempotent-Replayed'

const REPLAY_KEYS = ['key', 'status', 'columns', 'table', 'values', 'respond']

function fail (where: string, problem: string): never {
  throw new InvalidOptionError(`${where} ${problem}`)
}

/** Methods whose requests carry no body: a route of these must say what it writes with `values`. */
const BODILESS = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS'])

/**
 * Checks a route's `replay` (`true` or options); `methods` are the route's. The route must be
 * able to tell what it wrote: a body, or `values`.
 */
export function checkReplay (replay: unknown, where: string, methods: readonly string[]): ReplayOptions | undefined {
  if (replay === undefined || replay === false) return undefined
  const options = replay === true ? {} : replay
  if (typeof options !== 'object' || options === null || Array.isArray(options)) fail(where, 'must be true or an object like { key, status, columns, table, values, respond }')
  for (const name of Object.keys(options)) {
    if (!REPLAY_KEYS.includes(name)) fail(where, `has an unknown option "${name}" (known: ${REPLAY_KEYS.join(', ')})`)
  }
  const { key, status, columns, table, values, respond } = options as Record<string, unknown>
  if (key !== undefined && (typeof key !== 'string' || key === '')) fail(`${where}.key`, 'must be a column name (a non-empty string), like "idempotency_key"')
  if (status !== undefined && status !== 200 && status !== 201) fail(`${where}.status`, 'must be 200 or 201')
  if (columns !== undefined && !(Array.isArray(columns) && columns.every((c) => typeof c === 'string' && c !== ''))) {
    fail(`${where}.columns`, 'must be an array of column names the answer may show, like ["id", "created_at"]')
  }
  if (table !== undefined && (typeof table !== 'string' || !/^[^.]+(\.[^.]+)?$/.test(table))) fail(`${where}.table`, 'must be a table name, like "users" or "app.users"')
  if (values !== undefined && typeof values !== 'function') fail(`${where}.values`, 'must be a function (request) returning the values the handler wrote, by column')
  if (respond !== undefined && typeof respond !== 'function') fail(`${where}.respond`, 'must be a function (row) returning the body')
  if (values === undefined && methods.some((method) => BODILESS.has(method.toUpperCase()))) {
    fail(where, `needs to know which values the route wrote: a ${methods.join(', ')} route has no body to read them from; give values: (request) => ({ column: value, … })`)
  }
  return options as ReplayOptions
}

/**
 * The unique index a driver-raised 23505 violated, as the catalog has it, when the error's table
 * (and schema, when it names one) is that index's: the only conflicts a replay looks behind.
 */
export function violatedIndex (catalog: IndexCatalog | undefined, error: PgErrorFields): UniqueIndex | undefined {
  if (catalog === undefined || error.code !== '23505' || error.constraint === undefined) return undefined
  const index = catalog.find(error.constraint, error.schema)
  if (index === undefined || index.table !== error.table || (error.schema !== undefined && index.schema !== error.schema)) return undefined
  return index
}

/** The replay query, its parameters, and the columns its aliases `c0`, `c1`… stand for. */
export interface ReplayQuery {
  text: string
  values: unknown[]
  selected: string[]
}

/**
 * The one read-only query of a replay, or `undefined` when there is nothing to find the row by:
 * a key that is an expression (`lower(email)`), or a key column the request did not supply (or
 * supplied as null). Identifiers are the catalog's, quoted; the request's values are one JSON
 * parameter, typed by the table's row type (`jsonb_populate_record`). `fresh` says whether the
 * table's columns are still `columns` (a column added since would otherwise go uncompared): a
 * row is found only when they are. Up to two rows: more than one (a partial index's key, found in
 * rows outside it too) is a doubt.
 */
export function replayQuery (index: UniqueIndex, columns: readonly string[], supplied: ReadonlyMap<string, unknown>, shown: readonly string[]): ReplayQuery | undefined {
  const keyColumns: string[] = []
  for (const key of index.keys) {
    const column = identifierName(key.definition)
    if (column === undefined || column !== key.columns[0]) return undefined // an expression
    if (supplied.get(column) === undefined || supplied.get(column) === null) return undefined
    keyColumns.push(column)
  }
  const table = `${quoteIdentifier(index.schema)}.${quoteIdentifier(index.table)}`
  const compared = columns.filter((column) => supplied.has(column))
  const selected = columns.filter((column) => supplied.has(column) || keyColumns.includes(column) || shown.includes(column))
  const record: Record<string, unknown> = {}
  for (const column of compared) record[column] = supplied.get(column)
  // The rows holding the key (a partial index's key may be in rows outside it too, a child table's
  // are left out: ONLY), each saying whether it is equal in every column the request supplied.
  const byKey = keyColumns.map((column) => `t.${quoteIdentifier(column)} = r.${quoteIdentifier(column)}`)
  // (Never empty: the key's columns are among those supplied.)
  const equal = compared.map((column) => `t.${quoteIdentifier(column)} IS NOT DISTINCT FROM r.${quoteIdentifier(column)}`)
  // (The JSON as text, then jsonb: clients other than pg, Bun.SQL's or postgres.js's, send a string parameter as a JSON string.)
  const text = `SELECT f.fresh, m.found, m.equal${selected.map((_, i) => `, m.c${i}`).join('')}
FROM (SELECT ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
                   WHERE a.attrelid = $2::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) = $3::text[] AS fresh) f
LEFT JOIN LATERAL (SELECT true AS found, ${equal.join(' AND ')} AS equal, ${selected.map((column, i) => `t.${quoteIdentifier(column)} AS c${i}`).join(', ')}
  FROM ONLY ${table} t, jsonb_populate_record(NULL::${table}, $1::text::jsonb) r
  WHERE f.fresh AND ${byKey.join(' AND ')} LIMIT 2) m ON true`
  return { text, values: [JSON.stringify(record), table, columns], selected }
}

/**
 * A table's columns, in order, as the catalog has them: what the request's fields are read
 * against; `required`: NOT NULL without a default (nor identity, nor generated), a value every
 * insert must give.
 */
export const TABLE_COLUMNS_SQL = `SELECT a.attname::text AS name, a.attnotnull AND NOT a.atthasdef AND a.attidentity = '' AND a.attgenerated = '' AS required
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`

/** A table's columns, and those an insert must give a value for. */
interface TableColumns {
  columns: string[]
  required: string[]
}

/** What a replay needs from the request, already read through the route's field mapping. */
export interface ReplayRequest {
  /** The values the request supplied for `columns` (of the table), by column. */
  supplied: (columns: readonly string[]) => ReadonlyMap<string, unknown>
  /** Column name to API field name. */
  fieldName: (column: string) => string
}

/**
 * Replays for one plugin: the tables' columns, read once per table (and again after they
 * changed), and the one query per replay, within the request's deadline.
 */
export class Replayer {
  private readonly tables = new Map<string, Promise<TableColumns | undefined>>()
  /** The same, once read: the steady state takes them without waiting (no timer, no promise race). */
  private readonly known = new Map<string, TableColumns>()
  /** Tables whose rows the role may not read: said once each. */
  private readonly denied = new Set<string>()

  constructor (private readonly db: () => Queryable | undefined) {}

  /**
   * The row (its columns as API fields) when the conflict on `index` is this request's own
   * earlier write; `undefined` otherwise, or whenever that cannot be told in time.
   */
  async replay (index: UniqueIndex, options: Pick<ReplayOptions, 'key' | 'columns' | 'table'>, request: ReplayRequest, deadline: Deadline, log: Log): Promise<Record<string, unknown> | undefined> {
    const db = this.db() as Queryable // set before the catalog is read, and an index comes from the catalog
    if (!onTable(index, options.table)) return undefined
    const where = `${index.schema}\u0000${index.table}`
    const table = this.known.get(where) ?? await deadline.within(this.columns(db, index, where))
    if (table === undefined) return undefined
    const { columns, required } = table
    const supplied = request.supplied(columns)
    // A row the request could not have written alone (a column it did not give, which the handler
    // filled: an owner, a parent's id) may be anyone's: only the request's own whole row is replayed.
    if (required.some((column) => supplied.get(column) === undefined)) return undefined
    const key = options.key
    if (key !== undefined && (supplied.get(key) === undefined || supplied.get(key) === null)) return undefined
    const query = replayQuery(index, columns, supplied, [...options.columns ?? [], ...key === undefined ? [] : [key]])
    if (query === undefined) return undefined
    const rows = await deadline.within(db.query(query.text, query.values).then((result) => result.rows, (err: unknown) => this.failed(err, index, where, log)))
    const found = rows?.[0] as Record<string, unknown> | undefined
    if (found === undefined) return undefined // the deadline, or an error (logged)
    if (rows?.length !== 1) return undefined // two rows through one key (a partial index's other rows): which one is in doubt
    if (found.fresh !== true) this.forget(where) // the table's columns changed: read again at the next replay
    if (found.found !== true || found.equal !== true) return undefined
    const row: Record<string, unknown> = {}
    query.selected.forEach((column, i) => { row[request.fieldName(column)] = found[`c${i}`] })
    return row
  }

  private async columns (db: Queryable, index: UniqueIndex, where: string): Promise<TableColumns | undefined> {
    let columns = this.tables.get(where)
    if (columns === undefined) {
      columns = db.query(TABLE_COLUMNS_SQL, [index.schema, index.table])
        .then(({ rows }) => {
          const read = rows as Array<{ name: string, required: boolean }>
          return { columns: read.map((row) => row.name), required: read.filter((row) => row.required).map((row) => row.name) }
        }, () => undefined)
      this.tables.set(where, columns)
      // (A read that failed is tried again next time; one that ended is as current as any.)
      void columns.then((found) => { if (found === undefined) this.tables.delete(where); else this.known.set(where, found) })
    }
    return await columns
  }

  private forget (where: string): void {
    this.tables.delete(where)
    this.known.delete(where)
  }

  private failed (err: unknown, index: UniqueIndex, where: string, log: Log): undefined {
    const code = (err as { code?: unknown } | null)?.code
    if (code === '42501') { // no SELECT on the table: every replay would fail the same way
      if (!this.denied.has(where)) {
        this.denied.add(where)
        log.warn({ err }, `fastify-pg-conflict: a replay could not read ${index.schema}.${index.table} (the role lacks SELECT on it); its conflicts are answered 409. GRANT SELECT to replay them`)
      }
      return undefined
    }
    // A value that does not fit its column (class 22, the client's): nothing to say. Otherwise a column dropped or renamed since, say: read them again next time.
    if (typeof code === 'string' && code.startsWith('22')) return undefined
    this.forget(where)
    log.warn({ err }, `fastify-pg-conflict: a replay's query on ${index.schema}.${index.table} failed; the conflict is answered 409`)
    return undefined
  }
}

/** Whether `table` (`users` or `schema.users`), if given, names the index's table (or its partitioned table's). */
function onTable (index: UniqueIndex, table: string | undefined): boolean {
  if (table === undefined) return true
  const tables = index.parent === undefined ? [index] : [index, index.parent]
  return tables.some(({ schema, table: name }) => table === name || table === `${schema}.${name}`)
}
