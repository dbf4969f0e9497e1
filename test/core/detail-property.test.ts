// Property-based tests (fast-check) of the DETAIL parser, issue 5 "Load and fault suite":
//
// 1. Round trip against the real server: generated tables whose key columns have arbitrary names
//    and types, a UNIQUE constraint or a unique index (sometimes over expressions), generated rows;
//    the real 23505 is read back and checked against the catalog and the server's own output.
// 2. Pure properties: any string parses without throwing into something consistent with it; DETAIL
//    built by a model of PostgreSQL's formatting (checked against the server in 1) parses exactly.
// 3. Adversarial text: a megabyte of structural characters never throws and stays well under an
//    absolute time bound (linear parsing takes milliseconds; quadratic would take minutes).
//
// Reproduce a failure with the seed it prints: FC_SEED=<seed> npx tap test/core/detail-property.test.ts
// Run longer: FC_SCALE=10 multiplies every run count.

import t, { type Test } from 'tap'
import fc, { type Arbitrary, type IRawProperty, type Parameters } from 'fast-check'
import assert from 'node:assert/strict'
import type pg from 'pg'
import { parseKeyDetail, splitValues, splitValuesIn, valuesStartFor } from '../../src/core/detail.js'
import { expressionColumns, identifierName } from '../../src/core/sql-text.js'
import { describeConflict, indexMatchesDetail, type FieldNaming } from '../../src/core/describe.js'
import { IndexCatalog, readUniqueIndexes, type UniqueIndex } from '../../src/catalog/catalog.js'
import { findUniqueViolation, type PgErrorFields } from '../../src/core/recognise.js'
import { testDatabase } from '../helpers/db.js'

const SCALE = Math.max(1, Number(process.env.FC_SCALE ?? 1) || 1)
const SEED = process.env.FC_SEED === undefined || process.env.FC_SEED === '' ? undefined : Number(process.env.FC_SEED)

/** Each run touches the database (a table created, two inserts, three queries, a drop). */
const SCHEMA_RUNS = 50 * SCALE
const PURE_RUNS = 2000 * SCALE
/** Each run parses a megabyte several times. */
const ADVERSARIAL_RUNS = 12 * SCALE

const MB = 1024 * 1024
/** Per megabyte and per call: far above linear (milliseconds), far below quadratic (minutes). */
const LIMIT_MS = 2000

const NAMING: FieldNaming = { fields: undefined, fieldName: (column) => column }

/** Runs a property, then records one assertion: its run count and time, or fast-check's report (seed, shrunk counterexample). */
async function holds<Ts> (t: Test, name: string, property: IRawProperty<Ts>, numRuns: number,
  extra: Partial<Parameters<Ts>> = {}): Promise<void> {
  const start = performance.now()
  const details = await fc.check(property, { numRuns, ...(SEED === undefined ? {} : { seed: SEED }), ...extra })
  const ms = (performance.now() - start).toFixed(0)
  if (details.failed) {
    const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)
    t.fail(`${name}\n${fc.defaultReportMessage(details)}\n${cause}`)
  } else t.pass(`${name}: ${details.numRuns} runs in ${ms} ms`)
}

// ---------------------------------------------------------------------------------------------
// A model of how PostgreSQL prints keys (ruleutils.c quote_identifier), checked against the
// server's own output in property 1.
// ---------------------------------------------------------------------------------------------

/** The keywords PostgreSQL 15 quotes (every category but unreserved): `pg_get_keywords()` where catcode <> 'U'. */
const QUOTED_KEYWORDS = new Set(('all analyse analyze and any array as asc asymmetric authorization between bigint binary bit ' +
  'boolean both case cast char character check coalesce collate collation column concurrently constraint create cross ' +
  'current_catalog current_date current_role current_schema current_time current_timestamp current_user dec decimal ' +
  'default deferrable desc distinct do else end except exists extract false fetch float for foreign freeze from full ' +
  'grant greatest group grouping having ilike in initially inner inout int integer intersect interval into is isnull ' +
  'join lateral leading least left like limit localtime localtimestamp national natural nchar none normalize not ' +
  'notnull null nullif numeric offset on only or order out outer overlaps overlay placing position precision primary ' +
  'real references returning right row select session_user setof similar smallint some substring symmetric table ' +
  'tablesample then time timestamp to trailing treat trim true union unique user using values varchar variadic verbose ' +
  'when where window with xmlattributes xmlconcat xmlelement xmlexists xmlforest xmlnamespaces xmlparse xmlpi xmlroot ' +
  'xmlserialize xmltable').split(' '))

/** Unreserved keywords and type names: printed unquoted. */
const UNRESERVED = ['name', 'key', 'value', 'day', 'data', 'zone', 'type', 'year', 'first', 'without', 'text', 'ucs_basic']

