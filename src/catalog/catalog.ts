import type { IndexKey, TableConstraint, UniqueIndex } from '../core/constraints.js'
import { MAX_COMMENT_LENGTH, parseComment, TAG_LINE_SQL } from '../core/comments.js'
import { expressionColumns, quoteLiteral } from '../core/sql-text.js'

export type { IndexKey, TableConstraint, UniqueIndex }

/** Anything with node-postgres's `query`: a `pg.Pool`, a `pg.Client`, `fastify.pg`… */
export interface Queryable {
  query: (text: string, values?: unknown[]) => Promise<{ rows: unknown[] }>
}

/**
 * The comment on an object (`COMMENT ON CONSTRAINT`, `COMMENT ON INDEX`), only when a line of it
 * starts with `@` (free text is not even sent), cut one character past what is read (so that the
 * parser knows it was cut); `objoid` may be null (none). A probe of pg_description's index per
 * object, on purpose: joined instead, the planner takes the tag filter for one row in a thousand,
 * and with a hundred tagged comments rescanned them for every index (a third more time on 10,000
 * indexes, and growing with the number of comments).
 */
function tagged (objoid: string, catalog: 'pg_class' | 'pg_constraint'): string {
  return `(SELECT left(d.description, ${MAX_COMMENT_LENGTH + 1}) FROM pg_catalog.pg_description d
    WHERE d.objoid = ${objoid} AND d.classoid = 'pg_catalog.${catalog}'::regclass AND d.objsubid = 0 AND d.description ~ '${TAG_LINE_SQL}')`
}

/** The unique, primary key or exclusion constraint an index backs, if any (a foreign key's `conindid` is the referenced index: not it). */
function backedConstraint (index: string, table: string): string {
  return `(SELECT bc.oid FROM pg_catalog.pg_constraint bc WHERE bc.conrelid = ${table} AND bc.conindid = ${index} AND bc.contype IN ('p', 'u', 'x'))`
}

/**
 * Every unique index (and exclusion constraint's index) outside the system schemas, one row per key. `pg_partition_root` finds the
 * top of a partition tree for indexes too; `pg_depend` gives the table columns an index uses,
 * which bounds the names found in an expression's text.
 */
export const CATALOG_SQL = `
SELECT n.nspname AS schema, ic.relname AS name, tc.relname AS "table", k AS position,
       pg_get_indexdef(i.indexrelid, k, true) AS definition,
       CASE WHEN i.indkey[k - 1] = 0 THEN NULL ELSE ta.attname END AS column_name,
       ((ty.typcategory IN ('N', 'B', 'D', 'T', 'I') AND ty.typname NOT LIKE 'reg%') OR ty.typname = 'uuid') AS comma_free,
       CASE WHEN i.indkey[k - 1] = 0 THEN ARRAY(
         SELECT da.attname::text FROM pg_depend d
         JOIN pg_attribute da ON da.attrelid = d.refobjid AND da.attnum = d.refobjsubid
         WHERE d.classid = 'pg_class'::regclass AND d.objid = i.indexrelid
           AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0
       ) END AS depend_columns,
       rn.nspname AS parent_schema, ri.relname AS parent_name, rt.relname AS parent_table,
       -- The comment (on the first key's row): the partitioned table's constraint or index first, then its own.
       CASE WHEN k = 1 THEN COALESCE(
         CASE WHEN ri.oid IS NOT NULL THEN COALESCE(${tagged(backedConstraint('ri.oid', 'rix.indrelid'), 'pg_constraint')}, ${tagged('ri.oid', 'pg_class')}) END,
         ${tagged('con.oid', 'pg_constraint')}, ${tagged('i.indexrelid', 'pg_class')}) END AS comment
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = ic.relnamespace
JOIN pg_class tc ON tc.oid = i.indrelid
-- The key positions 1..indnkeyatts. (generate_series would be estimated at 1000 rows an index,
-- which on a large catalog costs enough to start JIT compilation on every read.)
CROSS JOIN LATERAL (SELECT u.k::int AS k FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS u(attnum, k) WHERE u.k <= i.indnkeyatts) AS keys
JOIN pg_attribute ia ON ia.attrelid = i.indexrelid AND ia.attnum = k
JOIN pg_type ty ON ty.oid = ia.atttypid
LEFT JOIN pg_attribute ta ON ta.attrelid = i.indrelid AND ta.attnum = i.indkey[k - 1]
LEFT JOIN pg_class ri ON ri.oid = pg_partition_root(i.indexrelid) AND ri.oid <> i.indexrelid
LEFT JOIN pg_namespace rn ON rn.oid = ri.relnamespace
LEFT JOIN pg_index rix ON rix.indexrelid = ri.oid
LEFT JOIN pg_class rt ON rt.oid = rix.indrelid
-- The constraint the index backs, for its comment: joined (a merge join), not a probe per index.
LEFT JOIN pg_catalog.pg_constraint con ON con.conrelid = i.indrelid AND con.conindid = i.indexrelid AND con.contype IN ('p', 'u', 'x')
WHERE (i.indisunique OR i.indisexclusion)
  AND n.nspname <> 'information_schema' AND left(n.nspname, 3) <> 'pg_'
  AND ($1::text[] IS NULL OR n.nspname = ANY ($1::text[]))
ORDER BY n.nspname, ic.relname, k`

