import type { FieldLocations, FieldPlace } from '../core/locations.js'

/**
 * The values a request supplied for table columns: the field mapping (`fieldName`, then
 * `fieldLocations`) read backwards. Used to check a table's other unique keys after a conflict
 * (docs/all-conflicts.md); nothing here queries or writes.
 */

/** The parts of a request that hold field values: the parsed body and the route's path parameters. */
export interface SuppliedSources {
  /** The parsed body; only a plain object (not an array, not a string) holds fields. */
  body: unknown
  /** The path parameters by name (Fastify's `request.params`), or `undefined` when not known. */
  params: unknown
}

/** How columns map to where the request carries them. */
export interface SuppliedMapping {
  /** Column name to API field name (the configured `fieldName`; the identity when there is none). */
  fieldName: (column: string) => string
  /** Where fields are (`{ orgId: 'path' }`); a field not listed is a path parameter when `routeParameters` has it, else a body member. */
  fieldLocations?: FieldLocations | undefined
  /** The names of the route's path parameters, from its definition. */
  routeParameters?: readonly string[] | undefined
}

/**
 * The value the request supplied for each of `columns`, by column: the body member or path
 * parameter of the column's field, where `fieldLocations` (or the route's parameters) put it, as
 * the Problem Details `errors` do. A column is in the result only when the request carries its
 * field as an own property: `null` is a value supplied, `undefined` or an absent member is not.
 * Fields located in the query string or a header are not read (never supplied). Values are as
 * the request had them, unconverted; never logged here.
 */
export function suppliedValues (columns: Iterable<string>, sources: SuppliedSources, mapping: SuppliedMapping): Map<string, unknown> {
  const supplied = new Map<string, unknown>()
  const { body, params } = sources
  for (const column of columns) {
    const field = mapping.fieldName(column)
    const { location, name } = placeOf(field, mapping)
    const holder = location === 'body' ? body : location === 'path' ? params : undefined
    if (!isRecord(holder) || !Object.hasOwn(holder, name)) continue
    const value = holder[name]
    if (value !== undefined) supplied.set(column, value)
  }
  return supplied
}

function placeOf (field: string, { fieldLocations, routeParameters }: SuppliedMapping): { location: string, name: string } {
  const place: FieldPlace | undefined = fieldLocations !== undefined && Object.hasOwn(fieldLocations, field) ? fieldLocations[field] : undefined
  if (place === undefined) return { location: routeParameters?.includes(field) === true ? 'path' : 'body', name: field }
  if (typeof place === 'string') return { location: place, name: field }
  return { location: place.in, name: place.name ?? field }
}

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
