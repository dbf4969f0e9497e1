import type { Queryable } from '../catalog/catalog.js'
import { InvalidOptionError } from '../util/errors.js'

/**
 * Id sequences that fell behind their table. After `COPY`, `pg_restore --data-only` or inserts
 * with explicit ids, a serial or identity column's sequence can point at or below the column's
 * maximum: every insert that takes the default then collides with an existing row. These
 * functions find such sequences, say how to fix them, and fix them without ever moving a
 * sequence backwards.
 *
 * Sequence numbers are PostgreSQL's `bigint`s, given as decimal text (as node-postgres gives
 * `bigint` columns): exact over the whole range, and safe to `JSON.stringify`.
 */

/** A column, by its names as they are in the catalog (unquoted: `Odd Table`, not `"Odd Table"`). */
export interface SequenceTarget {
  schema: string
  table: string
  column: string
}

/** `serial`: the column's default calls `nextval()` (serial, bigserial, or a hand-written default); `identity`: `GENERATED … AS IDENTITY`. */
export type SequenceKind = 'serial' | 'identity'

/** The sequence that fills a column. */
export interface ColumnSequence extends SequenceTarget {
  /** The sequence's name, schema-qualified and quoted as PostgreSQL requires (`app.users_id_seq`, `app."Odd Table_Id_seq"`). */
  sequence: string
  kind: SequenceKind
}

/** A sequence compared with its column's maximum. */
export interface SequenceCheck extends ColumnSequence {
  /** The sequence's `last_value`. */
  lastValue: string
  /** Whether `last_value` was handed out already (false after `RESTART` or `setval(…, false)`: the next value is `last_value` itself). */
  isCalled: boolean
  incrementBy: string
  /** `MAX(column)`; null for an empty table. */
  max: string | null
  /** Whether the next value the sequence hands out is at or below `max`: default inserts will collide, now or later. */
  behind: boolean
  /** Whether the next value the sequence hands out is in the column already: the next default insert collides. */
  collides: boolean
  /**
   * When behind: the statement that fixes it, to run by hand (`SELECT setval(…)` for serial,
   * `ALTER TABLE … ALTER COLUMN … RESTART WITH …` for identity). Null when not behind: run on a
   * sequence that moved on since, it would move it backwards.
   */
  fixSql: string | null
}

/** What `repairSequence` did. */
export interface SequenceRepair extends ColumnSequence {
  /** `MAX(column)` under the lock; null for an empty table. */
  max: string | null
  /** The sequence's `last_value` before the repair (under the lock). */
  before: string
  /** Its `last_value` after the repair: `max` when it moved, `before` when it did not. */
  after: string
  /** Whether the sequence was behind and was moved past `max`. */
  moved: boolean
}

/** One sequence `resetSequences` found behind. */
export interface SequenceReset extends SequenceCheck {
  /** Whether it is no longer behind (false in a dry run, or when the repair failed). */
  fixed: boolean
  /** Why the repair failed (a lock wait that timed out, a missing privilege…). */
  error?: string
}

export interface RepairOptions {
  /** The longest wait for the table lock, ms; then the repair fails (SQLSTATE 55P03). Default 2000; 0 waits forever. */
  lockTimeout?: number
}

export interface ResetOptions extends RepairOptions {
  /** The schema(s) to look in. Default: every schema but the system ones. */
  schema?: string | string[]
  /** Only list the sequences that are behind; change nothing. */
  dryRun?: boolean
}

/** What the catalog says about one sequence-filled column, with the names quoted by the server. */
interface SequenceRow {
  schema: string
  table: string
  column: string
  kind: SequenceKind
  sequence: string
  /** `quote_ident(schema) || '.' || quote_ident(table)`. */
  qualified_table: string
  quoted_column: string
}

/**
 * Every column filled from a sequence, in user tables of numeric type: identity columns (their
 * sequence from `pg_get_serial_sequence`), and columns whose default calls `nextval()` (the
 * sequence that default depends on; `pg_get_serial_sequence`'s, the one the column owns, first).
 * A partition is left out: its rows are in its partitioned table's maximum, and a lookup of one
 * table ($2, in schema $1[1]) that names a partition finds its partitioned table's column. Names
 * are quoted by the server (`quote_ident`), which knows which words are reserved.
 */