/**
 * `CATALOG_SQL` with what the `allConflicts` check needs (docs/all-conflicts.md), once per index
 * (on its first key's row): whether it is an exclusion constraint's, `NULLS NOT DISTINCT`, a
 * partial index's predicate and the columns it uses with whether each gets a value when a row
 * leaves it out. Read only once a level turns the check on: it makes the read about a third slower.
 */
export const CATALOG_KEYS_SQL = withColumns(CATALOG_SQL, `
       -- indnullsnotdistinct is PostgreSQL 15's: read through to_jsonb so that the query still parses on 12 to 14.
       CASE WHEN k = 1 THEN i.indisexclusion END AS exclusion,
       CASE WHEN k = 1 THEN (to_jsonb(i) -> 'indnullsnotdistinct') = 'true'::jsonb END AS nulls_not_distinct,
       CASE WHEN k = 1 AND i.indpred IS NOT NULL THEN pg_get_expr(i.indpred, i.indrelid, true) END AS predicate,
       CASE WHEN k = 1 AND i.indpred IS NOT NULL THEN (
         SELECT jsonb_object_agg(pa.attname, pa.atthasdef OR pa.attidentity <> '' OR pa.attgenerated <> '' OR pt.typdefaultbin IS NOT NULL)
         FROM pg_depend d
         JOIN pg_attribute pa ON pa.attrelid = d.refobjid AND pa.attnum = d.refobjsubid
         JOIN pg_type pt ON pt.oid = pa.atttypid
         WHERE d.classid = 'pg_class'::regclass AND d.objid = i.indexrelid
           AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0
       ) END AS predicate_columns`)

/** `sql` (a catalog query whose select list ends with `END AS comment`) with more columns after that one. */
function withColumns (sql: string, columns: string): string {
  return sql.replace(' END AS comment\n', ` END AS comment,\n${columns}\n`)
}

interface CatalogRow {
  schema: string
  name: string
  table: string
  definition: string
  column_name: string | null
  comma_free: boolean
  depend_columns: string[] | null // set for expression keys
  parent_schema: string | null
  parent_name: string | null
  parent_table: string | null
  comment: string | null // on the first key's row
  // CATALOG_KEYS_SQL's, on an index's first key only (absent from CATALOG_SQL's rows)
  exclusion?: boolean | null
  nulls_not_distinct?: boolean | null
  predicate?: string | null
  predicate_columns?: Record<string, boolean> | null
}

