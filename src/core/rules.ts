import type { CommentSettings } from './comments.js'
import type { Conflict } from './describe.js'
import { DEFAULT_RETRY_AFTER, KIND_DEFAULTS } from './kinds.js'
import { mergeLocations, type FieldLocations } from './locations.js'
import type { IntegrityKind } from './recognise.js'

/** A response message: a text, or a function of the described error. */
export type Message = string | ((conflict: Conflict) => string)

/** What can be said of an error: plugin-wide, per route, and per constraint at either level. */
export interface ConflictSettings {
  /** The message of a unique violation's answer (`errors.<kind>.message` for the other kinds). Default: names the fields in plain words. */
  message?: Message
  /** The API field(s) a unique violation reports, instead of the ones derived from the columns. */
  fields?: string | string[]
  /** What of an error the response may show. Default: nothing beyond the fields. */
  expose?: Expose
  /**
   * Where fields are in the request, for Problem Details: `{ orgId: 'path', tenant: { in: 'header', name: 'x-tenant' } }`.
   * Default: a path parameter of the route of the field's name, else a body member. Merged field by field across levels.
   */
  fieldLocations?: FieldLocations
  /**
   * After a unique violation, check the table's other unique keys against the values the request
   * supplied (one read-only query) and answer every conflicting field. Default false. See docs/all-conflicts.md.
   */
  allConflicts?: boolean
}

export interface Expose {
  /** Show a unique violation's conflicting values (`values: { email: "ada@example.com" }`). They are user data. */
  values?: boolean
  /** Show the constraint and table names. They are internal names. */
  constraint?: boolean
}

/** Settings for the constraints whose name matches, as Ecto's `unique_constraint` does; for any kind of error. */
export interface ConstraintRule extends ConflictSettings {
  /** The name, a name's prefix or suffix (with `match`), or a pattern. */
  constraint: string | RegExp
  /** How a string `constraint` matches; default `exact`. */
  match?: 'exact' | 'prefix' | 'suffix'
  /** The response status for this constraint's errors. */
  status?: number
  /** The Problem Details `type` URI for this constraint's errors. */
  type?: string
}

/** How one kind of integrity error is answered. */
export interface KindSettings {
  /** The response status (400 to 599). */
  status?: number
  message?: Message
  /** The Problem Details `type` URI. Default `about:blank`. */
  type?: string
}

export interface SerializationSettings extends KindSettings {
  /** Seconds in the `Retry-After` header. Default 1. */
  retryAfter?: number
}

/** Each kind answered (`true`, or settings), or left alone exactly as without this library (`false`). Default: all answered. */
export interface ErrorKinds {
  unique?: boolean | KindSettings
  exclusion?: boolean | KindSettings
  foreignKey?: boolean | KindSettings
  referenced?: boolean | KindSettings
  notNull?: boolean | KindSettings
  check?: boolean | KindSettings
  serialization?: boolean | SerializationSettings
  cardinality?: boolean | KindSettings
}

/** An error's settings once every level has had its say. */
export interface ResolvedSettings {
  kind: IntegrityKind
  status: number
  code: string
  message: Message | undefined
  fields: readonly string[] | undefined
  exposeValues: boolean
  exposeConstraint: boolean
  /** The Problem Details `type`. */
  type: string
  /** `Retry-After` seconds, for the kinds answered 503. */
  retryAfter: number | undefined
  /** Where the fields are in the request, every level's say merged; `undefined` when none says anything. */
  fieldLocations: FieldLocations | undefined
  /** Whether a unique violation's table's other unique keys are checked (unique violations only). */
  allConflicts: boolean
}

/** The settings of one level as given: the plugin's (or middleware's) options, or a route's. */
export interface LevelOptions extends ConflictSettings {
  constraints?: ConstraintRule[]
  fieldName?: (column: string, table?: string) => string
  errors?: ErrorKinds
}

/** One level of settings, compiled: the plugin's, or a route's (or an Express router's). */
export interface Level {
  rules: RuleSet
  settings: ConflictSettings
  errors: ErrorKinds
  fieldName: ((column: string, table?: string) => string) | undefined
}

/** Compiles a level's settings (its rules into a `RuleSet`). */
export function compileLevel ({ constraints = [], fieldName, errors = {}, message, fields, expose, fieldLocations, allConflicts }: LevelOptions): Level {
  return { rules: new RuleSet(constraints), settings: { message, fields, expose, fieldLocations, allConflicts }, errors, fieldName }
}

interface CompiledRule {
  matches: (name: string) => boolean
  rule: ConstraintRule
}

/** Constraint rules, compiled once: exact names in a map, the rest tried in order. */
export class RuleSet {
  private readonly exact = new Map<string, ConstraintRule>()
  private readonly patterns: CompiledRule[] = []

