/**
 * What a constraint's comment says of its answer (docs/comments.md): tag lines in the comment a
 * DBA wrote with `COMMENT ON CONSTRAINT … IS '…'` (or `COMMENT ON INDEX`), read with the catalog,
 * parsed here once per read, never per error.
 *
 *   @message An account with this email exists already.
 *   @fields email
 *
 * A comment is data, not code: whatever it holds, parsing ends with settings or nothing, and what
 * is wrong with a tag of ours is said (once, by the engine) rather than thrown. Every other line,
 * free text and other tools' tags (PostGraphile's `@name`, `@omit`…) is left alone.
 */

/** What a comment says: `undefined` where it says nothing (the configuration or the kind's default answers). */
export interface CommentSettings {
  /** `@message` (or `@error`, the tag of PostGraphile's constraint-error-tags). */
  readonly message: string | undefined
  /** `@fields a, b` (or `@field a`): the API fields, in the order of the constraint's columns. */
  readonly fields: readonly string[] | undefined
  /** What was wrong with a tag of ours, each tag ignored: said once when the catalog is read. */
  readonly problems: readonly string[]
}

/** How much of a comment is read (the catalog query cuts it there): the tags belong at its start. */
export const MAX_COMMENT_LENGTH = 8192
/** The longest `@message`: a sentence or two for a client, not a document. */
export const MAX_MESSAGE_LENGTH = 500
/** As many fields as an index may have keys (PostgreSQL's INDEX_MAX_KEYS). */
export const MAX_FIELDS = 32
/**
 * An API field name: a letter, `_` or `$`, then letters, digits, `_`, `$`, `-` or `.`; at most 63
 * characters (PostgreSQL's identifiers). What a JSON member or a parameter is named; nothing that
 * could read as markup, a path or a header.
 */
export const FIELD_NAME = /^[\p{L}_$][\p{L}\p{N}_$.-]{0,62}$/u

/** A line that starts (after blanks) with `@`: in SQL, for the catalog query to skip other comments; in JS, for the parser. */
export const TAG_LINE_SQL = '(^|\\n)[[:blank:]]*@'

/**
 * `@name text`, the text trimmed after the match (a lazy match before trailing blanks would
 * backtrack quadratically on a long line of them); `s`: a CR (a CRLF comment) or U+2028 is text.
 */
const TAG = /^[ \t]*@([A-Za-z][A-Za-z0-9_-]*)(?:[ \t\r]+(.*))?$/s

/** The settings in a comment; `undefined` when it has no tag of ours (nor a problem with one). */
export function parseComment (text: string | null | undefined): CommentSettings | undefined {
  if (typeof text !== 'string') return undefined
  const problems: string[] = []
  if (text.length > MAX_COMMENT_LENGTH) {
    // The last line may have been cut in the middle: only whole lines are read.
    text = text.slice(0, Math.max(0, text.lastIndexOf('\n', MAX_COMMENT_LENGTH)))
    problems.push(`the comment is longer than ${MAX_COMMENT_LENGTH} characters: only the lines within them are read`)
  }
  let message: string | undefined
  let fields: string[] | undefined
  const seen = new Set<string>()
  for (const line of text.split('\n')) {
    const tag = TAG.exec(line)
    if (tag === null) continue
    const name = tag[1] as string
    const value = (tag[2] ?? '').trim()
    const which = name === 'message' || name === 'error' ? 'message' : name === 'fields' || name === 'field' ? 'fields' : undefined
    if (which === undefined) continue // another tool's tag, or free text that starts with @
    if (seen.has(which)) {
      problems.push(`@${name} is given more than once: only the first counts`)
      continue
    }
    seen.add(which)
    if (which === 'message') {
      if (value === '') problems.push(`@${name} has no text: ignored`)
      else if (value.length > MAX_MESSAGE_LENGTH) problems.push(`@${name} is longer than ${MAX_MESSAGE_LENGTH} characters: ignored`)
      else message = value
      continue
    }
    const names = value.split(',').map((field) => field.trim())
    const bad = names.find((field) => !FIELD_NAME.test(field))
    if (bad !== undefined) problems.push(`@${name} ${bad === '' ? 'has an empty field name' : `has ${JSON.stringify(bad.slice(0, 80))}, which is not a field name (a letter, _ or $, then letters, digits, _, $, - or .; at most 63)`}: ignored`)
    else if (names.length > MAX_FIELDS) problems.push(`@${name} names more than ${MAX_FIELDS} fields: ignored`)
    else fields = names
  }
  if (message === undefined && fields === undefined && problems.length === 0) return undefined
  return Object.freeze({ message, fields: fields === undefined ? undefined : Object.freeze(fields), problems: Object.freeze(problems) })
}