/**
 * The rows of a catalog query (whose one parameter, `$1`, is the schemas to read), with JIT
 * compilation off for it. The planner estimates these joins over the system catalogs as costly
 * enough to JIT-compile (`jit_above_cost`), which took a second and more of the server's CPU per
 * read, for queries that run in milliseconds. `SET LOCAL` needs a transaction of its own: the two
 * statements go as one simple-protocol string (one implicit transaction), the schemas as a literal.
 */
export async function queryWithoutJit (db: Queryable, sql: string, schemas: readonly string[] | undefined): Promise<unknown[]> {
  const literal = schemas === undefined ? 'NULL' : `ARRAY[${schemas.map(quoteLiteral).join(', ')}]::text[]`
  // Several statements answer with one result each (node-postgres: an array); the last is the SELECT's.
  const results: unknown = await db.query(`SET LOCAL jit = off;\n${sql.replaceAll('$1', literal)}`)
  const rows = ([results].flat().at(-1) as { rows?: unknown } | null | undefined)?.rows
  // A pool that is not node-postgres's may answer otherwise (postgres.js: one array of results):
  // a failed read, said, rather than a catalog of nothing that would take every name for unknown.
  if (!Array.isArray(rows) || !rows.every(isRow)) {
    throw new TypeError('the pool\'s query() did not answer as node-postgres does (several statements in one string give an array of results, each with rows of objects), so the catalog cannot be read through it: pass a pg.Pool as `pool`, or sqlPool(sql) for Bun.SQL or postgres.js')
  }
  return rows
}

function isRow (row: unknown): boolean {
  return typeof row === 'object' && row !== null && !Array.isArray(row)
}

/**
 * Reads every unique index (in `schemas`, or in every user schema) from the catalog; with
 * `keyDetails`, also what the `allConflicts` check needs (`CATALOG_KEYS_SQL`).
 */
export async function readUniqueIndexes (db: Queryable, schemas?: readonly string[], keyDetails = false): Promise<UniqueIndex[]> {
  const rows = await queryWithoutJit(db, keyDetails ? CATALOG_KEYS_SQL : CATALOG_SQL, schemas)
  const indexes: UniqueIndex[] = []
  let current: UniqueIndex | undefined
  for (const row of rows as CatalogRow[]) {
    if (current === undefined || current.schema !== row.schema || current.name !== row.name) {
      current = {
        schema: row.schema,
        name: row.name,
        table: row.table,
        keys: [],
        definitions: [],
        commaFree: [],
        columns: [],
        // parent_schema and parent_table come with parent_name (the same LEFT JOIN chain).
        parent: row.parent_name === null
          ? undefined
          : { schema: row.parent_schema as string, name: row.parent_name, table: row.parent_table as string },
        comment: parseComment(row.comment),
        exclusion: row.exclusion === true,
        predicate: row.predicate ?? undefined,
        predicateColumns: row.predicate_columns == null
          ? undefined
          : Object.freeze(Object.entries(row.predicate_columns).map(([column, defaulted]) => Object.freeze({ column, defaulted }))),
        nullsNotDistinct: row.nulls_not_distinct === true
      }
      indexes.push(current)
    }
    const key = toKey(row)
    current.keys.push(key)
    current.definitions.push(key.definition)
    current.commaFree.push(key.commaFree)
    for (const column of key.columns) if (!current.columns.includes(column)) current.columns.push(column)
  }
  // Descriptions share these arrays rather than copy them per conflict: frozen, so that no one can change the catalog through one.
  for (const index of indexes) {
    Object.freeze(index.definitions)
    Object.freeze(index.commaFree)
    Object.freeze(index.columns)
  }
  return indexes
}

function toKey (row: CatalogRow): IndexKey {
  // An expression's columns: the names in its text that pg_depend confirms the index uses
  // (pg_depend alone would also list the columns of a partial index's WHERE clause).
  const columns = row.column_name !== null
    ? [row.column_name]
    : expressionColumns(row.definition, new Set(row.depend_columns))
  return { definition: row.definition, columns, commaFree: row.comma_free }
}

