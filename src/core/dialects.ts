/**
 * What the PostgreSQL-compatible distributed engines do differently in the errors they send, as
 * far as this library reads them:
 *
 * - CockroachDB prints DETAIL's values as SQL literals (`Key (email)=('ada@example.com') already
 *   exists.`), its keys as bare column names, and sends the constraint name but never the schema
 *   or the table. Its errors name a Go source file (`errors.go`), which is how it is recognised.
 *   (From its source and documentation: docs/distributed.md.)
 * - Citus (observed on a Citus 12.1 cluster: docs/citus.md) relays a worker's error from the
 *   coordinator with its code, message, DETAIL and hint only: no constraint, schema, table or
 *   column, and the names in the message are the shard's (`users_email_key_102008` on
 *   `users_102008`). Its COPY-based paths (COPY, and `INSERT … SELECT` that it cannot push down
 *   to the shards) relay the message and DETAIL only, under SQLSTATE `XX000`. A NULL in the
 *   distribution column is its own `22004`, before any shard is reached.
 * - YugabyteDB reports a unique violation found by its storage layer without DETAIL and without
 *   the constraint field: the index name is only in the message.
 *
 * This module imports nothing of the library's: `recognise.ts` asks it what a Citus error means.
 */

import type { Dialect } from './detail.js'

/** The fields of a PostgreSQL error this module reads (a `PgErrorFields` of `recognise.ts`). */
export interface ServerError {
  code: string
  message: string
  constraint: string | undefined
  table: string | undefined
  column?: string | undefined
  /** The error object the fields were read from. */
  error: object
}

/** A string property of the error object the fields were read from; `undefined` if absent, not a string or unreadable. */
function property (error: ServerError, name: string): string | undefined {
  try {
    const value = (error.error as Record<string, unknown>)[name]
    return typeof value === 'string' ? value : undefined
  } catch {
    return undefined
  }
}

/**
 * How the server that raised `error` prints DETAIL, for `parseKeyDetail`: `cockroachdb` when the
 * error names a Go source file (`file`, the protocol's `F` field: CockroachDB's `errors.go`
 * where PostgreSQL's is `nbtinsert.c`), else `postgresql`. An error whose client dropped `file`
 * reads as PostgreSQL's: configure the dialect then.
 */
export function dialectOf (error: ServerError): Dialect {
  return property(error, 'file')?.endsWith('.go') === true ? 'cockroachdb' : 'postgresql'
}

/**
 * Whether `error` is a worker's error relayed by a Citus coordinator (or by a worker for another
 * worker): Citus re-raises it from `ReportResultError` in `remote_commands.c`, keeping the code,
 * message, DETAIL and hint but not the constraint, schema, table or column, and adding `while
 * executing command on host:port` as its context. The names it holds are the shard's.
 */
export function isRelayedByCitus (error: ServerError): boolean {
  return property(error, 'routine') === 'ReportResultError' || property(error, 'file') === 'remote_commands.c'
}

/**
 * Whether `error` is a shard's error relayed by Citus's COPY (`ReportCopyError` in
 * `multi_copy.c`): COPY into a distributed table, and `INSERT … SELECT` that Citus runs through
 * the coordinator or repartitions. It keeps the worker's message and DETAIL only; its code is
 * `XX000` whatever the worker's was.
 */
export function isCopiedByCitus (error: ServerError): boolean {
  return property(error, 'routine') === 'ReportCopyError'
}

/** The integrity errors Citus sends under another code than PostgreSQL's (a subset of `recognise.ts`'s `IntegrityKind`). */
export type CitusKind = 'unique' | 'exclusion' | 'foreignKey' | 'notNull' | 'check'

/** The names an integrity error's message holds. */
interface MessageNames {
  kind: CitusKind
  constraint?: string | undefined
  table?: string | undefined
  column?: string | undefined
}

/**
 * PostgreSQL's (English) messages of the integrity errors, and the names in them. Names are
 * printed unescaped between `"`; the words between them fix where each ends. For a row still
 * referenced, the table is the referencing one (the last), as in PostgreSQL's `table` field.
 */
const MESSAGES: ReadonlyArray<readonly [RegExp, (m: RegExpExecArray) => MessageNames]> = [
  [/^duplicate key value violates unique constraint "(.+)"$/s, (m) => ({ kind: 'unique', constraint: m[1] })],
  [/^conflicting key value violates exclusion constraint "(.+)"$/s, (m) => ({ kind: 'exclusion', constraint: m[1] })],
  [/^insert or update on table "(.+)" violates foreign key constraint "(.+)"$/s, (m) => ({ kind: 'foreignKey', table: m[1], constraint: m[2] })],
  [/^update or delete on table "(.+)" violates foreign key constraint "(.+)" on table "(.+)"$/s, (m) => ({ kind: 'foreignKey', constraint: m[2], table: m[3] })],
  [/^null value in column "(.+)" of relation "(.+)" violates not-null constraint$/s, (m) => ({ kind: 'notNull', column: m[1], table: m[2] })],
  [/^new row for relation "(.+)" violates check constraint "(.+)"$/s, (m) => ({ kind: 'check', table: m[1], constraint: m[2] })]
]

