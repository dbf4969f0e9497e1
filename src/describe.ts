import type { UniqueIndex } from './catalog.js'
import { parseKeyDetail, splitValues } from './detail.js'
import type { PgErrorFields } from './recognise.js'

/** A unique violation, described: which constraint, on which table, over which columns and API fields. */
export interface Conflict {
  /** The unique index (or constraint) name; for a partition, its partitioned table's index. */
  constraint: string | undefined
  schema: string | undefined
  table: string | undefined
  /** The table columns of the key, in key order; empty when neither DETAIL nor the catalog tells. */
  columns: string[]
  /** The API field names for those columns (or as configured), in key order. */
  fields: string[]
  /** The conflicting values as PostgreSQL printed them, one per key; `undefined` when not known for sure. */
  values: string[] | undefined
  /** The keys as PostgreSQL printed them (`email`, `lower(email)`), one per value. */
  keys: string[]
  /** The error that was described. */
  error: PgErrorFields
}

/** How columns become API fields. */
export interface FieldNaming {
  /** Fields to report whatever the columns are. */
  fields: readonly string[] | undefined
  /** Column name to field name. */
  fieldName: (column: string) => string
}

/**
 * Step two of the data path: describes a unique violation from its fields and, when known, what
 * the catalog says of its index. The catalog is the source of truth for the columns (DETAIL is
 * missing under row-level security or without SELECT privilege, and an expression's columns are
 * only guessed from its text); DETAIL gives the values.
 */
export function describeConflict (error: PgErrorFields, index: UniqueIndex | undefined, naming: FieldNaming): Conflict {
  const detail = parseKeyDetail(error.detail)
  const keys = index?.keys.map((key) => key.definition) ?? detail?.keys ?? []
  const columns = index?.columns ?? unique(detail?.keyColumns.flat() ?? [])
  const values = detail === undefined || detail.keys.length !== keys.length
    ? undefined
    : splitValues(detail.valuesText, keys.length, index?.keys.map((key) => key.commaFree))
  return {
    constraint: index?.parent?.name ?? index?.name ?? error.constraint,
    schema: index?.parent?.schema ?? index?.schema ?? error.schema,
    table: index?.parent?.table ?? index?.table ?? error.table,
    columns,
    fields: naming.fields === undefined ? columns.map(naming.fieldName) : [...naming.fields],
    values,
    keys,
    error
  }
}

function unique (names: string[]): string[] {
  return [...new Set(names)]
}