/** quote_identifier: unquoted only for lower-case letters, digits and `_`, not starting with a digit, and not a quoted keyword. */
function quoteIdentifier (name: string, keywords: ReadonlySet<string> = QUOTED_KEYWORDS): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) && !keywords.has(name) ? name : `"${name.replaceAll('"', '""')}"`
}

/** As a string literal in a deparsed expression (standard_conforming_strings on: only `'` is doubled). */
function quoteLiteral (text: string): string {
  return `'${text.replaceAll("'", "''")}'`
}

/** Quoted always, for the DDL we send. */
function sqlIdentifier (name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

/** The system column names a table's own columns may not take. */
const SYSTEM_COLUMNS = new Set(['tableoid', 'xmin', 'cmin', 'xmax', 'cmax', 'ctid'])

/** At most `bytes` UTF-8 bytes, cut between code points (NAMEDATALEN - 1 = 63 for names). */
function clipBytes (text: string, bytes: number): string {
  let out = ''
  let used = 0
  for (const point of text) {
    used += Buffer.byteLength(point)
    if (used > bytes) break
    out += point
  }
  return out
}

const IDENTIFIER_PIECES = [
  ' ', '"', '""', ')=(', ', ', '(', ')', "'", '=', ',', '.', '$', '::', '\n', '\t', '{', '}', '\\', '[', ']',
  'NULL', 'null', 'Key (', ') already exists.', 'é', 'Ö', 'ß', 'İ', '日本', '🙂', '\u0301', 'A', 'Z', '0', '_', 'a'
]
const lowerWord = fc.stringMatching(/^[a-z_][a-z0-9_]{0,10}$/)

/** A PostgreSQL identifier: anything but NUL, 1 to 63 bytes; keywords, structural text and unicode favoured. */
const identifier: Arbitrary<string> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.array(fc.oneof(fc.constantFrom(...IDENTIFIER_PIECES), lowerWord, fc.string({ unit: 'binary', minLength: 1, maxLength: 2 })),
      { minLength: 1, maxLength: 8 }).map((pieces) => pieces.join(''))
  },
  { weight: 2, arbitrary: lowerWord },
  { weight: 2, arbitrary: fc.constantFrom(...QUOTED_KEYWORDS, ...UNRESERVED) },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom('é', '日', '🙂', 'a', '"', ' ', ','), minLength: 20, maxLength: 63 }) }
).map((name) => clipBytes(name.replaceAll('\0', ''), 63)).filter((name) => name.length > 0 && !SYSTEM_COLUMNS.has(name))

// ---------------------------------------------------------------------------------------------
// 1. Round trip against the real server
// ---------------------------------------------------------------------------------------------

const TYPES = ['text', 'int', 'uuid', 'bool', 'date'] as const
type ColumnType = typeof TYPES[number]

/** Types whose output never holds `, ` (what the catalog calls commaFree). */
const COMMA_FREE: Record<ColumnType, boolean> = { text: false, int: true, uuid: true, bool: true, date: true }

/** An index expression over one column: as we write it, as pg_get_indexdef prints it, and whether its type is comma-free. */
interface Expression { sql: (column: string) => string, printed: (column: string) => string, commaFree: boolean }

const EXPRESSIONS: Record<ColumnType, Expression[]> = {
  text: [
    { sql: (c) => `lower(${c})`, printed: (c) => `lower(${c})`, commaFree: false },
    { sql: (c) => `upper(${c})`, printed: (c) => `upper(${c})`, commaFree: false },
    { sql: (c) => `(${c} || ', )=(''x')`, printed: (c) => `(${c} || ', )=(''x'::text)`, commaFree: false },
    { sql: (c) => `COALESCE(${c}, '')`, printed: (c) => `COALESCE(${c}, ''::text)`, commaFree: false }
  ],
  int: [{ sql: (c) => `(${c} + 1)`, printed: (c) => `(${c} + 1)`, commaFree: true }],
  uuid: [{ sql: (c) => `(${c}::text)`, printed: (c) => `(${c}::text)`, commaFree: false }],
  bool: [{ sql: (c) => `(NOT ${c})`, printed: (c) => `(NOT ${c})`, commaFree: true }],
  date: [{ sql: (c) => `(${c} + 1)`, printed: (c) => `(${c} + 1)`, commaFree: true }]
}

const TEXT_PIECES = [', ', ')=(', ') already exists. Key (', '\n', '\r\n', '', '"', "'", '(', ')', 'null', 'NULL', ' ', '\\',
  '\t', ', , ', '=', 'a', 'É', '🙂', 'ß', 'İ', '(a)=(b)']
