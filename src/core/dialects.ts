/**
 * What the PostgreSQL-compatible distributed engines do differently in the errors they send, as
 * far as this library reads them (see docs/distributed.md for the sources):
 *
 * - CockroachDB prints DETAIL's values as SQL literals (`Key (email)=('ada@example.com') already
 *   exists.`), its keys as bare column names, and sends the constraint name but never the schema
 *   or the table. Its errors name a Go source file (`errors.go`), which is how it is recognised.
 * - Citus relays a worker's error from the coordinator with its code, message, DETAIL and hint
 *   only: no constraint, schema or table, and the constraint in the message is the shard's
 *   (`users_email_key_102008`). Such errors come from its `ReportResultError`.
 * - YugabyteDB reports a unique violation found by its storage layer without DETAIL and without
 *   the constraint field: the index name is only in the message.
 */

import type { Dialect } from './detail.js'
import { uniqueConstraintFromMessage, type PgErrorFields } from './recognise.js'

/** A string property of the error object the fields were read from; `undefined` if absent, not a string or unreadable. */
function property (error: PgErrorFields, name: string): string | undefined {
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
export function dialectOf (error: PgErrorFields): Dialect {
  return property(error, 'file')?.endsWith('.go') === true ? 'cockroachdb' : 'postgresql'
}

/**
 * Whether `error` is a worker's error relayed by a Citus coordinator (or by a worker for another
 * worker): Citus re-raises it from `ReportResultError` in `remote_commands.c`, keeping the code,
 * message, DETAIL and hint but not the constraint, schema or table, and adding `while executing
 * command on host:port` as its context. The names it holds are the shard's.
 */
export function isRelayedByCitus (error: PgErrorFields): boolean {
  return property(error, 'routine') === 'ReportResultError' || property(error, 'file') === 'remote_commands.c'
}

const SHARD_ID = /^(.+)_(\d+)$/s

/**
 * A Citus shard's relation or constraint name without its shard id: `users_email_key_102008` →
 * `users_email_key`; `undefined` for a name without one. Citus appends `_<shard id>` to the name
 * of every shard and of its indexes and constraints; a name that would then pass 63 bytes is
 * shortened and given a hash first, which this cannot undo (the result is then not a name the
 * coordinator knows). Only for names known to be a shard's: a name of your own may end in `_2`.
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
}

/**
 * The names a Citus shard's error stands for on the distributed table; `undefined` when the error
 * is not known to be a shard's. A relayed error is one (`isRelayedByCitus`): its constraint, from
 * the message when the field is missing, loses its shard id. An error raised where the shard lives
 * (local execution) carries every field but looks like PostgreSQL's: it counts as a shard's when
 * its constraint and its table end with the same `_<shard id>`, as a shard's always do and a plain
 * table's seldom do. The names are to be looked up in the coordinator's catalog, after the names
 * as sent.
 */
export function citusShard (error: PgErrorFields): ShardNames | undefined {
  const constraint = error.constraint === undefined ? undefined : SHARD_ID.exec(error.constraint)
  const table = error.table === undefined ? undefined : SHARD_ID.exec(error.table)
  if (isRelayedByCitus(error)) {
    const named = constraint ?? SHARD_ID.exec(uniqueConstraintFromMessage(error.message) ?? '')
    const shardId = named?.[2] ?? table?.[2]
    return shardId === undefined ? undefined : { shardId, constraint: named?.[1], table: table?.[1] }
  }
  const shardId = constraint?.[2]
  if (shardId === undefined || table?.[2] !== shardId) return undefined
  return { shardId, constraint: constraint?.[1], table: table?.[1] }
}