  constructor (readonly rules: readonly ConstraintRule[] = []) {
    for (const rule of rules) {
      if (typeof rule.constraint === 'string' && (rule.match ?? 'exact') === 'exact') {
        if (!this.exact.has(rule.constraint)) this.exact.set(rule.constraint, rule)
      } else {
        this.patterns.push({ matches: matcher(rule), rule })
      }
    }
  }

  /** The first rule matching one of the names (tried in order), exact names first. */
  match (names: ReadonlyArray<string | undefined>): ConstraintRule | undefined {
    if (this.rules.length === 0) return undefined
    for (const name of names) {
      if (name === undefined) continue
      const rule = this.exact.get(name)
      if (rule !== undefined) return rule
    }
    for (const { matches, rule } of this.patterns) {
      for (const name of names) if (name !== undefined && matches(name)) return rule
    }
    return undefined
  }
}

/** A rule's test of a constraint name. */
export function matcher ({ constraint, match }: Pick<ConstraintRule, 'constraint' | 'match'>): (name: string) => boolean {
  if (constraint instanceof RegExp) {
    const pattern = new RegExp(constraint.source, constraint.flags.replace(/[gy]/g, '')) // no lastIndex state
    return (name) => pattern.test(name)
  }
  if (match === 'prefix') return (name) => name.startsWith(constraint)
  if (match === 'suffix') return (name) => name.endsWith(constraint)
  return (name) => name === constraint
}

/** Whether errors of `kind` are answered: the route's word first, then the plugin's; on by default. */
export function answers (kind: IntegrityKind, route: Level | undefined, plugin: Level): boolean {
  return (route?.errors[kind] ?? plugin.errors[kind]) !== false
}

function kindSettings (level: Level | undefined, kind: IntegrityKind): SerializationSettings | undefined {
  const settings = level?.errors[kind]
  return typeof settings === 'object' ? settings : undefined
}

/**
 * Merges the levels, most specific first: the route's rule for the constraint, the route's settings
 * for the kind, the route's own settings, then the same three of the plugin's, then what the
 * constraint's `comment` in the database says (its `message` and `fields`: the configuration is
 * the application's own word and wins). The top-level `message` and `fields` are a unique
 * violation's; `expose` and `fieldLocations` (merged field by field) hold for every kind.
 */
export function resolveSettings (kind: IntegrityKind, names: ReadonlyArray<string | undefined>, route: Level | undefined, plugin: Level, comment?: CommentSettings): ResolvedSettings {
  const routeRule = route?.rules.match(names)
  const pluginRule = plugin.rules.match(names)
  const routeKind = kindSettings(route, kind)
  const pluginKind = kindSettings(plugin, kind)
  const unique = kind === 'unique'
  const routeOwn = route?.settings
  const pluginOwn = plugin.settings
  const defaults = KIND_DEFAULTS[kind]
  const fields = routeRule?.fields ?? (unique ? routeOwn?.fields : undefined) ?? pluginRule?.fields ?? (unique ? pluginOwn.fields : undefined) ?? comment?.fields
  return {
    kind,
    status: routeRule?.status ?? routeKind?.status ?? pluginRule?.status ?? pluginKind?.status ?? defaults.status,
    code: defaults.code,
    message: routeRule?.message ?? routeKind?.message ?? (unique ? routeOwn?.message : undefined) ??
      pluginRule?.message ?? pluginKind?.message ?? (unique ? pluginOwn.message : undefined) ?? comment?.message,
    fields: typeof fields === 'string' ? [fields] : fields,
    exposeValues: routeRule?.expose?.values ?? routeOwn?.expose?.values ?? pluginRule?.expose?.values ?? pluginOwn.expose?.values ?? false,
    exposeConstraint: routeRule?.expose?.constraint ?? routeOwn?.expose?.constraint ?? pluginRule?.expose?.constraint ?? pluginOwn.expose?.constraint ?? false,
    type: routeRule?.type ?? routeKind?.type ?? pluginRule?.type ?? pluginKind?.type ?? 'about:blank',
    retryAfter: kind === 'serialization' ? routeKind?.retryAfter ?? pluginKind?.retryAfter ?? DEFAULT_RETRY_AFTER : undefined,
    fieldLocations: mergeLocations([pluginOwn.fieldLocations, pluginRule?.fieldLocations, routeOwn?.fieldLocations, routeRule?.fieldLocations]),
    allConflicts: unique && (routeRule?.allConflicts ?? routeOwn?.allConflicts ?? pluginRule?.allConflicts ?? pluginOwn.allConflicts ?? false)
  }
}