const SEQUENCES_SQL = `
SELECT schema, "table", "column", kind, sequence, qualified_table, quoted_column FROM (
  SELECT n.nspname AS schema, c.relname AS "table", a.attname AS "column",
         CASE WHEN a.attidentity IN ('a', 'd') THEN 'identity' ELSE 'serial' END AS kind,
         quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS qualified_table,
         quote_ident(a.attname) AS quoted_column,
         CASE WHEN a.attidentity IN ('a', 'd') THEN owned.sequence ELSE (
           SELECT quote_ident(sn.nspname) || '.' || quote_ident(s.relname)
           FROM pg_attrdef ad
           JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid AND d.refclassid = 'pg_class'::regclass
           JOIN pg_class s ON s.oid = d.refobjid AND s.relkind = 'S'
           JOIN pg_namespace sn ON sn.oid = s.relnamespace
           WHERE ad.adrelid = a.attrelid AND ad.adnum = a.attnum
           ORDER BY (quote_ident(sn.nspname) || '.' || quote_ident(s.relname)) IS NOT DISTINCT FROM owned.sequence DESC, s.oid
           LIMIT 1
         ) END AS sequence
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_type ty ON ty.oid = a.atttypid
  CROSS JOIN LATERAL (
    SELECT pg_get_serial_sequence(quote_ident(n.nspname) || '.' || quote_ident(c.relname), a.attname) AS sequence
  ) owned
  WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
    AND a.attnum > 0 AND NOT a.attisdropped AND (a.attidentity IN ('a', 'd') OR a.atthasdef)
    AND ty.typcategory = 'N'
    AND n.nspname <> 'information_schema' AND left(n.nspname, 3) <> 'pg_'
    AND CASE WHEN $2::text IS NULL THEN $1::text[] IS NULL OR n.nspname = ANY ($1::text[])
             -- one table, in schema $1[1]: a partition stands for the top of its tree (pg_partition_root is null for a table outside any)
             ELSE c.oid = (SELECT coalesce(pg_partition_root(t.oid), t.oid) FROM pg_class t JOIN pg_namespace tn ON tn.oid = t.relnamespace
                           WHERE tn.nspname = ($1::text[])[1] AND t.relname = $2) END
    AND ($3::text IS NULL OR a.attname = $3)
) columns
WHERE sequence IS NOT NULL
ORDER BY schema, "table", "column"`

async function findSequences (db: Queryable, schemas: readonly string[] | null, table: string | null, column: string | null): Promise<SequenceRow[]> {
  const { rows } = await db.query(SEQUENCES_SQL, [schemas, table, column])
  return rows as SequenceRow[]
}

function publicSequence (row: SequenceRow): ColumnSequence {
  return { schema: row.schema, table: row.table, column: row.column, sequence: row.sequence, kind: row.kind }
}

function checkTarget (target: unknown, where: string): asserts target is SequenceTarget {
  if (typeof target !== 'object' || target === null) throw new InvalidOptionError(`${where} must be an object like { schema, table, column }`)
  for (const key of ['schema', 'table', 'column'] as const) {
    const value = (target as Record<string, unknown>)[key]
    if (typeof value !== 'string' || value === '') throw new InvalidOptionError(`${where}.${key} must be a non-empty string`)
  }
}

async function findOne (db: Queryable, target: SequenceTarget, where: string): Promise<SequenceRow | undefined> {
  checkTarget(target, where)
  const [row] = await findSequences(db, [target.schema], target.table, target.column)
  return row
}

/**
 * The sequence that fills a column: an identity column's, or the one its `nextval()` default
 * uses. Undefined when the column is not filled from a sequence, or does not exist. A partition
 * (as a unique violation names it) stands for its partitioned table: the result names that table.
 */
export async function sequenceOf (db: Queryable, target: SequenceTarget): Promise<ColumnSequence | undefined> {
  const row = await findOne(db, target, 'sequenceOf target')
  return row === undefined ? undefined : publicSequence(row)
}

/** A string as an SQL literal, as PostgreSQL's `quote_literal` writes it (`E'…'` when it holds a backslash). */
export function quoteLiteral (text: string): string {
  const quoted = `'${text.replaceAll("'", "''").replaceAll('\\', '\\\\')}'`
  return text.includes('\\') ? `E${quoted}` : quoted
}

/** The state of a sequence, as `checkSequence` reads it. */
export interface SequenceState {
  lastValue: string
  isCalled: boolean
  incrementBy: string
  max: string | null
}

/**
 * Whether the next value a sequence hands out (`last_value + increment_by` once `last_value` was
 * handed out, `last_value` itself otherwise) is at or below the column's maximum. An empty table
 * is never behind; nor is a descending sequence (negative increment), which is not checked.
 */
