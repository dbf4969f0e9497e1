import type { UniqueIndex } from './catalog.js'
import { parseKeyDetail, splitValues, type KeyDetail } from './detail.js'
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
  /** The keys as PostgreSQL prints them: a column name (quoted if need be) or an expression (`lower(email)`). */
  keys: string[]
  /** The conflicting values as PostgreSQL printed them, one per key; `undefined` when not known for sure. */
  values: string[] | undefined
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
 * Whether what the catalog says of an index is what the error shows: the same keys, printed the
 * same way (`pg_get_indexdef` prints them as DETAIL does). A difference means the index was
 * replaced since the catalog was read. Without DETAIL there is nothing to contradict it.
 */
export function indexMatchesDetail (index: UniqueIndex, detail: KeyDetail | undefined): boolean {
  return detail === undefined ||
    (detail.keys.length === index.keys.length && index.keys.every((key, i) => key.definition === detail.keys[i]))
}

/**
 * Step two of the data path: describes a unique violation from its fields and, when known, what
 * the catalog says of its index. The catalog is the source of truth for the columns (DETAIL is
 * missing under row-level security or without SELECT privilege, and an expression's columns are
 * only guessed from its text); DETAIL gives the values. An index whose keys DETAIL contradicts is
 * out of date and not used.
 */
export function describeConflict (
  error: PgErrorFields,
  found: UniqueIndex | undefined,
  naming: FieldNaming,
  detail: KeyDetail | undefined = parseKeyDetail(error.detail)
): Conflict {
  const index = found !== undefined && indexMatchesDetail(found, detail) ? found : undefined
  const keys = index?.keys.map((key) => key.definition) ?? detail?.keys ?? []
  const columns = index?.columns ?? [...new Set(detail?.keyColumns.flat())]
  return {
    constraint: index?.parent?.name ?? index?.name ?? error.constraint,
    schema: index?.parent?.schema ?? index?.schema ?? error.schema,
    table: index?.parent?.table ?? index?.table ?? error.table,
    columns,
    fields: naming.fields === undefined ? columns.map((column) => naming.fieldName(column)) : [...naming.fields],
    keys,
    values: detail === undefined ? undefined : splitValues(detail.valuesText, keys.length, index?.keys.map((key) => key.commaFree)),
    error
  }
}
