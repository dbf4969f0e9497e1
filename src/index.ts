import { fastifyPgConflict } from './plugin.js'

export default fastifyPgConflict
export { fastifyPgConflict }
export type { PgConflictDecorator } from './plugin.js'
export type { FastifyPgConflictOptions, RouteConflictConfig, CatalogOptions } from './options.js'
export { InvalidOptionError } from './options.js'
export type { ConflictSettings, ConstraintRule, Expose } from './rules.js'
export { findPgError, findUniqueViolation, UNIQUE_VIOLATION, type PgErrorFields } from './recognise.js'
export { parseKeyDetail, splitValues, type KeyDetail } from './detail.js'
export { describeConflict, type Conflict, type FieldNaming } from './describe.js'
export { readUniqueIndexes, IndexCatalog, type Queryable, type UniqueIndex, type IndexKey } from './catalog.js'
export {
  conflictResponseSchema, conflictError, isConflictError, defaultMessage, CONFLICT_CODE,
  type ConflictBody, type ConflictError
} from './respond.js'

/** `org_id` → `orgId`: a `fieldName` for APIs in camelCase over snake_case tables. */
export function snakeToCamel (column: string): string {
  return column.replace(/_+([a-z0-9])/g, (_, c: string) => c.toUpperCase())
}
