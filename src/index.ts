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
export type { ConflictSettings, ConstraintRule, Expose, ErrorKinds, KindSettings, SerializationSettings, Message } from './rules.js'
export { findPgError, findUniqueViolation, findIntegrityError, integrityKind, UNIQUE_VIOLATION, INTEGRITY_KINDS, type PgErrorFields, type IntegrityKind } from './recognise.js'
export { parseKeyDetail, scanKeyDetail, valuesStartFor, keyColumnsOf, splitValues, splitValuesIn, keyValues, type KeyDetail, type KeyScan, type Dialect } from './detail.js'
export { dialectOf, isRelayedByCitus, uniqueConstraintFromMessage, withoutShardId, citusShard, type ShardNames } from './dialects.js'
export { describeConflict, describeIntegrityError, detailAgainst, type Conflict, type FieldNaming, type Found } from './describe.js'
export { readUniqueIndexes, readTableConstraints, IndexCatalog, type Queryable, type UniqueIndex, type IndexKey, type TableConstraint } from './catalog.js'
export {
  isConflictError, isIntegrityError, defaultMessage, pointerTo, CONFLICT_CODE,
  type ConflictBody, type ProblemBody, type ConflictError, type IntegrityError, type AnswerParts, type ResponseFormat, type Answer
} from './respond.js'
export { conflictResponseSchema, problemResponseSchema, errorBodySchema, problemBodySchema, type BodySchemaOptions } from './schemas.js'
export { KIND_DEFAULTS, DEFAULT_RETRY_AFTER } from './kinds.js'

/** `org_id` → `orgId`: a `fieldName` for APIs in camelCase over snake_case tables. */
export function snakeToCamel (column: string): string {
  return column.replace(/_+([a-z0-9])/g, (_, c: string) => c.toUpperCase())
}
