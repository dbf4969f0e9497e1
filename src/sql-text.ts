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
  if (text.length >= 2 && text.charCodeAt(0) === QUOTE && skipQuoted(text, 0) === text.length &&
    text.charCodeAt(text.length - 1) === QUOTE) {
    return text.slice(1, -1).replaceAll('""', '"')
  }
  return undefined
}

const QUOTE = 0x22 // "
const APOSTROPHE = 0x27 // '
const OPEN = 0x28 // (
const CLOSE = 0x29 // )
const COLON = 0x3a // :

function isWordStart (c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f || c >= 0x80
}

function isWordPart (c: number): boolean {
  return isWordStart(c) || (c >= 0x30 && c <= 0x39) || c === 0x24
}

/** Words PostgreSQL prints in lower case inside a deparsed expression that are not column names. */
const LOWERCASE_CONSTANTS = new Set(['true', 'false'])

/** Words that continue a type name after its first word: `character varying`, `timestamp with time zone`. */
const TYPE_NAME_WORDS = new Set(['varying', 'precision', 'with', 'without', 'time', 'zone'])

/**
 * The column names an index expression, as `pg_get_indexdef` prints it, appears to use, in order of
 * appearance and without repeats: `lower(email)` → `["email"]`, `COALESCE(org_id, 0)` → `["org_id"]`,
 * `(data ->> 'k'::text)` → `["data"]`, `lower("Email")` → `["Email"]`.
 *
 * Deparsed expressions print column names in lower case or quoted, keywords in upper case,
 * functions followed by `(` and types after `::`; that is enough to tell them apart. When the
 * table's columns are known, pass them as `known` and only those are returned.
 */
export function expressionColumns (expression: string, known?: ReadonlySet<string>): string[] {
  const found: string[] = []
  const add = (name: string): void => {
    if ((known === undefined || known.has(name)) && !found.includes(name)) found.push(name)
  }
  let i = 0
  let typeName: 'no' | 'first' | 'rest' = 'no' // the words after `::` name a type
  let afterCollate = false // the identifier after COLLATE names a collation
  while (i < expression.length) {
    const c = expression.charCodeAt(i)
    if (c === APOSTROPHE) {
      i = skipQuoted(expression, i)
    } else if (c === QUOTE) {
      const end = skipQuoted(expression, i)
      if (typeName === 'no' && !afterCollate && expression.charCodeAt(end) !== OPEN) {
        add(expression.slice(i + 1, end - 1).replaceAll('""', '"'))
      }
      typeName = typeName === 'first' ? 'rest' : 'no'
      afterCollate = false
      i = end
    } else if (c === COLON && expression.charCodeAt(i + 1) === COLON) {
      typeName = 'first'
      i += 2
    } else if (isWordStart(c)) {
      let end = i + 1
      while (end < expression.length && isWordPart(expression.charCodeAt(end))) end++
      const word = expression.slice(i, end)
      if (typeName === 'first' || (typeName === 'rest' && TYPE_NAME_WORDS.has(word))) {
        typeName = 'rest'
      } else {
        typeName = 'no'
        if (word === 'COLLATE') afterCollate = true
        else if (UNQUOTED_IDENTIFIER.test(word) && !LOWERCASE_CONSTANTS.has(word) &&
          expression.charCodeAt(end) !== OPEN) {
          add(word)
        }
      }
      i = end
    } else {
      if (c !== 0x20) typeName = 'no' // a space separates a type's words; anything else ends it
      i++
    }
  }
  return found
}
