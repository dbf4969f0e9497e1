import { APOSTROPHE, CLOSE, expressionColumns, identifierName, OPEN, QUOTE, skipQuoted, SPACE } from './sql-text.js'

/**
 * How a server prints the key description in DETAIL. `postgresql` (PostgreSQL itself, and the
 * engines that run its code: YugabyteDB, Citus) prints each value raw, as its type's output
 * function writes it, and joins keys and values with `, `. `cockroachdb` prints each value as a
 * SQL literal (`'ada@example.com'`, `e'O\'Brien'`, `7`) and each key as the bare column name
 * (or an expression index's expression), joined with `, ` (`,` before v23.1). The text alone
 * cannot tell them apart: PostgreSQL prints a text value `'x'` as `'x'`, CockroachDB prints the
 * text value `x` so. The caller says which; `dialectOf` in dialects.ts reads it from the error.
 */
export type Dialect = 'postgresql' | 'cockroachdb'

/**
 * The key description in an integrity error's DETAIL, read by its structure `(keys)=(values)`
 * rather than by its words, so that translated messages (`lc_messages`) read the same:
 *
 *   Key (email)=(ada@example.com) already exists.
 *   Schlüssel »(org_id, lower(name))=(7, x)« existiert bereits.
 */
export interface KeyDetail extends KeyScan {
  /** The columns each key uses: the column itself, or the columns an expression appears to use. */
  keyColumns: string[][]
}

/**
 * The key description without the columns of each key (`keyColumnsOf` gives them): what the data
 * path reads, since the catalog, when it knows the index, makes them unnecessary.
 */
export interface KeyScan {
  /** Each key as PostgreSQL printed it: a column name (possibly quoted) or an expression. */
  keys: string[]
  /** The values, as one text: PostgreSQL joins them with `, ` and quotes nothing. */
  valuesText: string
  /** Set when the server prints every value as a SQL literal, so that they can be told apart. */
  dialect?: 'cockroachdb'
  /**
   * For such a server, the values decoded, one per key, as PostgreSQL would print them: `'x'` is
   * `x`, `e'it\'s'` is `it's`, a NULL is `null`, numbers and booleans as printed. `undefined`
   * when the text does not decode into one value per key. Read them with `keyValues`.
   */
  values?: string[] | undefined
}

const COMMA = 0x2c // ,
const EQUALS = 0x3d // =

const BACKSLASH = 0x5c // \
const OPEN_BRACKET = 0x5b // [
const CLOSE_BRACKET = 0x5d // ]

/** How many opening parentheses to try as the start of the key list (a translation may put one before it). */
const STARTS_TRIED = 3

/**
 * Reads the key description from a DETAIL text; `undefined` when there is none (a missing DETAIL,
 * another kind of message, or text that does not have the structure). `dialect` says how the
 * server prints it (PostgreSQL's way unless told). Linear in the length of the text, whatever it
 * holds; never throws.
 */
export function parseKeyDetail (detail: unknown, dialect: Dialect = 'postgresql'): KeyDetail | undefined {
  const scan = scanKeyDetail(detail, dialect)
  if (scan === undefined) return undefined
  const { keys, valuesText } = scan
  if (scan.dialect === undefined) return { keys, keyColumns: keyColumnsOf(scan), valuesText }
  return { keys, keyColumns: keyColumnsOf(scan), valuesText, dialect: scan.dialect, values: scan.values }
}

/** `parseKeyDetail` without the columns of each key: the keys and the values only. */
export function scanKeyDetail (detail: unknown, dialect: Dialect = 'postgresql'): KeyScan | undefined {
  if (typeof detail !== 'string') return undefined
  const cockroach = dialect === 'cockroachdb'
  let start = detail.indexOf('(')
  for (let tries = 0; start !== -1 && tries < STARTS_TRIED; tries++) {
    const parsed = parseFrom(detail, start, cockroach)
    if (parsed !== undefined) return parsed
    start = detail.indexOf('(', start + 1)
  }
  return undefined
}