/**
 * Every foreign key and table check constraint outside the system schemas. Their errors name the
 * constraint and the table it is on (for a foreign key, always the referencing table, whichever
 * side the statement touched); the columns are only here.
 */
export const CONSTRAINTS_SQL = `
WITH RECURSIVE tops AS (
  -- A foreign key on or to a partitioned table is cloned per partition (conparentid): each clone
  -- answers to the constraint at the top, which is the one the schema declares.
  SELECT oid, oid AS top FROM pg_constraint WHERE conparentid = 0 AND contype IN ('f', 'c')
  UNION ALL
  SELECT c.oid, tops.top FROM pg_constraint c JOIN tops ON c.conparentid = tops.oid
)
SELECT n.nspname AS schema, c.conname AS name, top.conname AS root_name, t.relname AS "table", root.relname AS root_table,
       c.contype AS type,
       ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, position)
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.position) AS columns,
       fn.nspname AS ref_schema, COALESCE(froot.relname, ft.relname) AS ref_table,
       ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, position)
             JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum ORDER BY k.position) AS ref_columns,
       -- The comment: the declared constraint's first: a partition's foreign key is a clone (conparentid)
       -- with a comment of its own, a partition's check an inherited copy of its partitioned table's, of the same name.
       COALESCE(
         CASE WHEN c.contype = 'c' AND root.oid IS NOT NULL THEN ${tagged("(SELECT rc.oid FROM pg_catalog.pg_constraint rc WHERE rc.conrelid = root.oid AND rc.contypid = 0 AND rc.conname = c.conname AND rc.contype = 'c')", 'pg_constraint')} END,
         ${tagged('top.oid', 'pg_constraint')}, CASE WHEN c.oid <> top.oid THEN ${tagged('c.oid', 'pg_constraint')} END) AS comment
FROM pg_constraint c
JOIN tops ON tops.oid = c.oid
JOIN pg_constraint top ON top.oid = tops.top
JOIN pg_class t ON t.oid = c.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
LEFT JOIN pg_class root ON root.oid = pg_partition_root(c.conrelid) AND root.oid <> c.conrelid
LEFT JOIN pg_class ft ON ft.oid = c.confrelid
LEFT JOIN pg_namespace fn ON fn.oid = ft.relnamespace
LEFT JOIN pg_class froot ON froot.oid = pg_partition_root(c.confrelid) AND froot.oid <> c.confrelid
WHERE c.contype IN ('f', 'c')
  AND n.nspname <> 'information_schema' AND left(n.nspname, 3) <> 'pg_'
  AND ($1::text[] IS NULL OR n.nspname = ANY ($1::text[]))`

interface ConstraintRow {
  schema: string
  name: string
  root_name: string
  table: string
  root_table: string | null
  type: 'f' | 'c'
  columns: string[]
  ref_schema: string | null
  ref_table: string | null
  ref_columns: string[]
  comment: string | null
}

/** Reads every foreign key and check constraint (in `schemas`, or in every user schema). */
export async function readTableConstraints (db: Queryable, schemas?: readonly string[]): Promise<TableConstraint[]> {
  const rows = await queryWithoutJit(db, CONSTRAINTS_SQL, schemas)
  return (rows as ConstraintRow[]).map((row) => ({
    schema: row.schema,
    name: row.name,
    rootName: row.root_name === row.name ? undefined : row.root_name,
    table: row.table,
    rootTable: row.root_table ?? undefined,
    type: row.type === 'f' ? 'foreignKey' : 'check',
    columns: row.columns,
    references: row.ref_table === null
      ? undefined
      : { schema: row.ref_schema as string, table: row.ref_table, columns: row.ref_columns },
    comment: parseComment(row.comment)
  }))
}

