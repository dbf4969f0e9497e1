import { fastifyPgConflict } from './adapters/fastify.js'

export default fastifyPgConflict
export { fastifyPgConflict }
export type { PgConflictDecorator } from './adapters/fastify.js'
export type { FastifyPgConflictOptions, RouteConflictConfig, CatalogOptions } from './engine/options.js'
export { InvalidOptionError } from './util/errors.js'
export { keepConnections } from './connections/pool.js'
export type { RouteRetryOptions } from './engine/options.js'
export type { OnConflict } from './races/route-retry.js'
export type { RetryOptions } from './races/retry.js'
export { ConflictCounters, type ConflictCount } from './races/counters.js'
export {
  sequenceOf, checkSequence, repairSequence, resetSequences,
  type SequenceTarget, type SequenceKind, type ColumnSequence, type SequenceCheck,
  type SequenceRepair, type SequenceReset, type RepairOptions, type ResetOptions
} from './sequences/sequences.js'
export {
  withTransaction, RolledBackError, FailedTransactionError,
  type TransactionOptions, type TransactionClient, type PooledTransactionClient,
  type TransactionPool, type SimpleTransactionPool, type IsolationLevel
} from './races/transaction.js'
export type { ConflictSettings, ConstraintRule, Expose, ErrorKinds, KindSettings, SerializationSettings, Message } from './core/rules.js'
export { findPgError, findUniqueViolation, findIntegrityError, integrityKind, uniqueConstraintFromMessage, UNIQUE_VIOLATION, INTEGRITY_KINDS, type PgErrorFields, type IntegrityKind } from './core/recognise.js'
export { parseKeyDetail, scanKeyDetail, valuesStartFor, keyColumnsOf, splitValues, splitValuesIn, keyValues, type KeyDetail, type KeyScan, type Dialect } from './core/detail.js'
export { dialectOf, isRelayedByCitus, withoutShardId, citusShard, type ShardNames } from './core/dialects.js'
export { describeConflict, describeIntegrityError, detailAgainst, type Conflict, type FieldNaming, type Found } from './core/describe.js'
export { readUniqueIndexes, readTableConstraints, IndexCatalog, type Queryable, type UniqueIndex, type IndexKey, type TableConstraint } from './catalog/catalog.js'
export {
  isConflictError, isIntegrityError, defaultMessage, pointerTo, CONFLICT_CODE,
  type ConflictBody, type ProblemBody, type ConflictError, type IntegrityError, type AnswerParts, type ResponseFormat, type Answer
} from './core/respond.js'
export { conflictResponseSchema, problemResponseSchema, errorBodySchema, problemBodySchema, type BodySchemaOptions } from './core/schemas.js'
export { KIND_DEFAULTS, DEFAULT_RETRY_AFTER } from './core/kinds.js'

/** `org_id` → `orgId`: a `fieldName` for APIs in camelCase over snake_case tables. */
export function snakeToCamel (column: string): string {
  return column.replace(/_+([a-z0-9])/g, (_, c: string) => c.toUpperCase())
}