export function isBehind (state: SequenceState): boolean {
  if (state.max === null) return false
  const increment = BigInt(state.incrementBy)
  if (increment <= 0n) return false
  const last = BigInt(state.lastValue)
  const next = state.isCalled ? last + increment : last
  return next <= BigInt(state.max)
}

/**
 * Reads a sequence's state, its column's maximum, and whether the next value is taken already (a
 * lookup through the column's index), in one statement, so from one snapshot of the table. The
 * lookup takes the next value from a CTE rather than from the sequence row beside it: Citus
 * cannot join a distributed table's rows with a local relation's (the sequence), but runs each
 * subquery on its own.
 */
function stateSql (row: SequenceRow): string {
  return `WITH st AS (
  SELECT s.last_value, s.is_called, q.seqincrement,
         CASE WHEN q.seqincrement > 0 AND s.last_value <= ${MAX_BIGINT} - q.seqincrement
              THEN CASE WHEN s.is_called THEN s.last_value + q.seqincrement ELSE s.last_value END END AS next
  FROM ${row.sequence} s, pg_sequence q
  WHERE q.seqrelid = ${quoteLiteral(row.sequence)}::regclass)
SELECT st.last_value::text AS last_value, st.is_called, st.seqincrement::text AS increment_by,
       (SELECT ceil(max(${row.quoted_column})::numeric)::text FROM ${row.qualified_table}) AS max,
       (st.next IS NOT NULL AND EXISTS (SELECT 1 FROM ${row.qualified_table} WHERE ${row.quoted_column} = (SELECT next FROM st))) AS collides
FROM st`
}

const MAX_BIGINT = '9223372036854775807'

function fixSqlFor (row: SequenceRow, max: string): string {
  return row.kind === 'serial'
    ? `SELECT setval(${quoteLiteral(row.sequence)}, ${max})`
    : `ALTER TABLE ${row.qualified_table} ALTER COLUMN ${row.quoted_column} RESTART WITH ${BigInt(max) + 1n}`
}

async function check (db: Queryable, row: SequenceRow): Promise<SequenceCheck> {
  const { rows } = await db.query(stateSql(row))
  const state = rows[0] as { last_value: string, is_called: boolean, increment_by: string, max: string | null, collides: boolean }
  const behind = isBehind({ lastValue: state.last_value, isCalled: state.is_called, incrementBy: state.increment_by, max: state.max })
  return {
    ...publicSequence(row),
    lastValue: state.last_value,
    isCalled: state.is_called,
    incrementBy: state.increment_by,
    max: state.max,
    behind,
    collides: state.collides,
    fixSql: behind ? fixSqlFor(row, state.max as string) : null
  }
}

/**
 * Compares the sequence that fills a column with the column's maximum. Undefined when the column
 * is not filled from a sequence. Reads only; takes no lock.
 */
export async function checkSequence (db: Queryable, target: SequenceTarget): Promise<SequenceCheck | undefined> {
  const row = await findOne(db, target, 'checkSequence target')
  return row === undefined ? undefined : await check(db, row)
}

function lockTimeoutOf (options: unknown, where: string): number {
  if (options === undefined) return DEFAULT_LOCK_TIMEOUT
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError(`${where} must be an object`)
  const { lockTimeout } = options as RepairOptions
  if (lockTimeout === undefined) return DEFAULT_LOCK_TIMEOUT
  if (typeof lockTimeout !== 'number' || !Number.isInteger(lockTimeout) || lockTimeout < 0 || lockTimeout > MAX_LOCK_TIMEOUT) {
    throw new InvalidOptionError(`${where}.lockTimeout must be a whole number of milliseconds from 0 to ${MAX_LOCK_TIMEOUT}`)
  }
  return lockTimeout
}

const DEFAULT_LOCK_TIMEOUT = 2000
const MAX_LOCK_TIMEOUT = 2 ** 31 - 1 // PostgreSQL's lock_timeout is an int of ms

/**
 * The repair, as one query string of three statements, which PostgreSQL runs as one transaction
 * (or inside the caller's, when its client is in one):
 * 1. `lock_timeout` for this transaction only;
 * 2. a SHARE ROW EXCLUSIVE lock on the table: inserts and updates (which take ROW EXCLUSIVE)
 *    wait until the repair is done, and so do other repairs (the mode conflicts with itself).
 *    The maximum cannot change under it, and no insert draws from the sequence meanwhile;
 * 3. `setval(sequence, max)` only when the sequence is behind that maximum: it moves forward or
 *    not at all. A sequence moved past the maximum by anyone else is left alone.
 */