const shortText = fc.oneof(
  { weight: 4, arbitrary: fc.array(fc.oneof(fc.constantFrom(...TEXT_PIECES), fc.constant(', ')), { maxLength: 10 }).map((pieces) => pieces.join('')) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }).map((text) => text.replaceAll('\0', '')) },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }) }
)
/** Up to ~2 KB: a short text repeated. */
const longText = fc.tuple(shortText.filter((text) => text.length > 0), fc.integer({ min: 200, max: 2000 }))
  .map(([unit, bytes]) => clipBytes(unit.repeat(Math.ceil(bytes / unit.length)), bytes))

/** Input text for a value of each type (sent as a parameter; the server prints it its own way). */
const VALUES: Record<ColumnType, Arbitrary<string>> = {
  text: fc.oneof({ weight: 5, arbitrary: shortText }, { weight: 1, arbitrary: longText }),
  int: fc.integer({ min: -2147483648, max: 2147483646 }).map(String), // (c + 1) must not overflow
  uuid: fc.tuple(fc.uuid(), fc.boolean()).map(([uuid, upper]) => upper ? uuid.toUpperCase() : uuid),
  bool: fc.constantFrom('true', 'false', 't', 'f', 'yes', 'no', 'on', 'off', '1', '0'),
  date: fc.oneof(
    { weight: 9, arbitrary: fc.record({ y: fc.integer({ min: 1, max: 9999 }), m: fc.integer({ min: 1, max: 12 }), d: fc.integer({ min: 1, max: 28 }), bc: fc.boolean() }) },
    { weight: 1, arbitrary: fc.constantFrom('infinity', '-infinity') }
  ).map((date) => typeof date === 'string'
    ? date
    : `${String(date.y).padStart(4, '0')}-${String(date.m).padStart(2, '0')}-${String(date.d).padStart(2, '0')}${date.bc && date.y < 4713 ? ' BC' : ''}`)
}

interface Column { name: string, type: ColumnType }
interface Key { column: number, expression: Expression | undefined }
interface Scenario {
  columns: Column[]
  keys: Key[]
  /** `UNIQUE (…)` in CREATE TABLE, or `CREATE UNIQUE INDEX`. */
  form: 'constraint' | 'index'
  /** A name of our own for the constraint or index, or the one PostgreSQL chooses. */
  name: string | undefined
  nullsNotDistinct: boolean
  /** Non-key columns stored in the index (`INCLUDE`): not part of the key, not in DETAIL. */
  include: number[]
  /** For an index: a predicate on this column that every row meets (a partial index; pg_depend then lists it too). */
  partialOn: number | undefined
  /** The first row, one input text (or NULL) per column. */
  first: Array<string | null>
  /** The second: the same key values, other values elsewhere. */
  second: Array<string | null>
}

/**
 * Keeps the indexed values within what a btree index row holds (2704 bytes), whatever the
 * expressions add, by halving the longest of the values it may cut.
 */
function fitIndexRow (values: Array<string | null>, indexed: readonly number[], cuttable: readonly number[] = indexed): Array<string | null> {
  const fitted = [...values]
  const bytes = (): number => indexed.reduce((sum, i) => sum + Buffer.byteLength(fitted[i] ?? ''), 0)
  while (bytes() > 2000) {
    let longest = cuttable[0] ?? 0
    for (const i of cuttable) if ((fitted[i] ?? '').length > (fitted[longest] ?? '').length) longest = i
    const value = fitted[longest] ?? ''
    if (value === '') break
    fitted[longest] = clipBytes(value, Math.floor(Buffer.byteLength(value) / 2))
  }
  return fitted
}

/** Text favoured: the type whose values may hold `, `. */
const columnType: Arbitrary<ColumnType> = fc.oneof({ weight: 4, arbitrary: fc.constant('text' as const) }, { weight: 6, arbitrary: fc.constantFrom(...TYPES) })

