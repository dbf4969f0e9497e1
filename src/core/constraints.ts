import type { CommentSettings } from './comments.js'

/**
 * What the catalog says of the constraints an error names, in the shapes the data path reads:
 * `describe` takes these, and `catalog/` fills them from PostgreSQL's system catalogs.
 */

/** One key of a unique index, in index order. */
export interface IndexKey {
  /** As `pg_get_indexdef(index, k, true)` prints it, hence as it appears in DETAIL. */
  definition: string
  /** The table columns it uses: the column itself, or those an expression uses. */
  columns: string[]
  /** Whether the key's type never prints `, ` (numbers, booleans, dates, uuid…). */
  commaFree: boolean
}

/** What the catalog says about one unique index (or the index of an exclusion constraint). */
export interface UniqueIndex {
  schema: string
  /** The index name, which is what a unique violation reports as its `constraint`. */
  name: string
  table: string
  keys: IndexKey[]
  /** Each key's `definition`, and whether it is `commaFree`: kept apart so that describing a conflict builds neither. */
  definitions: string[]
  commaFree: boolean[]
  /** The key columns, in index order, without repeats. */
  columns: string[]
  /** For a partition's index: the index of the partitioned table it belongs to, at the top of the tree. */
  parent: { schema: string, name: string, table: string } | undefined
  /**
   * What its comment says (core/comments.ts): the constraint's, else the index's; for a
   * partition's, its partitioned table's first. Absent when none has a tag of ours.
   */
  comment?: CommentSettings | undefined
  /** An exclusion constraint's index rather than a unique one. (Optional: read since issue 14.) */
  exclusion?: boolean
  /** A partial index's predicate, as `pg_get_expr` prints it (`deleted_at IS NULL`); `undefined` for a whole-table index. */
  predicate?: string | undefined
  /** A partial index's columns (keys and predicate), each with whether a row that leaves it out gets a value other than NULL (a default, identity, generated, a domain's default). */
  predicateColumns?: ReadonlyArray<{ column: string, defaulted: boolean }> | undefined
  /** `NULLS NOT DISTINCT` (PostgreSQL 15+): NULL keys conflict with each other. */
  nullsNotDistinct?: boolean
}

/** What the catalog says about a foreign key or check constraint. */
export interface TableConstraint {
  schema: string
  /** The constraint's name, unique on its table (not in its schema). */
  name: string
  /** For a partition's clone of a foreign key: the name of the constraint declared on the partitioned table. */
  rootName: string | undefined
  /** The table it is declared on (for a foreign key, the referencing table). */
  table: string
  /** For a partition's constraint: the partitioned table at the top of the tree. */
  rootTable: string | undefined
  type: 'foreignKey' | 'check'
  /** The constraint's columns (`conkey`): a foreign key's referencing columns, the columns a check uses. */
  columns: string[]
  /** A foreign key's referenced table (at the top of its partition tree) and columns (`confkey`). */
  references: { schema: string, table: string, columns: string[] } | undefined
  /** What its comment says (core/comments.ts); for a partition's clone, the declared constraint's first. */
  comment?: CommentSettings | undefined
}
