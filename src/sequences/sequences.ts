import type { Queryable } from '../catalog/catalog.js'
import { InvalidOptionError } from '../util/errors.js'
import { quoteLiteral } from '../core/sql-text.js'

export { quoteLiteral }

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
  /**
   * The last value the sequence handed out; when it has handed out none since it was created or
   * restarted (`isCalled` false), the value it hands out next.
   */
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
   * Where a repair moves the sequence: the end of the ids packed above its next value, the
   * largest id up to which they fill at least half of the values the sequence would hand out
   * (see docs/security.md). Null when not behind, or when nothing is packed there.
   */
  target: string | null
  /**
   * When the column's maximum lies beyond `target`, far ahead of the other ids (one id planted
   * far ahead, by a client that may choose ids): that maximum, and the statement that would move
   * the sequence past it, for a person to judge. A repair never follows it. Null otherwise.
   */
  outlier: { max: string, sql: string } | null
  /**
   * The statement that moves the sequence to `target`, to run by hand (`SELECT setval(…)` for
   * serial, `ALTER TABLE … ALTER COLUMN … RESTART WITH …` for identity). Null when there is no
   * target: run on a sequence that moved on since, it would move it backwards.
   */
  fixSql: string | null
  /** The id of the unique violation this check was made for, when it is known (a fault found by the plugin). */
  value?: string | undefined
}

/** What `repairSequence` did. */
export interface SequenceRepair extends ColumnSequence {
  /** `MAX(column)` under the lock; null for an empty table. */
  max: string | null
  /** The sequence's last value before the repair (under the lock), as `SequenceCheck.lastValue`. */
  before: string
  /** Its last value after the repair: the target when it moved, `before` when it did not. */
  after: string
  /** Whether the sequence was behind and was moved forward, to the end of the ids packed above it. */
  moved: boolean
  /** The column's maximum when it lies beyond where the repair left the sequence (an outlier it did not follow), with the statement that would follow it; null otherwise. */
  outlier: { max: string, sql: string } | null
}