const scenario: Arbitrary<Scenario> = fc.uniqueArray(fc.record({ name: identifier, type: columnType }),
  { minLength: 1, maxLength: 6, selector: (column) => column.name })
  .chain((columns) => fc.record({
    keyColumns: fc.shuffledSubarray(columns.map((_, i) => i), { minLength: 1, maxLength: Math.min(4, columns.length) }),
    form: fc.constantFrom('constraint' as const, 'index' as const),
    name: fc.option(identifier, { freq: 2 }),
    nullsNotDistinct: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    wrap: fc.array(fc.option(fc.nat(), { freq: 2 }), { minLength: columns.length, maxLength: columns.length }),
    include: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    partialOn: fc.option(fc.nat(columns.length - 1), { freq: 3 })
  }).chain((shape) => {
    const value = (column: Column, i: number): Arbitrary<string | null> =>
      shape.nullsNotDistinct || !shape.keyColumns.includes(i) ? fc.option(VALUES[column.type], { freq: 6 }) : VALUES[column.type]
    const include = shape.include ? columns.map((_, i) => i).filter((i) => !shape.keyColumns.includes(i)) : []
    return fc.record({
      first: fc.tuple(...columns.map(value)),
      other: fc.tuple(...columns.map((column) => fc.option(VALUES[column.type], { freq: 6 })))
    }).map(({ first, other }): Scenario => {
      const indexed = [...shape.keyColumns, ...include]
      const row = fitIndexRow(first, indexed)
      return {
        columns,
        keys: shape.keyColumns.map((column) => {
          const choice = shape.wrap[column] ?? null
          const type = columns[column]?.type ?? 'text'
          const expression = shape.form === 'index' && choice !== null ? EXPRESSIONS[type][choice % EXPRESSIONS[type].length] : undefined
          return { column, expression }
        }),
        form: shape.form,
        name: shape.name ?? undefined,
        nullsNotDistinct: shape.nullsNotDistinct,
        include,
        partialOn: shape.form === 'index' ? shape.partialOn ?? undefined : undefined,
        first: row,
        // The key values stay as they are (they must repeat); only the included ones may be cut.
        second: fitIndexRow(row.map((v, i) => shape.keyColumns.includes(i) ? v : other[i] ?? null), indexed, include)
      }
    })
  }))

const SQL_TYPE: Record<ColumnType, string> = { text: 'text', int: 'int', uuid: 'uuid', bool: 'boolean', date: 'date' }

/** Every value as its type's output function prints it (no parsing into JS values: a bool prints `t`, not `true`). */
const RAW_TYPES = { getTypeParser: () => (value: string) => value } as unknown as pg.CustomTypesConfig

const TABLE = 'prop "t", (x)'

