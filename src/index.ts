import { fastifyPgConflict } from './plugin.js'

export default fastifyPgConflict
export { fastifyPgConflict }
export type { PgConflictDecorator } from './plugin.js'
export type { FastifyPgConflictOptions, RouteConflictConfig, CatalogOptions } from './options.js'
export { InvalidOptionError } from './errors.js'
export type { RouteRetryOptions } from './options.js'
export type { OnConflict } from './handler-retry.js'
export type { RetryOptions } from './retry.js'
export { ConflictCounters, type ConflictCount } from './counters.js'
export {
  sequenceOf, checkSequence, repairSequence, resetSequences,
  type SequenceTarget, type SequenceKind, type ColumnSequence, type SequenceCheck,
  type SequenceRepair, type SequenceReset, type RepairOptions, type ResetOptions
} from './sequences.js'
export {
  withTransaction, RolledBackError, FailedTransactionError,
  type TransactionOptions, type TransactionClient, type PooledTransactionClient,
  type TransactionPool, type SimpleTransactionPool, type IsolationLevel
} from './transaction.js'
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