function repairSql (row: SequenceRow, lockTimeout: number): string {
  return `SET LOCAL lock_timeout = ${lockTimeout};
LOCK TABLE ${row.qualified_table} IN SHARE ROW EXCLUSIVE MODE;
SELECT m.max::text AS max, s.last_value::text AS before,
       CASE WHEN m.max IS NOT NULL AND q.seqincrement > 0
             AND (CASE WHEN s.is_called THEN s.last_value::numeric + q.seqincrement ELSE s.last_value END) <= m.max
            THEN setval(${quoteLiteral(row.sequence)}, m.max::bigint, true)::text END AS moved_to
FROM ${row.sequence} s, pg_sequence q, (SELECT ceil(max(${row.quoted_column})::numeric) AS max FROM ${row.qualified_table}) m
WHERE q.seqrelid = ${quoteLiteral(row.sequence)}::regclass`
}

async function repair (db: Queryable, row: SequenceRow, lockTimeout: number): Promise<SequenceRepair> {
  // Several statements answer with one result each (node-postgres: an array; other clients may
  // give the last one only); the last is the SELECT's.
  const results: unknown = await db.query(repairSql(row, lockTimeout))
  const last = [results].flat().at(-1) as { rows: unknown[] }
  const state = last.rows[0] as { max: string | null, before: string, moved_to: string | null }
  return {
    ...publicSequence(row),
    max: state.max,
    before: state.before,
    after: state.moved_to ?? state.before,
    moved: state.moved_to !== null
  }
}

/**
 * Moves the sequence that fills a column past the column's maximum, if it is behind it; never
 * backwards. Inserts into the table wait for the repair (a SHARE ROW EXCLUSIVE lock, held a few
 * milliseconds), so none draws a value between the check and the move; a repair waits at most
 * `lockTimeout` for that lock (then it rejects with SQLSTATE 55P03 and changes nothing). Works
 * for identity columns too (`setval` is allowed on their sequences). Needs SELECT and UPDATE on
 * the table and on the sequence. Undefined when the column is not filled from a sequence.
 *
 * Give it a pool, or a client outside a transaction: on a client inside one, the lock (and the
 * `lock_timeout`) last until that transaction ends. Only the table's inserts are held back: a
 * `nextval()` called on the sequence elsewhere, in the instant between the check and the move,
 * is not.
 */
export async function repairSequence (db: Queryable, target: SequenceTarget, options?: RepairOptions): Promise<SequenceRepair | undefined> {
  const lockTimeout = lockTimeoutOf(options, 'repairSequence options')
  const row = await findOne(db, target, 'repairSequence target')
  return row === undefined ? undefined : await repair(db, row, lockTimeout)
}

function schemasOf (schema: unknown): string[] | null {
  if (schema === undefined) return null
  const list = typeof schema === 'string' ? [schema] : schema
  if (!Array.isArray(list) || list.length === 0 || !list.every((s) => typeof s === 'string' && s !== '')) {
    throw new InvalidOptionError('resetSequences options.schema must be a schema name or a non-empty array of schema names')
  }
  return list as string[]
}

/** SQLSTATEs of a table or column dropped while we were looking: nothing to check there any more. */
const GONE = new Set(['42P01', '42703'])

/**
 * Lists every serial and identity column (in `schema`, or in every non-system schema) whose
 * sequence is behind the column's maximum, and repairs each with `repairSequence` unless
 * `dryRun`. A repair that fails (a lock wait that timed out, a missing privilege) is reported
 * with `fixed: false` and its `error`, and the others still run. Empty tables are never behind.
 */
export async function resetSequences (db: Queryable, options: ResetOptions = {}): Promise<SequenceReset[]> {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('resetSequences options must be an object like { schema, dryRun }')
  const schemas = schemasOf(options.schema)
  if (options.dryRun !== undefined && typeof options.dryRun !== 'boolean') throw new InvalidOptionError('resetSequences options.dryRun must be true or false')
  const lockTimeout = lockTimeoutOf(options, 'resetSequences options')
  const found: SequenceReset[] = []
  for (const row of await findSequences(db, schemas, null, null)) {
    let checked: SequenceCheck
    try {
      checked = await check(db, row)
    } catch (error) {
      if (GONE.has((Object(error) as { code?: string }).code as string)) continue // dropped since the listing
      throw error
    }
    if (!checked.behind) continue
    if (options.dryRun === true) {
      found.push({ ...checked, fixed: false })
      continue
    }
    try {
      await repair(db, row, lockTimeout)
      found.push({ ...checked, fixed: true })
    } catch (error) {
      found.push({ ...checked, fixed: false, error: (error as Error).message })
    }
  }
  return found
}