/** One sequence `resetSequences` found behind. */
export interface SequenceReset extends SequenceCheck {
  /** Whether it was moved to its `target` (false in a dry run, when the repair failed, or when it has only an outlier ahead). */
  fixed: boolean
  /** Why it was not fixed (a lock wait that timed out, a missing privilege, an outlier left for a person…). */
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

/** What the catalog says about one sequence-filled column, with the names quoted by the server (for `SequenceWatch`). */
export interface SequenceRow {
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

/** The sequence-filled column `target`, with its names quoted by the server; undefined when no sequence fills it. */
export async function findSequenceRow (db: Queryable, target: SequenceTarget): Promise<SequenceRow | undefined> {
  return await findOne(db, target, 'target')
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

/** How many ids above the sequence one check or repair reads, at most, to find where they stop being packed. */
const MAX_PACKED_SCAN = 1_000_000

const MAX_BIGINT = '9223372036854775807'

/** Decimal text from the server, checked before it is written into a statement. */
const INTEGER = /^-?\d+$/

/**
 * The state of a sequence, as a `WITH` clause `st` over the sequence's catalog row alone:
 * `h`, the last value handed out (`pg_sequence_last_value`, which USAGE on the sequence allows,
 * where reading the sequence relation needs SELECT; null when none was handed out since it was
 * created or restarted), `inc`, whether the role may read the sequence (`readable`) or use it at
 * all (`usable`), and `next`, the value it hands out next (`h + inc`; when none was handed out,
 * `notCalled`, its `last_value` if the caller could read it, else its start value). The table is
 * read only in scalar subqueries that take these values from `st`, never joined with it: Citus
 * cannot join a distributed table's rows with a local relation's, but runs each subquery alone.
 */
function stateWith (row: SequenceRow, notCalled: string | null): string {
  const next = notCalled !== null && INTEGER.test(notCalled) ? `${notCalled}::bigint` : 's.start'
  return `WITH st AS (
  SELECT s.h, s.inc, s.readable, s.usable,
         CASE WHEN s.h IS NULL THEN ${next} WHEN s.inc > 0 AND s.h <= ${MAX_BIGINT} - s.inc THEN s.h + s.inc END AS next
  FROM (SELECT pg_sequence_last_value(q.seqrelid) AS h, q.seqincrement AS inc, q.seqstart AS start,
               has_sequence_privilege(q.seqrelid, 'SELECT') AS readable,
               has_sequence_privilege(q.seqrelid, 'SELECT') OR has_sequence_privilege(q.seqrelid, 'USAGE') AS usable
        FROM pg_sequence q WHERE q.seqrelid = ${quoteLiteral(row.sequence)}::regclass) s
)`
}

/** The column's maximum, as a scalar subquery (through its index). */
function maxSql (row: SequenceRow): string {
  return `(SELECT ceil(max(${row.quoted_column})::numeric) FROM ${row.qualified_table})`
}

/**
 * Where a repair moves the sequence, as a scalar subquery over `st`: the end of the ids packed
 * above its next value, the largest id `v` such that the ids in [next, v] number at least half
 * the values the sequence would hand out up to `v` (2·k·inc ≥ v − (next − inc) for the k-th id),
 * over at most MAX_PACKED_SCAN ids read through the column's index. Null when there is none.
 */
function targetSql (row: SequenceRow): string {
  return `(SELECT max(r.v) FROM (
      SELECT ids.v, row_number() OVER (ORDER BY ids.v) AS k FROM (
        SELECT ceil(${row.quoted_column}::numeric) AS v FROM ${row.qualified_table}
        WHERE ${row.quoted_column} >= (SELECT next FROM st) ORDER BY ${row.quoted_column} LIMIT ${MAX_PACKED_SCAN}
      ) ids
    ) r WHERE 2 * r.k * (SELECT inc FROM st) >= r.v - ((SELECT next FROM st) - (SELECT inc FROM st)))`
}

/**
 * Reads a sequence's state, its column's maximum, whether the next value is taken already (a
 * lookup through the column's index) and, when it is behind and `withTarget`, where a repair
 * would move it: in one statement, so from one snapshot of the table. (`OFFSET 0` keeps each
 * subquery computed once.)
 */
function stateSql (row: SequenceRow, notCalled: string | null, withTarget: boolean): string {
  return `${stateWith(row, notCalled)}
SELECT x.h::text AS handed_out, x.next::text AS next, x.readable, x.usable, x.inc::text AS increment_by, x.max::text AS max, x.collides,
       (CASE WHEN ${withTarget} AND x.inc > 0 AND x.next <= x.max THEN ${targetSql(row)} END)::text AS target
FROM (SELECT st.*, ${maxSql(row)} AS max,
             (st.inc > 0 AND st.next IS NOT NULL AND EXISTS (SELECT 1 FROM ${row.qualified_table} WHERE ${row.quoted_column} = (SELECT next FROM st))) AS collides
      FROM st OFFSET 0) x`
}

function fixSqlFor (row: SequenceRow, value: string): string {
  return row.kind === 'serial'
    ? `SELECT setval(${quoteLiteral(row.sequence)}, ${value})`
    : `ALTER TABLE ${row.qualified_table} ALTER COLUMN ${row.quoted_column} RESTART WITH ${BigInt(value) + 1n}`
}

interface StateRow {
  handed_out: string | null
  next: string | null
  readable: boolean
  usable: boolean
  increment_by: string
  max: string | null
  target: string | null
  collides: boolean
}

/**
 * The sequence's `last_value` when it has handed out nothing since it was created or restarted
 * (then it is the next value), if the role may read the sequence; `null` otherwise.
 */
async function notCalledValue (db: Queryable, row: SequenceRow): Promise<string | null> {
  const { rows } = await db.query(`SELECT last_value::text AS last_value FROM ${row.sequence}`)
  return (rows[0] as { last_value: string }).last_value
}

async function readState (db: Queryable, row: SequenceRow, withTarget: boolean): Promise<StateRow> {
  const state = (await db.query(stateSql(row, null, withTarget))).rows[0] as StateRow
  // Without USAGE or SELECT, pg_sequence_last_value fails (PostgreSQL 17 and before) or gives null (18): either way, not "nothing handed out".
  if (!state.usable) throw Object.assign(new Error(`permission denied for sequence ${row.sequence}: checking it needs USAGE (or SELECT) on it`), { code: '42501' })
  // Restarted (or setval(…, false)): the next value is last_value itself, which only SELECT on the sequence shows.
  if (state.handed_out !== null || !state.readable) return state
  return (await db.query(stateSql(row, await notCalledValue(db, row), withTarget))).rows[0] as StateRow
}

/**
 * Checks the sequence of a column found with `findSequenceRow`. `withTarget` false leaves out
 * where a repair would move it (`target`, `outlier` and `fixSql` null), which reads the ids above
 * the sequence: the rest is index probes.
 */
export async function checkRow (db: Queryable, row: SequenceRow, withTarget = true): Promise<SequenceCheck> {
  const state = await readState(db, row, withTarget)
  const lastValue = state.handed_out ?? state.next as string
  const behind = isBehind({ lastValue, isCalled: state.handed_out !== null, incrementBy: state.increment_by, max: state.max })
  const outlier = behind && state.max !== (state.target ?? undefined) ? state.max as string : null
  return {
    ...publicSequence(row),
    lastValue,
    isCalled: state.handed_out !== null,
    incrementBy: state.increment_by,
    max: state.max,
    behind,
    collides: state.collides,
    target: behind ? state.target : null,
    outlier: outlier === null ? null : { max: outlier, sql: fixSqlFor(row, outlier) },
    fixSql: behind && state.target !== null ? fixSqlFor(row, state.target) : null
  }
}

/**
 * Compares the sequence that fills a column with the column's maximum. Undefined when the column
 * is not filled from a sequence. Reads only; takes no lock.
 */
export async function checkSequence (db: Queryable, target: SequenceTarget): Promise<SequenceCheck | undefined> {
  const row = await findOne(db, target, 'checkSequence target')
  return row === undefined ? undefined : await checkRow(db, row)
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
 *    The ids cannot change under it, and no insert draws from the sequence meanwhile;
 * 3. `setval(sequence, target)` only when the sequence is behind the ids packed above it
 *    (`targetSql`): it moves forward or not at all, and never past an id planted far ahead of
 *    the others. A sequence moved further by anyone else is left alone.
 */
function repairSql (row: SequenceRow, lockTimeout: number, notCalled: string | null): string {
  return `SET LOCAL lock_timeout = ${lockTimeout};
LOCK TABLE ${row.qualified_table} IN SHARE ROW EXCLUSIVE MODE;
${stateWith(row, notCalled)}
SELECT y.max::text AS max, y.before::text AS before, y.target::text AS target,
       CASE WHEN y.target IS NOT NULL AND y.target >= y.next THEN setval(${quoteLiteral(row.sequence)}, y.target::bigint, true)::text END AS moved_to
FROM (SELECT x.*, CASE WHEN x.inc > 0 AND x.next <= x.max THEN ${targetSql(row)} END AS target
      FROM (SELECT coalesce(st.h, st.next) AS before, st.next, st.inc, ${maxSql(row)} AS max FROM st OFFSET 0) x OFFSET 0) y`
}

async function repair (db: Queryable, row: SequenceRow, lockTimeout: number): Promise<SequenceRepair> {
  // A sequence restarted and not drawn from since: its next value is last_value, which only SELECT on it shows.
  const { rows } = await db.query(`SELECT pg_sequence_last_value(${quoteLiteral(row.sequence)}::regclass) IS NULL AND has_sequence_privilege(${quoteLiteral(row.sequence)}, 'SELECT') AS read`)
  const notCalled = (rows[0] as { read: boolean }).read ? await notCalledValue(db, row) : null
  // Several statements answer with one result each (node-postgres: an array; other clients may
  // give the last one only); the last is the SELECT's.
  const results: unknown = await db.query(repairSql(row, lockTimeout, notCalled))
  const last = [results].flat().at(-1) as { rows: unknown[] }
  const state = last.rows[0] as { max: string | null, before: string, target: string | null, moved_to: string | null }
  const after = state.moved_to ?? state.before
  return {
    ...publicSequence(row),
    max: state.max,
    before: state.before,
    after,
    moved: state.moved_to !== null,
    outlier: state.max !== null && BigInt(state.max) > BigInt(after) ? { max: state.max, sql: fixSqlFor(row, state.max) } : null
  }
}

/**
 * Moves the sequence that fills a column forward to the end of the ids packed above it, if it is
 * behind them; never backwards, and never past an id planted far ahead of the others (see
 * `SequenceCheck.target`: such an id is left for a person, and reported as `outlier`). Inserts
 * into the table wait for the repair (a SHARE ROW EXCLUSIVE lock, held while the ids above the
 * sequence are read), so none draws a value between the check and the move; a repair waits at
 * most `lockTimeout` for that lock (then it rejects with SQLSTATE 55P03 and changes nothing).
 * Works for identity columns too (`setval` is allowed on their sequences). Needs SELECT and
 * UPDATE (or DELETE or TRUNCATE, for the lock) on the table, and UPDATE and USAGE on the
 * sequence (see `repairPrivileges`). Undefined when the column is not filled from a sequence.
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

/** A sequence-filled column the role cannot repair, with the grants that are missing. */
export interface MissingRepairGrants extends ColumnSequence {
  /** `GRANT …` statements that would allow the repair, for the role the pool connects as. */
  grants: string[]
}

/**
 * The sequence-filled columns (in `schemas`, or every user schema) whose sequence the role
 * connected cannot repair, with the grants it lacks: UPDATE on the sequence (`setval`) and USAGE
 * (or SELECT: `pg_sequence_last_value`, which every insert taking the default needs anyway), and on
 * the table SELECT (its ids) and UPDATE, DELETE or TRUNCATE (`LOCK TABLE … IN SHARE ROW EXCLUSIVE
 * MODE` requires one of them). An application role with INSERT and SELECT on its tables and
 * USAGE on their sequences lacks both.
 */
export async function repairPrivileges (db: Queryable, schemas?: readonly string[]): Promise<MissingRepairGrants[]> {
  const { rows } = await db.query(`
SELECT c.schema, c."table", c."column", c.kind, c.sequence, c.qualified_table, quote_ident(current_user) AS role,
       has_sequence_privilege(c.sequence, 'UPDATE') AS sequence_update,
       (has_sequence_privilege(c.sequence, 'USAGE') OR has_sequence_privilege(c.sequence, 'SELECT')) AS sequence_use,
       has_table_privilege(c.qualified_table, 'SELECT') AS table_select,
       (has_table_privilege(c.qualified_table, 'UPDATE') OR has_table_privilege(c.qualified_table, 'DELETE') OR has_table_privilege(c.qualified_table, 'TRUNCATE')) AS table_lock
FROM (${SEQUENCES_SQL}) c`, [schemas ?? null, null, null])
  const missing: MissingRepairGrants[] = []
  for (const row of rows as Array<SequenceRow & { role: string, sequence_update: boolean, sequence_use: boolean, table_select: boolean, table_lock: boolean }>) {
    const { role } = row
    const grants: string[] = []
    const onSequence = [...(row.sequence_update ? [] : ['UPDATE']), ...(row.sequence_use ? [] : ['USAGE'])]
    if (onSequence.length > 0) grants.push(`GRANT ${onSequence.join(', ')} ON SEQUENCE ${row.sequence} TO ${role}`)
    const onTable = [...(row.table_select ? [] : ['SELECT']), ...(row.table_lock ? [] : ['UPDATE'])]
    if (onTable.length > 0) grants.push(`GRANT ${onTable.join(', ')} ON TABLE ${row.qualified_table} TO ${role}`)
    if (grants.length > 0) missing.push({ ...publicSequence(row), grants })
  }
  return missing
}


function schemasOf (schema: unknown): string[] | null {
  if (schema === undefined) return null
  const list = typeof schema === 'string' ? [schema] : schema
  if (!Array.isArray(list) || list.length === 0 || !list.every((s) => typeof s === 'string' && s !== '')) {
    throw new InvalidOptionError('resetSequences options.schema must be a schema name or a non-empty array of schema names')
  }
  return list as string[]
}

/** SQLSTATEs of a schema, table or column dropped while we were looking: nothing to check there any more. */
const GONE = new Set(['3F000', '42P01', '42703'])

/**
 * Lists every serial and identity column (in `schema`, or in every non-system schema) whose
 * sequence is behind the column's maximum, and repairs each with `repairSequence` unless
 * `dryRun`: to the end of the ids packed above it. One whose only ids ahead lie far beyond the
 * others (an outlier) is reported with `fixed: false` and left for a person. A repair that fails (a lock wait that timed out, a missing privilege) is reported
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
      checked = await checkRow(db, row)
    } catch (error) {
      if (GONE.has((Object(error) as { code?: string }).code as string)) continue // dropped since the listing
      throw error
    }
    if (!checked.behind) continue
    if (options.dryRun === true) {
      found.push({ ...checked, fixed: false })
      continue
    }
    if (checked.target === null) {
      // Only ids far ahead of the sequence (planted?): the sequence hands out the free ones first, and is not moved past them.
      const outlier = checked.outlier as NonNullable<SequenceCheck['outlier']>
      found.push({ ...checked, fixed: false, error: `its maximum ${outlier.max} lies far beyond the other ids: not followed; if those ids are real, run ${outlier.sql}` })
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