/**
 * A version of the catalog, in two steps, in one statement:
 * - `global`, the database's: the highest OID among all constraints and among all indexes, two
 *   backward probes of their OID indexes (microseconds). A constraint or index created (or dropped
 *   and created again under the same name) takes a new OID from the server's counter, which only
 *   grows (until it wraps around, after four billion objects);
 * - `version`, the schemas read's own, computed only when `global` differs from `$2` (the one
 *   last seen; PostgreSQL runs a subquery in a CASE branch only when the branch is taken): how
 *   many constraints and indexes they have and the sum of their OIDs, which any constraint or
 *   index created, dropped or made again there changes, whatever order the transactions commit
 *   in. It scans their constraints and indexes (milliseconds on a large catalog). Null when
 *   `global` had not changed.
 * Renames keep the OID: the name the catalog then does not know (a constraint's, a table's, a
 * column's in DETAIL) reads it again, bounded by `minRefreshInterval` (`CatalogCache.findAfterRefresh`).
 */
export const CATALOG_VERSION_SQL = `
SELECT g.global,
       CASE WHEN g.global IS NOT DISTINCT FROM $2::text THEN NULL ELSE
         (SELECT count(*) || ':' || coalesce(sum(c.oid::int8), 0) FROM pg_catalog.pg_constraint c JOIN pg_catalog.pg_namespace n ON n.oid = c.connamespace
          WHERE n.nspname <> 'information_schema' AND left(n.nspname, 3) <> 'pg_' AND ($1::text[] IS NULL OR n.nspname = ANY ($1::text[])))
         || '/' ||
         (SELECT count(*) || ':' || coalesce(sum(i.indexrelid::int8), 0) FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
          JOIN pg_catalog.pg_namespace n ON n.oid = ic.relnamespace
          WHERE n.nspname <> 'information_schema' AND left(n.nspname, 3) <> 'pg_' AND ($1::text[] IS NULL OR n.nspname = ANY ($1::text[])))
       END AS version
FROM (SELECT (SELECT max(oid) FROM pg_catalog.pg_constraint)::text || '/' || (SELECT max(indexrelid) FROM pg_catalog.pg_index)::text AS global) g`

/** What `CATALOG_VERSION_SQL` says: the database's version, and the schemas' (`undefined`: unchanged since the global version given). */
export interface CatalogVersion {
  global: string
  version: string | undefined
}

/**
 * The catalog's version for `schemas` (every user schema when absent), or only the database's
 * when it is still `lastGlobal`; `undefined` when the server gives none.
 */
export async function readCatalogVersion (db: Queryable, schemas?: readonly string[], lastGlobal?: string): Promise<CatalogVersion | undefined> {
  const { rows } = await db.query(CATALOG_VERSION_SQL, [schemas ?? null, lastGlobal ?? null])
  const row = rows[0] as { global?: unknown, version?: unknown } | undefined
  if (typeof row?.global !== 'string') return undefined
  return { global: row.global, version: typeof row.version === 'string' ? row.version : undefined }
}

/**
 * The unique indexes of one database, by name. Index names are unique within a schema; an
 * error that lost its schema (some wrappers drop it) is looked up by name alone, which answers
 * only when one schema has an index of that name.
 */
export class IndexCatalog {
  private readonly bySchema = new Map<string, Map<string, UniqueIndex>>() // no key string built per lookup
  private readonly byName = new Map<string, UniqueIndex | null>() // null: the name is in several schemas
  private readonly constraints = new Map<string, TableConstraint | null>() // by schema, table and name; null: several
  /** What is wrong with the tags of the comments read, each with the constraint it is on (once for a partitioned table's). */
  readonly commentProblems = new Set<string>()
  private byTable: Map<string, UniqueIndex[]> | undefined // by schema and table, made when first asked
  /** Whether the indexes were read with `CATALOG_KEYS_SQL`'s details (what the `allConflicts` check needs). */
  keyDetails = false

