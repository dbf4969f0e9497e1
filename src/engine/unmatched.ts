import type { ConstraintRule } from '../core/rules.js'
import { InvalidOptionError } from '../util/errors.js'
import { nearest } from '../util/nearest.js'
import { MAX_IDENTIFIER_BYTES, type UnknownConstraints } from './options.js'

/**
 * What is said of a configured constraint that no index or constraint in the database answers to
 * (a typo, a renamed constraint, a name PostgreSQL cut): the rule as written, quoted so that a
 * stray space shows, and the nearest names the catalog has.
 */

export type { UnknownConstraints }

/** The message for one rule that matches none of `names` (the catalog's); `where` names its level (`route /x: `, or `` plugin-wide). */
export function unmatchedMessage (rule: ConstraintRule, where: string, names: readonly string[]): string {
  const suggestions = suggestionsFor(rule, names)
  const meant = suggestions.length === 0 ? '' : `; did you mean ${orList(suggestions.map((name) => JSON.stringify(name)))}?`
  return `fastify-pg-conflict: ${where}the configured constraint ${shown(rule)} matches no unique index or constraint in the database${meant}`
}

/** The error that refuses start-up with `unknownConstraints: 'error'`, naming every such rule. */
export function unknownConstraintsError (messages: readonly string[]): Error {
  const count = messages.length === 1 ? 'a configured constraint matches' : `${messages.length} configured constraints match`
  return new InvalidOptionError(`unknownConstraints is 'error' and ${count} nothing in the database:\n${messages.map((message) => `  ${message.replace(/^fastify-pg-conflict: /, '')}`).join('\n')}`)
}

function shown ({ constraint, match }: ConstraintRule): string {
  if (constraint instanceof RegExp) return `pattern ${String(constraint)}`
  const quoted = JSON.stringify(constraint)
  return match === 'prefix' || match === 'suffix' ? `${match} ${quoted}` : quoted
}

/** The catalog's names nearest to the rule's: whole names for a name, names' starts or ends for a prefix or suffix; none for a pattern. */
function suggestionsFor ({ constraint, match }: ConstraintRule, names: readonly string[]): string[] {
  if (constraint instanceof RegExp) return []
  if (match === 'prefix') return nearest(constraint, names.map((name) => name.slice(0, constraint.length)))
  if (match === 'suffix') return nearest(constraint, names.map((name) => name.slice(-constraint.length)))
  // A name longer than PostgreSQL keeps: the name it was cut to, when the catalog has it.
  const cut = cutName(constraint)
  const near = nearest(constraint, names)
  return cut !== constraint && names.includes(cut) ? [cut, ...near.filter((name) => name !== cut)] : near
}

/** A name as PostgreSQL stores it: cut to 63 bytes, at a character's boundary. */
export function cutName (name: string): string {
  let bytes = 0
  let cut = ''
  for (const character of name) {
    bytes += Buffer.byteLength(character)
    if (bytes > MAX_IDENTIFIER_BYTES) return cut
    cut += character
  }
  return cut
}

function orList (items: readonly string[]): string {
  return items.length === 1 ? items[0] as string : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1] as string}`
}
