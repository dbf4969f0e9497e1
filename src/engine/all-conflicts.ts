import type { Queryable } from '../catalog/catalog.js'
import type { UniqueIndex } from '../core/constraints.js'
import { identifierName } from '../core/sql-text.js'

/**
 * After a unique violation, which of the table's other unique keys the request's values also
 * conflict with: PostgreSQL stops at the first index that fails (docs/all-conflicts.md).
 *
 * One read-only query. The values the request supplied go as its one parameter, a JSON object by
 * column, which `jsonb_populate_record` turns into a row of the table's own type (each value
 * converted by its column's type, as an INSERT would). Everything else in the text comes from the
 * catalog, written by the server: the table's name (quoted here), each index's keys as
 * `pg_get_indexdef` prints them (`lower(email)`, `"Nick Name"`) and its predicate as `pg_get_expr`
 * prints it. Per index, an `EXISTS` over the table compares its keys with the same keys computed
 * on the supplied row, with the predicate on both: the index's own expressions, so that the
 * planner uses the index itself.
 */

/** The name of the row of supplied values in the query: no table or column of the user's is in scope there. */
const SUPPLIED = 'fpc_supplied'

/** What is checked of one index: the SQL that is true when an existing row conflicts, and the columns whose values it needs. */
interface Check {
  index: UniqueIndex
  condition: string
}

/**
 * The indexes among `indexes` (a table's unique ones) that the supplied values can be checked
 * against, with their conditions: not the violated one (`violated`), every key column supplied,
 * no plain key supplied as NULL (NULLs never conflict, but under NULLS NOT DISTINCT), and for a
 * partial index every column of its predicate supplied, or one a row that leaves it out holds as
 * NULL (no default): otherwise what the new row would hold there is not known.
 */
export function checksFor (indexes: readonly UniqueIndex[], violated: string | undefined, supplied: ReadonlyMap<string, unknown>): Check[] {
  const checks: Check[] = []
  for (const index of indexes) {
    if (index.name === violated) continue
    const condition = conditionOf(index, supplied)
    if (condition !== undefined) checks.push({ index, condition })
  }
  return checks
}

function conditionOf (index: UniqueIndex, supplied: ReadonlyMap<string, unknown>): string | undefined {
  if (index.columns.length === 0 || !index.columns.every((column) => supplied.has(column))) return undefined
  const terms: string[] = []
  for (const key of index.keys) {
    const expression = `(${key.definition})`
    const computed = `(SELECT ${expression} FROM ${SUPPLIED})`
    const plain = identifierName(key.definition)
    if (plain !== undefined && key.columns.length === 1 && key.columns[0] === plain) {
      // A plain column: a NULL supplied never conflicts, unless NULLs are not distinct (then `IS NULL`, which the index answers).
      if (supplied.get(plain) === null) {
        if (index.nullsNotDistinct !== true) return undefined
        terms.push(`${expression} IS NULL`)
      } else {
        terms.push(`${expression} = ${computed}`)
      }
    } else {
      terms.push(index.nullsNotDistinct === true ? `${expression} IS NOT DISTINCT FROM ${computed}` : `${expression} = ${computed}`)
    }
  }
  if (index.predicate !== undefined) {
    if (index.predicateColumns?.some(({ column, defaulted }) => defaulted && !supplied.has(column)) === true) return undefined
    // The existing row and the new one both in the index.
    terms.push(`(${index.predicate})`, `(SELECT (${index.predicate}) FROM ${SUPPLIED}) IS TRUE`)
  }
  return terms.join(' AND ')
}

/** A name as an SQL identifier, always quoted. */
export function quoteIdentifier (name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

/** The query for `checks` on `schema.table`: one row, one boolean per check (`"0"`, `"1"`…). */
export function checkSql (schema: string, table: string, checks: readonly Check[]): string {
  const relation = `${quoteIdentifier(schema)}.${quoteIdentifier(table)}`
  const tests = checks.map(({ condition }, i) => `EXISTS (SELECT 1 FROM ${relation} WHERE ${condition}) AS "${i}"`)
  return `WITH ${SUPPLIED} AS (SELECT * FROM jsonb_populate_record(NULL::${relation}, $1::text::jsonb))\nSELECT ${tests.join(',\n       ')}`
}

/**
 * The columns whose values the checks need (their keys and predicates), as the JSON parameter:
 * only those, whatever else the request carried.
 */
export function parameterOf (checks: readonly Check[], supplied: ReadonlyMap<string, unknown>): string {
  const values: Record<string, unknown> = {}
  for (const { index } of checks) {
    for (const column of [...index.columns, ...(index.predicateColumns ?? []).map((c) => c.column)]) {
      if (supplied.has(column)) Object.defineProperty(values, column, { value: supplied.get(column), enumerable: true, configurable: true, writable: true })
    }
  }
  return JSON.stringify(values)
}

/**
 * The indexes of `checks` that an existing row conflicts with, in the checks' order. Rejects when
 * the query fails (no SELECT privilege on the table, a value its column's type refuses).
 */
export async function conflictingIndexes (db: Queryable, schema: string, table: string, checks: readonly Check[], supplied: ReadonlyMap<string, unknown>): Promise<UniqueIndex[]> {
  const { rows } = await db.query(checkSql(schema, table, checks), [parameterOf(checks, supplied)])
  const row = rows[0] as Record<string, unknown> | undefined
  return checks.filter((_check, i) => row?.[String(i)] === true).map((check) => check.index)
}
