/**
 * Where in the request each API field came from, for Problem Details' `errors`: a member of the
 * body gets a JSON Pointer into the body (`"pointer": "#/email"`, as RFC 9457 §3's example has
 * it); a path or query parameter or a header, which has no place in the body, is named instead, as
 * OpenAPI names a parameter (`"parameter": "orgId", "in": "path"`).
 */

/** Where a field is in the request. */
export type FieldLocation = 'body' | 'path' | 'query' | 'header'

/** A field's place: its location, or its location and the name it has there (a header's, say). */
export type FieldPlace = FieldLocation | { in: FieldLocation, name?: string }

/** Where fields are, by API field name; a field not listed is a body member (or a path parameter of the route of that name). */
export type FieldLocations = Record<string, FieldPlace>

export const FIELD_LOCATIONS: readonly FieldLocation[] = ['body', 'path', 'query', 'header']

/** One entry of Problem Details' `errors`: `pointer` for a body member, `parameter` and `in` otherwise. */
export interface FieldProblem {
  detail: string
  pointer?: string
  parameter?: string
  in?: Exclude<FieldLocation, 'body'>
  field: string
}

/**
 * The fields' places, the most specific level last: each level's entries over the ones before
 * (so a route's `orgId` over the plugin's, and the plugin's `tenantId` kept). `undefined` when no
 * level says anything.
 */
export function mergeLocations (levels: ReadonlyArray<FieldLocations | undefined>): FieldLocations | undefined {
  let merged: FieldLocations | undefined
  for (const level of levels) {
    if (level === undefined) continue
    merged = merged === undefined ? level : { ...merged, ...level }
  }
  return merged
}

/**
 * The names of a route path's parameters (`/orgs/:orgId/projects` → `orgId`), as Fastify
 * (find-my-way) and Express (path-to-regexp 8) write them: `:name`, `:name(regex)`, `:name?`,
 * Express's `:"quoted name"` and `*splat`. `::` is a literal colon.
 */
export function pathParameters (path: string): string[] {
  const names: string[] = []
  const pattern = /::|[:*](?:"((?:[^"\\]|\\.)+)"|([A-Za-z_$][\w$]*))/g
  for (const match of path.matchAll(pattern)) {
    const name = match[1]?.replace(/\\(.)/g, '$1') ?? match[2]
    if (name !== undefined) names.push(name)
  }
  return names
}

/** A field's JSON Pointer into the request body, as a URI fragment (`#/email`), as RFC 9457's own example has it. */
export function pointerTo (field: string): string {
  return `#/${encodeURIComponent(field.replace(/~/g, '~0').replace(/\//g, '~1'))}`
}

/**
 * The `errors` entry of one field: where `locations` puts it, else in the path when the route has
 * a parameter of that name (the route's definition says so, not the request), else in the body.
 */
export function fieldProblem (field: string, detail: string, locations: FieldLocations | undefined, routeParameters: readonly string[]): FieldProblem {
  const place = locations !== undefined && Object.hasOwn(locations, field) ? locations[field] as FieldPlace : undefined
  const location = place === undefined ? (routeParameters.includes(field) ? 'path' : 'body') : typeof place === 'string' ? place : place.in
  const name = (typeof place === 'object' ? place.name : undefined) ?? field
  if (location === 'body') return { detail, pointer: pointerTo(name), field }
  return { detail, parameter: name, in: location, field }
}
