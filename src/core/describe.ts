import type { TableConstraint, UniqueIndex } from './constraints.js'
import { dialectOf } from './dialects.js'
import { keyColumnsOf, keyValues, scanKeyDetail, splitValuesIn, valuesStartFor, type KeyScan } from './detail.js'
import type { IntegrityKind, PgErrorFields } from './recognise.js'
import { identifierName } from './sql-text.js'

/**
 * An integrity error, described: which kind, which constraint on which table, over which columns
 * and API fields. (Named for the unique violation, the commonest.)
 */
export interface Conflict {
  /** What the error means for the client; a 23503 is `foreignKey` (no such referenced row) or `referenced` (the row is still referenced). */
  kind: IntegrityKind
  /** The constraint or unique index name; for a partition's unique index, its partitioned table's index. */
  constraint: string | undefined
  schema: string | undefined
  /** The table the statement wrote to: for `referenced`, the referenced table. */
  table: string | undefined
  /** The table columns concerned, in key order; empty when neither the error nor the catalog tells. */
  columns: string[]
  /** The API field names for those columns (or as configured), in the same order. */
  fields: string[]
  /** The keys as PostgreSQL prints them: a column name (quoted if need be) or an expression (`lower(email)`). */
  keys: string[]
  /** The conflicting values as PostgreSQL printed them, one per key (unique violations only); `undefined` when not known for sure. */
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

/** What the catalog knows of the error's constraint. */
export interface Found {
  /** The unique index of a unique violation, or an exclusion constraint's index. */
  index?: UniqueIndex | undefined
  /** The foreign key or check constraint. */
  constraint?: TableConstraint | undefined
  /**
   * No one index, but DETAIL's keys are those of every index the error's name can stand for (the
   * same name in several schemas; a name Citus shortened): its columns are the catalog's, though
   * not which table.
   */
  keysConfirmed?: boolean
}

/**
 * Whether what the catalog says of an index is what the error shows: the same keys, printed the
 * same way (`pg_get_indexdef` prints them as DETAIL does). A difference means the index was
 * replaced since the catalog was read. Without DETAIL there is nothing to contradict it.
 */
export function indexMatchesDetail (index: UniqueIndex, detail: KeyScan | undefined): boolean {
  if (detail === undefined) return true
  const { keys } = detail
  const { definitions } = index
  if (keys.length !== definitions.length) return false
  for (let i = 0; i < keys.length; i++) if (keys[i] !== definitions[i]) return false
  return true
}

/**
 * Whether DETAIL shows the foreign key the catalog has: `true` when it shows the key expected on
 * its side (the referencing columns for a missing referenced row, the referenced ones for a row
 * still referenced), `false` when it shows other columns (the constraint was made again on other
 * columns since the catalog was read), `undefined` when there is nothing to compare (no DETAIL,
 * a key that is not plain columns).
 */
export function foreignKeyMatchesDetail (error: PgErrorFields, constraint: TableConstraint, detail: KeyScan | undefined): boolean | undefined {
  const shown = detailColumns(detail)
  const references = constraint.references
  if (shown.length === 0 || references === undefined) return undefined
  return sameColumns(shown, isStillReferenced(error, constraint, detail) ? references.columns : constraint.columns)
}

/**
 * DETAIL read against a cached index, the steady state's shortcut: where its values start, when
 * DETAIL shows exactly the index's keys at its first `(` (nothing sliced out of it);
 * `undefined` without DETAIL (the index stands); `null` when that does not settle it (another
 * dialect, a translation that puts a `(` first, keys that differ): then scan DETAIL.
 */
export function detailAgainst (error: PgErrorFields, index: UniqueIndex): number | undefined | null {
  if (error.detail === undefined) return undefined
  if (dialectOf(error) !== 'postgresql') return null
  return valuesStartFor(error.detail, index.definitions) ?? null
}

/**
 * Step two of the data path: describes a unique violation from its fields and, when known, what
 * the catalog says of its index. The catalog is the source of truth for the columns (DETAIL is
 * missing under row-level security or without SELECT privilege, and an expression's columns are
 * only guessed from its text); DETAIL gives the values. An index whose keys DETAIL contradicts is
 * out of date and not used. `detail` is DETAIL scanned, or where its values start when
 * `detailAgainst` read it against `found`'s keys.
 */
export function describeConflict (
  error: PgErrorFields,
  found: UniqueIndex | undefined,
  naming: FieldNaming,
  detail: KeyScan | number | undefined = scanKeyDetail(error.detail, dialectOf(error)),
  kind: 'unique' | 'exclusion' = 'unique'
): Conflict {
  const valuesStart = typeof detail === 'number' ? detail : undefined
  const scan = typeof detail === 'number' ? undefined : detail
  const index = found !== undefined && (valuesStart !== undefined || indexMatchesDetail(found, scan)) ? found : undefined
  const keys = index?.definitions ?? scan?.keys ?? []
  // Without catalog or DETAIL, the columns a wrapper named (Prisma).
  const columns = index?.columns ?? (scan !== undefined ? [...new Set(keyColumnsOf(scan).flat())] : error.columns !== undefined ? [...error.columns] : [])
  return {
    kind,
    constraint: index?.parent?.name ?? index?.name ?? error.constraint,
    schema: index?.parent?.schema ?? index?.schema ?? error.schema,
    table: index?.parent?.table ?? index?.table ?? error.table,
    columns,
    fields: fieldsOf(columns, naming),
    keys,
    // An exclusion violation's DETAIL shows two keys; its values are not the client's to see.
    values: kind !== 'unique'
      ? undefined
      : valuesStart !== undefined
        ? splitValuesIn(error.detail as string, valuesStart, (error.detail as string).lastIndexOf(')'), keys.length, index?.commaFree)
        : scan === undefined ? undefined : keyValues(scan, keys.length, index?.commaFree),
    error
  }
}

/**
 * Describes any integrity error this library answers. Unique and exclusion violations go by their
 * index (`describeConflict`); a foreign key or check constraint by the catalog's `conkey`, since
 * their errors name no column; a not-null violation by its `column`.
 */
export function describeIntegrityError (error: PgErrorFields, kind: IntegrityKind, found: Found, naming: FieldNaming, detail?: KeyScan | number): Conflict {
  if (kind === 'unique' || kind === 'exclusion') return describeConflict(error, found.index, naming, detail ?? scanKeyDetail(error.detail, dialectOf(error)), kind)
  const scan = detail as KeyScan | undefined // (a values offset comes only with a unique or exclusion violation)
  if (kind === 'foreignKey' || kind === 'referenced') return describeForeignKey(error, found.constraint, naming, scan ?? scanKeyDetail(error.detail, dialectOf(error)))
  const constraint = kind === 'check' ? found.constraint : undefined
  const columns = kind === 'notNull' ? (error.column === undefined ? [] : [error.column]) : constraint?.columns ?? []
  return {
    kind,
    constraint: error.constraint,
    schema: error.schema,
    table: constraint?.rootTable ?? error.table,
    columns,
    fields: fieldsOf(columns, naming),
    keys: [],
    values: undefined,
    error
  }
}

function describeForeignKey (error: PgErrorFields, constraint: TableConstraint | undefined, naming: FieldNaming, detail: KeyScan | undefined): Conflict {
  const referenced = isStillReferenced(error, constraint, detail)
  const references = constraint?.references
  const columns = (referenced ? references?.columns : constraint?.columns) ?? detailColumns(detail)
  return {
    kind: referenced ? 'referenced' : 'foreignKey',
    constraint: constraint?.rootName ?? error.constraint,
    schema: referenced ? references?.schema ?? error.schema : error.schema,
    // The error's table is the referencing one either way; a delete was on the referenced one.
    table: referenced ? references?.table : constraint?.rootTable ?? error.table,
    columns,
    fields: fieldsOf(columns, naming),
    keys: detail?.keys ?? [],
    values: undefined,
    error
  }
}

/**
 * Whether a 23503 is a referenced row being deleted (or its key changed) rather than a row
 * referring to one that does not exist. Both name the referencing table; DETAIL tells them apart:
 * in English by its words, in any language by its key columns (the referenced table's for the
 * first, the referencing table's for the second) when the catalog says which are which, or by the
 * table it names last. Undecided, it is taken for a missing referenced row.
 */
export function isStillReferenced (error: PgErrorFields, constraint: TableConstraint | undefined, detail: KeyScan | undefined): boolean {
  const text = error.detail
  if (text !== undefined) {
    // Only the end of DETAIL is the server's own words: the key's values before it are the
    // request's, and may hold either phrase.
    if (STILL_REFERENCED.test(text)) return true
    if (NOT_PRESENT.test(text)) return false
  }
  const references = constraint?.references
  if (references === undefined || constraint === undefined) return false
  const shown = detailColumns(detail)
  if (shown.length > 0) {
    const own = sameColumns(shown, constraint.columns)
    const theirs = sameColumns(shown, references.columns)
    if (own !== theirs) return theirs
  }
  // Without the key (privileges withheld it, or a translation moved it): the DETAIL names the
  // referenced table for a missing row and the referencing one for a row still referenced.
  if (text !== undefined && references.table !== constraint.table) {
    const after = afterValues(text)
    const ownNamed = namesWord(after, constraint.table)
    const theirsNamed = namesWord(after, references.table)
    if (ownNamed !== theirsNamed) return ownNamed
  }
  return false
}

/**
 * The end of a foreign key's DETAIL in English, after the key (`Key (a)=(1) is …`) or without it
 * (`Key is …`, when the role may not read the key's columns). The table's name is the server's.
 */
const STILL_REFERENCED = /(?:\)|^Key) is still referenced from table "[^"]*"\.$/
const NOT_PRESENT = /(?:\)|^Key) is not present in table "[^"]*"\.$/

