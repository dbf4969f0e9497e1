import type { Conflict } from './describe.js'

/** What can be said of a conflict: plugin-wide, per route, and per constraint at either level. */
export interface ConflictSettings {
  /** The response message: a text, or a function of the conflict. Default: names the fields in plain words. */
  message?: string | ((conflict: Conflict) => string)
  /** The API field(s) to report, instead of the ones derived from the columns. */
  fields?: string | string[]
  /** What of the conflict the response may show. Default: nothing beyond the fields. */
  expose?: Expose
}

export interface Expose {
  /** Show the conflicting values (`values: { email: "ada@example.com" }`). They are user data. */
  values?: boolean
  /** Show the constraint and table names. They are internal names. */
  constraint?: boolean
}

/** Settings for the constraints whose name matches, as Ecto's `unique_constraint` does. */
export interface ConstraintRule extends ConflictSettings {
  /** The name, a name's prefix or suffix (with `match`), or a pattern. */
  constraint: string | RegExp
  /** How a string `constraint` matches; default `exact`. */
  match?: 'exact' | 'prefix' | 'suffix'
}

/** A conflict's settings once every level has had its say. */
export interface ResolvedSettings {
  message: string | ((conflict: Conflict) => string) | undefined
  fields: readonly string[] | undefined
  exposeValues: boolean
  exposeConstraint: boolean
}

interface CompiledRule {
  matches: (name: string) => boolean
  settings: ConflictSettings
}

/** Constraint rules, compiled once: exact names in a map, the rest tried in order. */
export class RuleSet {
  private readonly exact = new Map<string, ConflictSettings>()
  private readonly patterns: CompiledRule[] = []

  constructor (readonly rules: readonly ConstraintRule[] = []) {
    for (const rule of rules) {
      if (typeof rule.constraint === 'string' && (rule.match ?? 'exact') === 'exact') {
        if (!this.exact.has(rule.constraint)) this.exact.set(rule.constraint, rule)
      } else {
        this.patterns.push({ matches: matcher(rule), settings: rule })
      }
    }
  }

  /** The settings of the first rule matching one of the names (tried in order), exact names first. */
  match (names: ReadonlyArray<string | undefined>): ConflictSettings | undefined {
    for (const name of names) {
      if (name === undefined) continue
      const settings = this.exact.get(name)
      if (settings !== undefined) return settings
    }
    for (const rule of this.patterns) {
      for (const name of names) if (name !== undefined && rule.matches(name)) return rule.settings
    }
    return undefined
  }
}

/** A rule's test of a constraint name. */
export function matcher ({ constraint, match }: ConstraintRule): (name: string) => boolean {
  if (constraint instanceof RegExp) {
    const pattern = new RegExp(constraint.source, constraint.flags.replace(/[gy]/g, '')) // no lastIndex state
    return (name) => pattern.test(name)
  }
  if (match === 'prefix') return (name) => name.startsWith(constraint)
  if (match === 'suffix') return (name) => name.endsWith(constraint)
  return (name) => name === constraint
}

/**
 * Merges the levels, most specific first: the route's rule for the constraint, the route's own
 * settings, the plugin's rule for the constraint, the plugin's settings.
 */
export function resolveSettings (levels: ReadonlyArray<ConflictSettings | undefined>): ResolvedSettings {
  let message: ResolvedSettings['message']
  let fields: string | string[] | undefined
  let exposeValues: boolean | undefined
  let exposeConstraint: boolean | undefined
  for (const level of levels) {
    if (level === undefined) continue
    message ??= level.message
    fields ??= level.fields
    exposeValues ??= level.expose?.values
    exposeConstraint ??= level.expose?.constraint
  }
  return {
    message,
    fields: typeof fields === 'string' ? [fields] : fields,
    exposeValues: exposeValues ?? false,
    exposeConstraint: exposeConstraint ?? false
  }
}