/**
 * Where the values start in a PostgreSQL DETAIL whose key list, at its first `(`, is exactly
 * `keys` (as the catalog prints them, `pg_get_indexdef`); `undefined` otherwise. The values run to
 * the last `)`, as `scanKeyDetail` reads them; nothing is sliced out: the data path's check of a
 * cached index against the error. Anything else (a translation that puts a `(` first, keys that
 * differ) is for the scan.
 */
export function valuesStartFor (detail: string, keys: readonly string[]): number | undefined {
  let at = detail.indexOf('(') + 1
  if (at === 0) return undefined
  for (let k = 0; k < keys.length; k++) {
    const key = keys[k] as string
    if (k > 0) {
      if (detail.charCodeAt(at) !== COMMA || detail.charCodeAt(at + 1) !== SPACE) return undefined
      at += 2
    }
    if (!detail.startsWith(key, at)) return undefined
    at += key.length
  }
  if (detail.charCodeAt(at) !== CLOSE || detail.charCodeAt(at + 1) !== EQUALS || detail.charCodeAt(at + 2) !== OPEN) return undefined
  return detail.lastIndexOf(')') < at + 3 ? undefined : at + 3
}

/** The columns each key uses: the column itself, or the columns an expression appears to use. */
export function keyColumnsOf (scan: KeyScan): string[][] {
  return scan.keys.map(scan.dialect === 'cockroachdb' ? cockroachColumnsOfKey : columnsOfKey)
}

function parseFrom (detail: string, open: number, cockroach: boolean): KeyScan | undefined {
  const keys: string[] = []
  let depth = 0
  let keyStart = open + 1
  let i = keyStart
  while (i < detail.length) {
    const c = detail.charCodeAt(i)
    if (c === QUOTE) { i = skipQuoted(detail, i); continue }
    if (c === APOSTROPHE) { i = cockroach ? skipLiteral(detail, i) : skipQuoted(detail, i); continue }
    if (c === OPEN) depth++
    else if (c === CLOSE) {
      if (depth === 0) break
      depth--
    } else if (c === COMMA && depth === 0) {
      // PostgreSQL separates keys with `, `; CockroachDB with `, ` or (before v23.1) `,`.
      const spaced = detail.charCodeAt(i + 1) === SPACE
      if (spaced || cockroach) {
        keys.push(detail.slice(keyStart, i))
        i += spaced ? 2 : 1
        keyStart = i
        continue
      }
    }
    i++
  }
  // The key list closes with `)=(`; the values run to the last `)` of the text, since values are
  // printed raw and may hold any character, `)=(` and `) already exists. Key (` included.
  if (detail.charCodeAt(i + 1) !== EQUALS || detail.charCodeAt(i + 2) !== OPEN) return undefined
  const valuesEnd = detail.lastIndexOf(')')
  if (valuesEnd < i + 3) return undefined
  keys.push(detail.slice(keyStart, i))
  for (const key of keys) if (key.length === 0) return undefined
  const valuesText = detail.slice(i + 3, valuesEnd)
  if (!cockroach) return { keys, valuesText }
  const values = decodeLiterals(valuesText)
  return {
    keys,
    valuesText,
    dialect: 'cockroachdb',
    values: values?.length === keys.length ? values : undefined
  }
}

function columnsOfKey (key: string): string[] {
  const name = identifierName(key)
  return name === undefined ? expressionColumns(key) : [name]
}

/**
 * What marks a CockroachDB key as an expression index's expression (`lower(email)`, `a + b`,
 * `j->'a':::STRING`) rather than a column: CockroachDB prints column names bare, never quoted,
 * whatever they hold (`Org Id`), and expressions with their operators between spaces.
 */