t.test('1. round trip: real 23505 errors over generated schemas', {
  skip: process.env.DATABASE_URL === undefined || process.env.DATABASE_URL === '' ? 'DATABASE_URL is not set (npm test sets it)' : false
}, async (t) => {
  const db = await testDatabase(t, 'property')
  const { rows: keywordRows } = await db.pool.query<{ word: string }>("SELECT word FROM pg_get_keywords() WHERE catcode <> 'U'")
  const serverKeywords = new Set(keywordRows.map((row) => row.word))

  t.test('the model quotes identifiers as this server does', async (t) => {
    const missing = [...QUOTED_KEYWORDS].filter((word) => !serverKeywords.has(word))
    t.same(missing, [], 'every keyword the model quotes, this server quotes')
    const names = fc.sample(identifier, { numRuns: 1000, ...(SEED === undefined ? {} : { seed: SEED }) })
    const { rows } = await db.pool.query<{ quoted: string[] }>('SELECT array_agg(quote_ident(n) ORDER BY i) AS quoted FROM unnest($1::text[]) WITH ORDINALITY AS u(n, i)', [names])
    t.same(rows[0]?.quoted, names.map((name) => quoteIdentifier(name, serverKeywords)), `quote_ident on ${names.length} generated identifiers`)
  })

  // The catalog query's estimated cost crosses jit_above_cost once the catalog is large or bloated
  // (other suites create and drop thousands of objects), and JIT compilation then costs ~100 ms per
  // read: off for this pool, to keep the run bounded. It changes timings only, never results.
  const pool = db.newPool({ options: `-c search_path=${db.schema} -c jit=off`, max: 1 })
  const exec = async (sql: string): Promise<void> => { await pool.query(sql) }
  const column = (s: Scenario, i: number): string => sqlIdentifier(s.columns[i]?.name ?? '')

  const table = sqlIdentifier(TABLE)
  const roundTrip = fc.asyncProperty(scenario, async (s) => {
    await exec(`DROP TABLE IF EXISTS ${table}`)
    try {
      const keyText = s.keys.map((key) => key.expression === undefined ? column(s, key.column) : `(${key.expression.sql(column(s, key.column))})`).join(', ')
      const include = s.include.length === 0 ? '' : ` INCLUDE (${s.include.map((i) => column(s, i)).join(', ')})`
      const nulls = s.nullsNotDistinct ? ' NULLS NOT DISTINCT' : ''
      const name = s.name === undefined ? '' : sqlIdentifier(s.name)
      const columns = s.columns.map((c) => `${sqlIdentifier(c.name)} ${SQL_TYPE[c.type]}`)
      if (s.form === 'constraint') {
        columns.push(`${name === '' ? '' : `CONSTRAINT ${name} `}UNIQUE${nulls} (${keyText})${include}`)
        await exec(`CREATE TABLE ${table} (${columns.join(', ')})`)
      } else {
        const where = s.partialOn === undefined ? '' : ` WHERE (${column(s, s.partialOn)} IS NULL OR ${column(s, s.partialOn)} IS NOT NULL)`
        await exec(`CREATE TABLE ${table} (${columns.join(', ')}); CREATE UNIQUE INDEX ${name} ON ${table} (${keyText})${include}${nulls}${where}`)
      }
      const insert = `INSERT INTO ${table} (${s.columns.map((_, i) => column(s, i)).join(', ')}) VALUES (${s.columns.map((_, i) => `$${i + 1}`).join(', ')})`
      await pool.query(insert, s.first)
      const error = await pool.query(insert, s.second).then(
        () => { throw new Error('the second insert succeeded') },
        (thrown: unknown) => thrown as pg.DatabaseError)
      const fields = findUniqueViolation(error)
      assert.ok(fields !== undefined, `a unique violation: ${String(error.code)} ${error.message}`)
      assert.equal(fields.table, TABLE)
      assert.equal(fields.schema, db.schema)
      assert.equal(typeof fields.constraint, 'string')

      // What the server says of its own index and values.
      const { rows: definitions } = await pool.query<{ definition: string }>(`
        SELECT pg_get_indexdef(i.indexrelid, k, true) AS definition
        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace,
             generate_series(1, i.indnkeyatts) AS k
        WHERE n.nspname = $1 AND c.relname = $2 ORDER BY k`, [fields.schema, fields.constraint])
      const printedKeys = definitions.map((row) => row.definition)
      const keyExpressions = s.keys.map((key) => key.expression === undefined ? column(s, key.column) : key.expression.sql(column(s, key.column)))
      const { rows: printedRows } = await pool.query({
        text: `SELECT ${keyExpressions.map((expression, i) => `${expression} AS v${i}`).join(', ')} FROM ${table}`,
        types: RAW_TYPES
      })
      const printed = printedRows[0] as Record<string, string | null>
      const expectedValues = s.keys.map((_, i) => printed[`v${i}`] ?? 'null') // NULLS NOT DISTINCT: null prints as null
      const expectedColumns = s.keys.map((key) => s.columns[key.column]?.name ?? '')
      const commaFree = s.keys.map((key) => key.expression?.commaFree ?? COMMA_FREE[s.columns[key.column]?.type ?? 'text'])
      const ambiguous = commaFree.filter((free) => !free).length > 1
      const exact = expectedValues.every((value) => !value.includes(', ')) // then even DETAIL alone splits them

      // DETAIL, parsed.
      const parsed = parseKeyDetail(error.detail)
      assert.ok(parsed !== undefined, `DETAIL parses: ${JSON.stringify(error.detail)}`)
      assert.deepEqual(parsed.keys, printedKeys, 'the keys are what pg_get_indexdef prints')
      assert.equal(parsed.valuesText, expectedValues.join(', '), 'the values text is the printed values joined by ", "')

      // The catalog.
      const found = new IndexCatalog(await readUniqueIndexes(pool, [db.schema])).find(fields.constraint ?? '', fields.schema)
      assert.ok(found !== undefined, `the catalog has index ${String(fields.constraint)}`)
      assert.deepEqual(found.keys.map((key) => key.definition), printedKeys, 'the catalog prints the keys as DETAIL does')
      assert.deepEqual(found.keys.map((key) => key.commaFree), commaFree, 'commaFree per key, by type')
      assert.deepEqual(found.columns, expectedColumns, 'the catalog\'s columns')
      assert.ok(indexMatchesDetail(found, parsed), 'the index matches DETAIL')

      const withCatalog = describeConflict(fields, found, NAMING)
      const withoutCatalog = describeConflict(fields, undefined, NAMING)
      for (const [how, conflict] of [['with the catalog', withCatalog], ['from DETAIL alone', withoutCatalog]] as const) {
        assert.deepEqual(conflict.columns, expectedColumns, `columns, ${how}`)
        assert.deepEqual(conflict.fields, expectedColumns, `fields, ${how}`)
        assert.deepEqual(conflict.keys, printedKeys, `keys, ${how}`)
        assert.equal(conflict.constraint, fields.constraint, `constraint, ${how}`)
        if (conflict.values !== undefined || exact) assert.deepEqual(conflict.values, expectedValues, `values, ${how}: exact or unknown, never wrong`)
      }
      if (!ambiguous) assert.deepEqual(withCatalog.values, expectedValues, 'at most one key may print ", ": the catalog pins every value')

      // And the model of printed keys that the pure properties build DETAIL with is what this server prints.
      assert.deepEqual(printedKeys, s.keys.map((key) => {
        const name = quoteIdentifier(s.columns[key.column]?.name ?? '', serverKeywords)
        return key.expression === undefined ? name : key.expression.printed(name)
      }), 'pg_get_indexdef prints the keys as the model does')
    } finally {
      await exec(`DROP TABLE IF EXISTS ${table}`)
    }
  })
  await holds(t, 'DETAIL of real errors gives the keys, columns and values the server has', roundTrip, SCHEMA_RUNS,
    { interruptAfterTimeLimit: 90_000 * SCALE, markInterruptAsFailure: true })
})

