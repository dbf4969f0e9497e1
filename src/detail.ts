import { APOSTROPHE, CLOSE, expressionColumns, identifierName, OPEN, QUOTE, skipQuoted, SPACE } from './sql-text.js'

/**
 * The key description in an integrity error's DETAIL, read by its structure `(keys)=(values)`
 * rather than by its words, so that translated messages (`lc_messages`) read the same:
 *
 *   Key (email)=(ada@example.com) already exists.
 *   Schlüssel »(org_id, lower(name))=(7, x)« existiert bereits.
 */
export interface KeyDetail {
  /** Each key as PostgreSQL printed it: a column name (possibly quoted) or an expression. */
  keys: string[]
  /** The columns each key uses: the column itself, or the columns an expression appears to use. */
  keyColumns: string[][]
  /** The values, as one text: PostgreSQL joins them with `, ` and quotes nothing. */
  valuesText: string
}

const COMMA = 0x2c // ,
const EQUALS = 0x3d // =

/** How many opening parentheses to try as the start of the key list (a translation may put one before it). */
const STARTS_TRIED = 3

/**
 * Reads the key description from a DETAIL text; `undefined` when there is none (a missing DETAIL,
 * another kind of message, or text that does not have the structure). Linear in the length of the
 * text, whatever it holds; never throws.
 */
export function parseKeyDetail (detail: unknown): KeyDetail | undefined {
  if (typeof detail !== 'string') return undefined
  let start = detail.indexOf('(')
  for (let tries = 0; start !== -1 && tries < STARTS_TRIED; tries++) {
    const parsed = parseFrom(detail, start)
    if (parsed !== undefined) return parsed
    start = detail.indexOf('(', start + 1)
  }
  return undefined
}

function parseFrom (detail: string, open: number): KeyDetail | undefined {
  const keys: string[] = []
  let depth = 0
  let keyStart = open + 1
  let i = keyStart
  while (i < detail.length) {
    const c = detail.charCodeAt(i)
    if (c === QUOTE || c === APOSTROPHE) { i = skipQuoted(detail, i); continue }
    if (c === OPEN) depth++
    else if (c === CLOSE) {
      if (depth === 0) break
      depth--
    } else if (c === COMMA && depth === 0 && detail.charCodeAt(i + 1) === SPACE) {
      keys.push(detail.slice(keyStart, i))
      keyStart = i + 2
      i += 2
      continue
    }
    i++
  }
  // The key list closes with `)=(`; the values run to the last `)` of the text, since values are
  // printed raw and may hold any character, `)=(` and `) already exists. Key (` included.
  if (detail.charCodeAt(i + 1) !== EQUALS || detail.charCodeAt(i + 2) !== OPEN) return undefined
  const valuesEnd = detail.lastIndexOf(')')
  if (valuesEnd < i + 3) return undefined
  keys.push(detail.slice(keyStart, i))
  if (keys.some((key) => key.length === 0)) return undefined
  return {
    keys,
    keyColumns: keys.map(columnsOfKey),
    valuesText: detail.slice(i + 3, valuesEnd)
  }
}

function columnsOfKey (key: string): string[] {
  const name = identifierName(key)
  return name === undefined ? expressionColumns(key) : [name]
}

/**
 * Splits the values text into one value per key. PostgreSQL joins values with `, ` without
 * quoting, so a value holding `, ` makes the split ambiguous: then the answer is `undefined`,
 * unless `commaFree` says which keys' types never print `, ` (numbers, booleans, dates, uuid…),
 * which pins every other value down when at most one key may hold a comma.
 */
export function splitValues (valuesText: string, count: number, commaFree?: readonly boolean[]): string[] | undefined {
  if (count === 1) return [valuesText]
  if (count < 1) return undefined
  const parts = valuesText.split(', ')
  if (parts.length === count) return parts
  if (parts.length < count || commaFree === undefined) return undefined
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