const COCKROACH_EXPRESSION = /[()'"]|::|->| [-+*/%|&<>=~^#@!]+ /

function cockroachColumnsOfKey (key: string): string[] {
  return COCKROACH_EXPRESSION.test(key) ? expressionColumns(key) : [key]
}

/**
 * The values of a key description, one per key: decoded for a server that prints SQL literals
 * (CockroachDB), else PostgreSQL's raw text split by `splitValues` (see there for `commaFree`).
 * `undefined` when they cannot be known for sure.
 */
export function keyValues (detail: KeyScan, count: number, commaFree?: readonly boolean[]): string[] | undefined {
  if (detail.dialect === 'cockroachdb') return detail.values?.length === count ? [...detail.values] : undefined
  return splitValues(detail.valuesText, count, commaFree)
}

function isEscapePrefix (c: number): boolean {
  return c === 0x65 || c === 0x45 || c === 0x62 || c === 0x42 // e E b B: e'…' strings, b'…' bytes, B'…' bits
}

/**
 * Index just past the SQL literal that starts at `start` (a `'`), CockroachDB's way: after an `e`
 * (or `b`) a backslash escapes the next character; a doubled `'` is part of the literal either way.
 * The text's length if unterminated.
 */
function skipLiteral (text: string, start: number): number {
  const escapes = start > 0 && isEscapePrefix(text.charCodeAt(start - 1))
  let i = start + 1
  while (i < text.length) {
    const c = text.charCodeAt(i)
    if (c === BACKSLASH && escapes) { i += 2; continue }
    if (c === APOSTROPHE) {
      if (text.charCodeAt(i + 1) === APOSTROPHE) { i += 2; continue }
      return i + 1
    }
    i++
  }
  return text.length
}

/**
 * The values of a CockroachDB key description, decoded: `'x'` → `x`, `e'\x00…'` → its
 * characters, `'x' COLLATE en` → `x`, a NULL (printed empty, or `NULL`) → `null`, anything else
 * bare (`7`, `1.00`, `true`, `ARRAY[1,2]`, `b'…'`) as printed. Values are joined with `, ` (or `,`).
 * `undefined` when the text is not a list of such values (an unterminated literal). Linear.
 */
function decodeLiterals (text: string): string[] | undefined {
  const values: string[] = []
  let i = 0
  for (;;) {
    const end = valueEnd(text, i)
    const value = decodeValue(text, i, end)
    if (value === undefined) return undefined
    values.push(value)
    if (end === text.length) return values
    i = end + (text.charCodeAt(end + 1) === SPACE ? 2 : 1) // past `,` or `, `
  }
}

/** Where the value that starts at `start` ends: the next `,` outside literals, parentheses and brackets, or the end. */
function valueEnd (text: string, start: number): number {
  let depth = 0
  let i = start
  while (i < text.length) {
    const c = text.charCodeAt(i)
    if (c === APOSTROPHE) { i = skipLiteral(text, i); continue }
    if (c === OPEN || c === OPEN_BRACKET) depth++
    else if ((c === CLOSE || c === CLOSE_BRACKET) && depth > 0) depth--
    else if (c === COMMA && depth === 0) return i
    i++
  }
  return text.length
}

const COLLATE = ' COLLATE '

function decodeValue (text: string, start: number, end: number): string | undefined {
  const c = text.charCodeAt(start)
  let quote = -1
  if (c === APOSTROPHE) quote = start
  else if ((c === 0x65 || c === 0x45) && text.charCodeAt(start + 1) === APOSTROPHE) quote = start + 1 // e'…'
  if (quote === -1) {
    const bare = text.slice(start, end)
    return bare === '' || bare === 'NULL' ? 'null' : bare
  }
  const literal = quote === start ? plainLiteral(text, quote, end) : escapedLiteral(text, quote, end)
  if (literal === undefined) return undefined
  // A collated string prints as `'x' COLLATE en_US`; anything else after a literal keeps the text as printed.
  if (literal.end === end || text.startsWith(COLLATE, literal.end)) return literal.value
  return text.slice(start, end)
}

interface Literal { value: string, end: number }

/** A `'…'` literal: no escapes, a doubled `'` is one. */
function plainLiteral (text: string, quote: number, end: number): Literal | undefined {
  let i = quote + 1
  while (i < end) {
    if (text.charCodeAt(i) === APOSTROPHE) {
      if (text.charCodeAt(i + 1) !== APOSTROPHE) return { value: text.slice(quote + 1, i).replaceAll("''", "'"), end: i + 1 }
      i++
    }
    i++
  }
  return undefined // unterminated
}

const SIMPLE_ESCAPES: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' }

/**
 * An `e'…'` literal, as CockroachDB's `EncodeSQLStringWithFlags` writes it: `\n`-style escapes,
 * `\'`, `\\`, `\xHH` bytes (UTF-8, or a control character), `\uXXXX` and `\UXXXXXXXX` code points.
 */
function escapedLiteral (text: string, quote: number, end: number): Literal | undefined {
  const parts: string[] = []
  let bytes: number[] = []
  const emit = (piece: string): void => {
    if (bytes.length > 0) {
      parts.push(Buffer.from(bytes).toString('utf8'))
      bytes = []
    }
    parts.push(piece)
  }
  let run = quote + 1
  let i = run
  while (i < end) {
    const c = text.charCodeAt(i)
    if (c === APOSTROPHE) {
      if (text.charCodeAt(i + 1) === APOSTROPHE) { emit(text.slice(run, i + 1)); i += 2; run = i; continue }
      emit(text.slice(run, i))
      return { value: parts.join(''), end: i + 1 }
    }
    if (c !== BACKSLASH) { i++; continue }
    if (i > run) emit(text.slice(run, i))
    const escape = text.charAt(i + 1)
    if (escape === 'x') {
      const byte = hex(text, i + 2, 2)
      if (byte !== -1) { bytes.push(byte); i += 4; run = i; continue }
    } else if (escape === 'u' || escape === 'U') {
      const digits = escape === 'u' ? 4 : 8
      const point = hex(text, i + 2, digits)
      if (point !== -1 && point <= 0x10ffff) { emit(String.fromCodePoint(point)); i += 2 + digits; run = i; continue }
    }
    emit(SIMPLE_ESCAPES[escape] ?? escape)
    i += 2
    run = i
  }
  return undefined // unterminated
}

/** The number written by `count` hex digits at `start`; -1 if they are not all there. */
function hex (text: string, start: number, count: number): number {
  let value = 0
  for (let i = start; i < start + count; i++) {
    const digit = parseInt(text.charAt(i), 16) // NaN for '' (past the end) or a non-digit
    if (Number.isNaN(digit)) return -1
    value = value * 16 + digit
  }
  return value
}

/**
 * Splits the values text into one value per key. PostgreSQL joins values with `, ` without
 * quoting, so a value holding `, ` makes the split ambiguous: then the answer is `undefined`,
 * unless `commaFree` says which keys' types never print `, ` (numbers, booleans, dates, uuid…),
 * which pins every other value down when at most one key may hold a comma.
 */
export function splitValues (valuesText: string, count: number, commaFree?: readonly boolean[]): string[] | undefined {
  return splitValuesIn(valuesText, 0, valuesText.length, count, commaFree)
}

/**
 * `splitValues` of `text` from `start` to `end`, slicing out only the values themselves when they
 * split unambiguously (the usual case): no intermediate string or array.
 */
export function splitValuesIn (text: string, start: number, end: number, count: number, commaFree?: readonly boolean[]): string[] | undefined {
  if (count === 1) return [text.slice(start, end)]
  if (count < 1) return undefined
  let separators = 0
  for (let at = text.indexOf(', ', start); at !== -1 && at + 2 <= end; at = text.indexOf(', ', at + 2)) separators++
  if (separators === count - 1) {
    const values = new Array<string>(count)
    let from = start
    for (let i = 0; i < count - 1; i++) {
      const at = text.indexOf(', ', from)
      values[i] = text.slice(from, at)
      from = at + 2
    }
    values[count - 1] = text.slice(from, end)
    return values
  }
  if (separators < count - 1 || commaFree === undefined) return undefined
  const parts = text.slice(start, end).split(', ')
  // Take comma-free values from both ends; what is left in the middle belongs to the one key that may hold `, `.
  let first = 0
  while (first < count && commaFree[first] === true) first++
  let last = count - 1
  while (last > first && commaFree[last] === true) last--
  if (first !== last) return undefined
  const fromEnd = count - 1 - last
  return [
    ...parts.slice(0, first),
    parts.slice(first, parts.length - fromEnd).join(', '),
    ...parts.slice(parts.length - fromEnd)
  ]
}
