/**
 * Scanning SQL text as PostgreSQL prints it in messages: identifiers quoted with `"` (a quote inside
 * doubled), string literals quoted with `'` (likewise doubled). Every function here walks its
 * input once, never throws and never backtracks.
 */

/** Index just past the quoted run that starts at `start` (a `"` or `'`); the text's length if unterminated. */
export function skipQuoted (text: string, start: number): number {
  const quote = text.charCodeAt(start)
  let i = start + 1
  while (i < text.length) {
    if (text.charCodeAt(i) === quote) {
      if (text.charCodeAt(i + 1) === quote) { i += 2; continue } // doubled: part of the name
      return i + 1
    }
    i++
  }
  return text.length
}

const UNQUOTED_IDENTIFIER = /^[a-z_][a-z0-9_$]*$/

/**
 * The name a single identifier stands for: `email` → `email`, `"Org Id"` → `Org Id`,
 * `"a""b"` → `a"b`. Anything else (an expression) gives `undefined`.
 */
export function identifierName (text: string): string | undefined {
  if (UNQUOTED_IDENTIFIER.test(text)) return text
  if (text.length < 2 || text.charCodeAt(0) !== QUOTE || text.charCodeAt(text.length - 1) !== QUOTE) return undefined
  const name = text.slice(1, -1)
  // Inside, every quote is doubled: a lone one means this is not one quoted identifier.
  return name.replaceAll('""', '').includes('"') ? undefined : name.replaceAll('""', '"')
}

export const QUOTE = 0x22 // "
export const APOSTROPHE = 0x27 // '
export const OPEN = 0x28 // (
export const CLOSE = 0x29 // )
export const SPACE = 0x20
const COLON = 0x3a // :

function isWordStart (c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f || c >= 0x80
}

function isWordPart (c: number): boolean {
  return isWordStart(c) || (c >= 0x30 && c <= 0x39) || c === 0x24
}

/** Words PostgreSQL prints in lower case inside a deparsed expression that are not column names. */
const LOWERCASE_CONSTANTS = new Set(['true', 'false'])

const DOT = 0x2e // .
const BRACKETS = new Set([0x5b, 0x5d]) // [ ]

function isLowerCase (word: string): boolean {
  return word === word.toLowerCase()
}

/**
 * The column names an index expression, as `pg_get_indexdef` prints it, appears to use, in order of
 * appearance and without repeats: `lower(email)` → `["email"]`, `COALESCE(org_id, 0)` → `["org_id"]`,
 * `(data ->> 'k'::text)` → `["data"]`, `lower("Email")` → `["Email"]`.
 *
 * Deparsed expressions print column names in lower case or quoted and never qualified, keywords in
 * upper case, functions followed by `(`, a type after `::` (lower-case words, a modifier in
 * parentheses), a collation after COLLATE and a field after `EXTRACT(`; that is enough to tell
 * them apart. When the table's columns are known, pass them as `known` and only those are returned.
 * Linear in the length of the text.
 */
export function expressionColumns (expression: string, known?: ReadonlySet<string>): string[] {
  const found: string[] = []
  const seen = new Set<string>()
  let inTypeName = false // after `::`, until something that cannot be part of a type name
  let skipName = false // the next name is a collation (after COLLATE) or a field (after EXTRACT()
  let i = 0

  /** Takes a name that ends at `end` and starts at `start`, if it can be a column. */
  const consider = (name: string, start: number, end: number): void => {
    const skip = skipName
    skipName = false
    if (skip || expression.charCodeAt(end) === OPEN) return // a collation, a field, or a function
    let next = end
    while (expression.charCodeAt(next) === SPACE) next++
    if (expression.startsWith('=>', next)) return // the name of a named argument: f(name => value)
    if (expression.charCodeAt(start - 1) === DOT || expression.charCodeAt(end) === DOT) return // qualified: not a column
    if ((known === undefined || known.has(name)) && !seen.has(name)) {
      seen.add(name)
      found.push(name)
    }
  }

  while (i < expression.length) {
    const c = expression.charCodeAt(i)
    if (c === APOSTROPHE) {
      inTypeName = false
      i = skipQuoted(expression, i)
    } else if (c === QUOTE) {
      const end = skipQuoted(expression, i)
      if (!inTypeName) consider(expression.slice(i + 1, end - 1).replaceAll('""', '"'), i, end)
      i = end
    } else if (c === COLON && expression.charCodeAt(i + 1) === COLON) {
      inTypeName = true
      i += 2
    } else if (isWordStart(c)) {
      let end = i + 1
      while (end < expression.length && isWordPart(expression.charCodeAt(end))) end++
      const word = expression.slice(i, end)
      if (inTypeName && isLowerCase(word)) {
        // part of the type name: `character varying`, `time without time zone`, `interval day to second`
      } else {
        inTypeName = false
        if (word === 'COLLATE') skipName = true
        else if (word === 'RETURNING') inTypeName = true // SQL/JSON: JSON_VALUE(data, '$.k' RETURNING text)
        else if (word === 'EXTRACT' && expression.charCodeAt(end) === OPEN) { skipName = true; end++ }
        else if (UNQUOTED_IDENTIFIER.test(word) && !LOWERCASE_CONSTANTS.has(word)) consider(word, i, end)
      }
      i = end
    } else if (inTypeName && c === OPEN) {
      const close = expression.indexOf(')', i) // a type modifier: `(3)`, `(10,2)`
      i = close === -1 ? expression.length : close + 1
    } else {
      if (c !== SPACE && c !== DOT && !BRACKETS.has(c)) inTypeName = false
      i++
    }
  }
  return found
}

/** A string as an SQL literal, as PostgreSQL's `quote_literal` writes it (`E'…'` when it holds a backslash). */
export function quoteLiteral (text: string): string {
  const quoted = `'${text.replaceAll("'", "''").replaceAll('\\', '\\\\')}'`
  return text.includes('\\') ? `E${quoted}` : quoted
}

/** A name as an SQL identifier, always quoted (`Odd "Name"` → `"Odd ""Name"""`): for names from the catalog only. */
export function quoteIdentifier (name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}