// ---------------------------------------------------------------------------------------------
// 2. Pure properties
// ---------------------------------------------------------------------------------------------

const STRUCTURAL = ['(', ')', '=', ',', ' ', '"', "'", ')=(', ', ', '(a)', 'Key ', ' already exists.', '""', "''", '::',
  'a', 'B', 'é', '\n', 'lower(', 'COLLATE ', 'EXTRACT(', '.', '$']
const anyText = fc.oneof(
  fc.string({ unit: fc.oneof(fc.constantFrom(...STRUCTURAL), fc.string({ unit: 'binary', maxLength: 1 })), maxLength: 60 }),
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.string({ unit: 'grapheme', maxLength: 40 })
)

/** The description `(k1, k2)=(v1, v2)` as it must appear in the text the parse came from. */
function description (keys: readonly string[], valuesText: string): string {
  return `(${keys.join(', ')})=(${valuesText})`
}

t.test('2. pure properties', async (t) => {
  await holds(t, 'parseKeyDetail on any string: no throw; undefined or a result the text holds', fc.property(anyText, (text) => {
    const parsed = parseKeyDetail(text)
    if (parsed === undefined) return
    assert.ok(parsed.keys.length > 0 && parsed.keys.every((key) => key.length > 0), 'keys, none empty')
    assert.equal(parsed.keyColumns.length, parsed.keys.length, 'one column list per key')
    parsed.keys.forEach((key, i) => {
      const name = identifierName(key)
      assert.deepEqual(parsed.keyColumns[i], name === undefined ? expressionColumns(key) : [name], `the columns of key ${i}`)
    })
    // The keys and values are one run of the text, and the values end at its last `)`.
    const end = text.lastIndexOf(')') + 1
    const run = description(parsed.keys, parsed.valuesText)
    assert.equal(text.slice(end - run.length, end), run, 'the description is a run of the text ending at its last )')
  }), PURE_RUNS)

  await holds(t, 'parseKeyDetail on anything but a string: undefined', fc.property(fc.anything().filter((value) => typeof value !== 'string'), (value) => {
    assert.equal(parseKeyDetail(value), undefined)
  }), PURE_RUNS / 4)

  await holds(t, 'splitValues: undefined, or as many values as keys that join back into the text', fc.property(
    anyText, fc.integer({ min: -1, max: 6 }), fc.option(fc.array(fc.boolean(), { maxLength: 7 })),
    (text, count, commaFree) => {
      const values = splitValues(text, count, commaFree ?? undefined)
      if (values === undefined) return
      assert.equal(values.length, count, 'one value per key')
      assert.equal(values.join(', '), text, 'nothing invented or lost')
    }), PURE_RUNS)

  // DETAIL as PostgreSQL builds it: keys printed by ruleutils.c, values by the types' output
  // functions, joined by ", " and never quoted; the sentence around it from the message catalogs.
  const TEMPLATES = [
    'Key %s already exists.', 'Schlüssel »%s« existiert bereits.', 'La clé « %s » existe déjà.', 'キー %s はすでに存在します。',
    '%s 키가 이미 있습니다.', '键 %s 已存在。', 'Ключ "%s" уже существует.', 'Ya existe la llave %s.', 'გასაღები უკვე არსებობს: %s.',
    'Key %s is duplicated.', 'キー%sは重複しています。', '%s 키가 중복됨'
  ]
  const literal = fc.array(fc.constantFrom("'", "''", ')=(', ', ', '(', ')', '"', 'x', '\\', ' '), { maxLength: 6 }).map((pieces) => pieces.join(''))
  /** A key as printed, with the columns it uses. */
  const modelKey: Arbitrary<{ printed: string, columns: string[] }> = fc.oneof(
    identifier.map((name) => ({ printed: quoteIdentifier(name), columns: [name] })),
    fc.tuple(identifier, fc.constantFrom('lower', 'upper', 'btrim')).map(([name, f]) => ({ printed: `${f}(${quoteIdentifier(name)})`, columns: [name] })),
    fc.tuple(identifier, literal).map(([name, text]) => ({ printed: `(${quoteIdentifier(name)} || ${quoteLiteral(text)}::text)`, columns: [name] })),
    fc.tuple(identifier, literal).map(([name, text]) => ({ printed: `COALESCE(${quoteIdentifier(name)}, ${quoteLiteral(text)}::text)`, columns: [name] })),
    fc.tuple(identifier, identifier).map(([a, b]) => ({ printed: `(${quoteIdentifier(a)} || ${quoteIdentifier(b)})`, columns: a === b ? [a] : [a, b] }))
  )
  /** Any value text (the server never sends NUL); comma-free ones as numbers, dates, uuids and booleans print. */
  const anyValue = fc.oneof(shortText, anyText, fc.constantFrom(...TEXT_PIECES))
  const commaFreeValue = fc.oneof(anyValue.map((value) => value.replaceAll(',', ';')), VALUES.int, VALUES.uuid, fc.constantFrom('t', 'f', 'null'))
  const modelDetail = fc.record({
    template: fc.constantFrom(...TEMPLATES),
    keys: fc.array(fc.record({ key: modelKey, commaFree: fc.boolean() }), { minLength: 1, maxLength: 5 })
  }).chain(({ template, keys }) => fc.tuple(...keys.map((key) => key.commaFree ? commaFreeValue : anyValue))
    .map((values) => ({ template, keys, values })))

  await holds(t, 'DETAIL as PostgreSQL formats it: keys exact; values exact when they can be told apart, else unknown', fc.property(modelDetail, ({ template, keys, values }) => {
    const printed = keys.map((key) => key.key.printed)
    const detail = template.replace('%s', () => description(printed, values.join(', ')))
    const parsed = parseKeyDetail(detail)
    assert.ok(parsed !== undefined, 'parses')
    assert.deepEqual(parsed.keys, printed, 'the keys exactly')
    assert.deepEqual(parsed.keyColumns, keys.map((key) => key.key.columns), 'the columns of each key')
    assert.equal(parsed.valuesText, values.join(', '), 'the values text exactly')
    const start = valuesStartFor(detail, printed)
    assert.equal(start === undefined ? undefined : detail.slice(start, detail.lastIndexOf(')')), parsed.valuesText, 'read against the catalog\'s keys, the same values text')
    assert.deepEqual(splitValuesIn(detail, start as number, detail.lastIndexOf(')'), printed.length, keys.map((key) => key.commaFree)), splitValues(parsed.valuesText, printed.length, keys.map((key) => key.commaFree)), 'split in place as split apart')
    if (printed.length > 1) assert.equal(valuesStartFor(detail, printed.slice(1)), undefined, 'and other keys do not match')

    const commaFree = keys.map((key) => key.commaFree)
    const separable = values.every((value) => !value.includes(', '))
    const pinned = commaFree.filter((free) => !free).length <= 1
    const error: PgErrorFields = { code: '23505', message: '', detail, constraint: 'k', schema: 's', table: 't', column: undefined, error: {} }
    const index: UniqueIndex = {
      schema: 's',
      name: 'k',
      table: 't',
      keys: keys.map((key) => ({ definition: key.key.printed, columns: key.key.columns, commaFree: key.commaFree })),
      definitions: keys.map((key) => key.key.printed),
      commaFree,
      columns: [...new Set(keys.flatMap((key) => key.key.columns))],
      parent: undefined
    }
    const fromDetail = describeConflict(error, undefined, NAMING)
    const fromCatalog = describeConflict(error, index, NAMING)
    assert.deepEqual(fromDetail.columns, index.columns, 'the columns from DETAIL alone')
    for (const [how, got] of [['from DETAIL alone', fromDetail.values], ['with the catalog', fromCatalog.values]] as const) {
      if (got !== undefined || separable || values.length === 1) assert.deepEqual(got, values, `values ${how}`)
    }
    if (pinned) assert.deepEqual(fromCatalog.values, values, 'at most one key may hold ", ": pinned by the catalog')
    if (values.length === 1) assert.deepEqual(splitValues(parsed.valuesText, 1), values, 'one key: the value, whatever it holds')
  }), PURE_RUNS)

  await holds(t, 'a quoted identifier, alone or in an expression, names itself', fc.property(identifier, (name) => {
    const quoted = quoteIdentifier(name)
    assert.equal(identifierName(quoted), name, 'identifierName')
    assert.deepEqual(expressionColumns(quoted), [name], 'expressionColumns')
    assert.deepEqual(expressionColumns(`lower(${quoted})`, new Set([name])), [name], 'expressionColumns in a call, with the known columns')
    assert.deepEqual(expressionColumns(`(${quoted}::text || ${quoted})`), [name], 'once, after a cast too')
  }), PURE_RUNS)
})

