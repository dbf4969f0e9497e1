/**
 * The plugin's `pool` (a `Queryable`: node-postgres's `query(text, values)` resolving to
 * `{ rows }`) over Bun's own PostgreSQL client, `Bun.SQL`, whose queries are tagged templates and
 * `sql.unsafe(text, values)`. postgres.js's `sql` has the same `unsafe` and works too.
 *
 * The catalog reads send two statements at once (`SET LOCAL jit = off; SELECT …`), which only the
 * simple query protocol takes: a query without values goes as `.simple()`, whose answer to
 * several statements is one array of rows per statement (the `command` of each is on it; the
 * whole has none). Rows are given as they come: both clients parse arrays, booleans and numbers
 * as node-postgres does, and give `int8` as a string, as it does.
 */
import { InvalidOptionError } from '../util/errors.js'
import type { Queryable } from '../catalog/catalog.js'

/** What `sql.unsafe(text, values)` gives back in both clients: a query to await, or to send `.simple()`. */
interface UnsafeQuery extends PromiseLike<unknown> {
  simple: () => PromiseLike<unknown>
}

/** A `Bun.SQL` instance (`new SQL(url)`, or Bun's `sql`), or postgres.js's `sql`. */
export interface UnsafeSql {
  unsafe: (text: string, values?: any[]) => UnsafeQuery
}

/** A `Queryable` for the plugin's `pool` option (and the Express middleware's) over `Bun.SQL`'s `sql`. */
export function sqlPool (sql: UnsafeSql): Queryable {
  if (typeof (sql as { unsafe?: unknown } | null | undefined)?.unsafe !== 'function') {
    throw new InvalidOptionError('sqlPool needs a Bun.SQL instance (new SQL(url)) or a postgres.js sql: something with unsafe(text, values)')
  }
  return {
    async query (text, values) {
      const query = sql.unsafe(text, values ?? [])
      const result = values === undefined ? await query.simple() : await query
      // Several statements: one result each, in an array, as node-postgres gives them (whatever its types say).
      if (severalResults(result)) return result.map((rows) => ({ rows: [...rows] })) as unknown as { rows: unknown[] }
      return { rows: [...(result as unknown[])] }
    }
  }
}

/** The answer to several statements: an array of results, each an array of rows with its own `command`. */
function severalResults (result: unknown): result is unknown[][] {
  return Array.isArray(result) && (result as { command?: unknown }).command === undefined && result.every(Array.isArray)
}