  constructor (indexes: Iterable<UniqueIndex> = [], constraints: Iterable<TableConstraint> = []) {
    for (const index of indexes) {
      this.noteProblems(index)
      let inSchema = this.bySchema.get(index.schema)
      if (inSchema === undefined) this.bySchema.set(index.schema, inSchema = new Map())
      inSchema.set(index.name, index)
      this.byName.set(index.name, this.byName.has(index.name) ? null : index)
    }
    for (const constraint of constraints) {
      this.noteProblems(constraint)
      // Also by table and name alone, for an error that lost its schema.
      // Also by name alone, for an error that gives neither (Prisma's foreign keys); answers when the name is unique.
      for (const key of [constraintKey(constraint.schema, constraint.table, constraint.name), constraintKey(undefined, constraint.table, constraint.name), constraintKey(undefined, undefined, constraint.name)]) {
        this.constraints.set(key, this.constraints.has(key) ? null : constraint)
      }
    }
  }

  /** The foreign key or check constraint `name` on `table` (in `schema`), as far as the error tells them. */
  findConstraint (name: string, table: string | undefined, schema: string | undefined): TableConstraint | undefined {
    return this.constraints.get(constraintKey(schema, table, name)) ?? undefined
  }

  find (name: string, schema: string | undefined): UniqueIndex | undefined {
    if (schema !== undefined) return this.bySchema.get(schema)?.get(name)
    return this.byName.get(name) ?? undefined
  }

  /**
   * The indexes a name can stand for when `find` finds none: of that name in every schema (for an
   * error that names no schema), or, with `prefix`, every index whose name starts with it.
   */
  candidates (name: string, prefix = false): UniqueIndex[] {
    const found: UniqueIndex[] = []
    for (const inSchema of this.bySchema.values()) {
      if (!prefix) {
        const index = inSchema.get(name)
        if (index !== undefined) found.push(index)
        continue
      }
      for (const [indexName, index] of inSchema) if (indexName.startsWith(name)) found.push(index)
    }
    return found
  }

  private noteProblems (on: UniqueIndex | TableConstraint): void {
    if (on.comment === undefined || on.comment.problems.length === 0) return
    // A partition's comes from its partitioned table's first: named as that one, once for all the
    // partitions (though a partition's own, when its partitioned table's has no tag, is named so too).
    const top = 'keys' in on ? on.parent ?? on : { schema: on.schema, table: on.rootTable ?? on.table, name: on.rootName ?? on.name }
    for (const problem of on.comment.problems) this.commentProblems.add(`the comment on ${top.schema}.${top.table}'s ${top.name}: ${problem}`)
  }

  /**
   * The unique indexes (not exclusion constraints') of a table, as declared on it (a partitioned
   * table's, not its partitions'), in the catalog's order: by index name. Grouped at the first call
   * (only the all-conflicts check asks), then kept with the catalog.
   */
  uniqueIndexesOn (schema: string, table: string): readonly UniqueIndex[] {
    if (this.byTable === undefined) {
      this.byTable = new Map()
      for (const inSchema of this.bySchema.values()) {
        for (const index of inSchema.values()) {
          if (index.exclusion === true || index.parent !== undefined) continue
          const key = `${index.schema}\u0000${index.table}`
          const list = this.byTable.get(key)
          if (list === undefined) this.byTable.set(key, [index])
          else list.push(index)
        }
      }
    }
    return this.byTable.get(`${schema}\u0000${table}`) ?? []
  }

  /** Every index and constraint name, once each. */
  names (): Set<string> {
    const names = new Set(this.byName.keys())
    for (const constraint of this.constraints.values()) if (constraint !== null) names.add(constraint.name)
    return names
  }
}


function constraintKey (schema: string | undefined, table: string | undefined, name: string): string {
  return `${schema ?? ''}\u0000${table ?? ''}\u0000${name}`
}