t.test('2b. lower-case words in a deparsed expression that are not columns', async (t) => {
  // Both as the servers this suite runs on print them: PostgreSQL 15 `make_interval(days => n)`,
  // PostgreSQL 18 `JSON_VALUE(data, '$."email"' RETURNING text)`: neither `days` nor `text` is a column.
  const detailColumns = (printed: string): string[][] | undefined => parseKeyDetail(`Key (${printed})=(1) already exists.`)?.keyColumns
  const argument = lowerWord.filter((word) => !QUOTED_KEYWORDS.has(word))
  await holds(t, 'a named argument is not a column: f(name => column)', fc.property(identifier, argument, (name, arg) => {
    const printed = `make_interval(${arg} => ${quoteIdentifier(name)})`
    assert.deepEqual(detailColumns(printed), [[name]], printed)
  }), PURE_RUNS / 4)
  const type = fc.constantFrom('text', 'integer', 'date', 'numeric(10,2)', 'character varying', 'boolean', 'jsonb')
  await holds(t, 'the type after RETURNING is not a column: JSON_VALUE(column, path RETURNING type)', fc.property(identifier, type, (name, returning) => {
    const printed = `JSON_VALUE(${quoteIdentifier(name)}, '$."k"' RETURNING ${returning})`
    assert.deepEqual(detailColumns(printed), [[name]], printed)
  }), PURE_RUNS / 4)
})