/** DETAIL after the key's values (they end at its last `)`), or all of it when it shows none. */
function afterValues (text: string): string {
  return text.slice(text.lastIndexOf(')') + 1)
}

/** Whether `text` holds `name` as a whole word (not `orgs` in `orgs_members`). */
function namesWord (text: string, name: string): boolean {
  for (let at = text.indexOf(name); at !== -1; at = text.indexOf(name, at + 1)) {
    if (!isWordChar(text.charCodeAt(at - 1)) && !isWordChar(text.charCodeAt(at + name.length))) return true
  }
  return false
}

/** Letters, digits and combining marks beyond ASCII: what an unquoted identifier may hold there. */
const WORD_BEYOND_ASCII = /[\p{L}\p{N}\p{M}]/u

/**
 * A character of an unquoted identifier (NaN, past either end, is none). Beyond ASCII only letters,
 * digits and marks count: translations quote names with `»…«` (German), `« … »` (French), `「…」`,
 * which must not be taken for part of the name.
 */
function isWordChar (c: number): boolean {
  if (c <= 0x7f) return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c === 0x24
  return WORD_BEYOND_ASCII.test(String.fromCharCode(c))
}

function detailColumns (detail: KeyScan | undefined): string[] {
  if (detail === undefined) return []
  const columns: string[] = []
  for (const key of detail.keys) {
    const name = identifierName(key)
    if (name === undefined) return []
    columns.push(name)
  }
  return columns
}

function sameColumns (a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((column, i) => column === b[i])
}

function fieldsOf (columns: readonly string[], naming: FieldNaming): string[] {
  if (naming.fields !== undefined) return [...naming.fields]
  const fields = new Array<string>(columns.length)
  for (let i = 0; i < columns.length; i++) fields[i] = naming.fieldName(columns[i] as string)
  return fields
}