/** The kind and names an integrity error's message states; `undefined` for another message (or a translated one). */
function namesInMessage (message: string): MessageNames | undefined {
  for (const [pattern, names] of MESSAGES) {
    const m = pattern.exec(message)
    if (m !== null) return names(m)
  }
  return undefined
}

/**
 * The kind of a Citus error that PostgreSQL would have sent under an integrity code, or
 * `undefined`: a shard's integrity error relayed by COPY (`XX000`, `isCopiedByCitus`), read from
 * its message (PostgreSQL's English one; a translated message leaves it unknown, a 500); a NULL
 * in the distribution column (`22004`, from Citus's router planner or its COPY), which Citus
 * refuses before any shard's NOT NULL could: a `notNull` naming no column.
 */
export function citusKind (error: ServerError): CitusKind | undefined {
  if (error.code === 'XX000') return isCopiedByCitus(error) ? namesInMessage(error.message)?.kind : undefined
  if (error.code === '22004') {
    const routine = property(error, 'routine')
    return routine === 'BuildRoutesForInsert' || routine === 'ShardIdForTuple' ? 'notNull' : undefined
  }
  return undefined
}

const SHARD_ID = /^(.+)_(\d+)$/s

/**
 * A Citus shard's relation or constraint name without its shard id: `users_email_key_102008` →
 * `users_email_key`; `undefined` for a name without one. Citus appends `_<shard id>` to the name
 * of every shard and of its indexes and constraints (not of CHECK constraints, which keep their
 * name); a name that would then pass 63 bytes is shortened and given a hash first, which this
 * cannot undo (the result is then not a name the coordinator knows). Only for names known to be
 * a shard's: a name of your own may end in `_2`.
 */
export function withoutShardId (name: string): string | undefined {
  return SHARD_ID.exec(name)?.[1]
}

/** The distributed table's names behind a Citus shard's error (see `citusShard`). */
export interface ShardNames {
  shardId: string
  /** The distributed table's constraint (or index) name, if the error names one. */
  constraint: string | undefined
  /** The distributed table's name, if the error names the shard. */
  table: string | undefined
  /** The column, for a not-null violation whose column only the message names. */
  column?: string | undefined
}

/**
 * The names a Citus shard's error stands for on the distributed table; `undefined` when the error
 * is not known to be a shard's.
 *
 * A relayed error (`isRelayedByCitus`, `isCopiedByCitus`) is one: its names come from its fields
 * or, as Citus drops those, from its message. The table loses its shard id; the constraint loses
 * the same `_<shard id>` (a CHECK constraint, which has none, keeps its name), or, when no table
 * is named (unique and exclusion violations), whatever shard id ends it.
 *
 * An error raised where the shard lives (local execution: a client connected to a worker) carries
 * every field but looks like PostgreSQL's: it counts as a shard's when its constraint and its
 * table end with the same `_<shard id>`, as a shard's always do and a plain table's seldom do.
 * (Its not-null and check violations, whose constraint has no shard id, are not told apart from
 * a plain table's.) The names are to be looked up in the coordinator's catalog, after the names
 * as sent.
 */
export function citusShard (error: ServerError): ShardNames | undefined {
  if (isRelayedByCitus(error) || isCopiedByCitus(error)) return relayedShard(error)
  const constraint = error.constraint === undefined ? undefined : SHARD_ID.exec(error.constraint)
  const table = error.table === undefined ? undefined : SHARD_ID.exec(error.table)
  const shardId = constraint?.[2]
  if (shardId === undefined || table?.[2] !== shardId) return undefined
  return { shardId, constraint: constraint?.[1], table: table?.[1] }
}

function relayedShard (error: ServerError): ShardNames | undefined {
  const stated = namesInMessage(error.message)
  const constraintName = error.constraint ?? stated?.constraint
  const tableName = error.table ?? stated?.table
  const column = error.column ?? stated?.column
  const constraint = constraintName === undefined ? null : SHARD_ID.exec(constraintName)
  const table = tableName === undefined ? null : SHARD_ID.exec(tableName)
  // The shard is the table's when the error names one; a constraint of that shard ends with its id, unless it is a CHECK.
  const shardId = table?.[2] ?? constraint?.[2]
  if (shardId === undefined) return undefined
  return { shardId, constraint: constraint?.[2] === shardId ? constraint[1] : constraintName, table: table?.[1], column }
}