// ---------------------------------------------------------------------------------------------
// 3. Adversarial text: a megabyte of structure
// ---------------------------------------------------------------------------------------------

const ALPHABET = ['(', ')', '=', ',', '"', "'", ' ', 'a', 'b', 'K', ':', 'Z']

/** `size` characters of `ALPHABET`, drawn with the given weights by a small PRNG (xorshift32). */
function randomText (seed: number, weights: readonly number[], size: number): string {
  const cumulative: number[] = []
  let total = 0
  for (const weight of weights) cumulative.push(total += weight + 1)
  const codes = new Uint8Array(size)
  let state = seed | 1
  for (let i = 0; i < size; i++) {
    state ^= state << 13; state ^= state >>> 17; state ^= state << 5
    const pick = (state >>> 0) % total
    let c = 0
    while ((cumulative[c] ?? total) <= pick) c++
    codes[i] = (ALPHABET[c] ?? ' ').charCodeAt(0)
  }
  return Buffer.from(codes).toString('latin1')
}

function repeatTo (unit: string, size: number): string {
  return unit.repeat(Math.ceil(size / unit.length)).slice(0, size)
}

const adversarial = fc.noShrink(fc.record({
  mode: fc.constantFrom('random', 'repeat', 'framed', 'open then repeat'),
  seed: fc.integer(),
  weights: fc.array(fc.nat(20), { minLength: ALPHABET.length, maxLength: ALPHABET.length }),
  unit: fc.string({ unit: fc.constantFrom(...ALPHABET, ')=(', ', ', '""', "''", '::'), minLength: 1, maxLength: 24 })
}).map(({ mode, seed, weights, unit }) => {
  switch (mode) {
    case 'random': return randomText(seed, weights, MB)
    case 'repeat': return repeatTo(unit, MB)
    case 'framed': return `Key (${repeatTo(unit, MB / 2)})=(${randomText(seed, weights, MB / 2)}) already exists.`
    default: return `(${repeatTo(unit, MB)}`
  }
}))

t.test('3. adversarial DETAIL: a megabyte of ( ) = , " \' : and letters never throws and stays linear', async (t) => {
  let slowest = 0
  const timed = <T>(what: string, run: () => T): T => {
    // CPU time, not the clock's: a machine busy with other work does not move it.
    const start = process.cpuUsage()
    const result = run()
    const used = process.cpuUsage(start)
    const ms = (used.user + used.system) / 1000
    slowest = Math.max(slowest, ms)
    assert.ok(ms < LIMIT_MS, `${what}: ${ms.toFixed(0)} ms, not under ${LIMIT_MS} ms`)
    return result
  }
  await holds(t, '1 MB texts', fc.property(adversarial, (text) => {
    const parsed = timed('parseKeyDetail', () => parseKeyDetail(text))
    if (parsed !== undefined) {
      const end = text.lastIndexOf(')') + 1
      const run = description(parsed.keys, parsed.valuesText)
      assert.equal(text.slice(end - run.length, end), run, 'the description is a run of the text ending at its last )')
    }
    const error: PgErrorFields = { code: '23505', message: '', detail: text, constraint: 'k', schema: 's', table: 't', column: undefined, error: {} }
    timed('describeConflict', () => describeConflict(error, undefined, NAMING))
    timed('expressionColumns', () => expressionColumns(text))
    timed('identifierName', () => identifierName(text))
    timed('splitValues', () => splitValues(text, 3, [true, false, true]))
  }), ADVERSARIAL_RUNS)
  t.ok(slowest < LIMIT_MS, `slowest call on 1 MB: ${slowest.toFixed(1)} ms (bound ${LIMIT_MS} ms)`)
})
