/**
 * The package's main entry point, `fastify-pg-conflict`: the Fastify plugin and what its users
 * call beside it. Every export here is documented in docs/api.md, and test/package.test.ts holds
 * the exact list: an export is a promise to users, so a new one is a deliberate choice.
 */
import { fastifyPgConflict } from './adapters/fastify.js'

export default fastifyPgConflict
export { fastifyPgConflict }
export type { PgConflictDecorator } from './adapters/fastify.js'
export type { FastifyPgConflictOptions, RouteConflictConfig, CatalogOptions, RouteRetryOptions, UnknownConstraints } from './engine/options.js'
export type { ReplayOptions } from './engine/replay.js'
export type { FieldLocation, FieldLocations, FieldPlace, FieldProblem } from './core/locations.js'
export type { ConflictSettings, ConstraintRule, Expose, ErrorKinds, KindSettings, SerializationSettings, Message } from './core/rules.js'
export type { Queryable } from './catalog/catalog.js'

// Errors and how they are answered.
export { InvalidOptionError } from './util/errors.js'
export { findPgError, type PgErrorFields, type IntegrityKind } from './core/recognise.js'
export type { Conflict } from './core/describe.js'
export {
  isConflictError, isIntegrityError,
  type ConflictBody, type ProblemBody, type ConflictError, type IntegrityError, type AnswerParts, type ResponseFormat
} from './core/respond.js'
export { conflictResponseSchema, problemResponseSchema, errorBodySchema, problemBodySchema, type BodySchemaOptions } from './core/schemas.js'

// Connections: a conflict through pool.query() keeps its connection; Bun.SQL (or postgres.js) as the plugin's pool.
export { keepConnections } from './connections/pool.js'
export { sqlPool, type UnsafeSql } from './adapters/sql-pool.js'

// Races: route retries, onConflict hooks, withTransaction.
export type { OnConflict } from './races/route-retry.js'
export type { RetryOptions } from './races/retry.js'
export { ConflictCounters, type ConflictCount, type RetryCounting, type RetriedKind } from './races/counters.js'
export {
  withTransaction, RolledBackError, FailedTransactionError,
  type TransactionOptions, type TransactionClient, type PooledTransactionClient, type QueryClient, type QueryResultLike,
  type TransactionPool, type SimpleTransactionPool, type IsolationLevel
} from './races/transaction.js'

// Id sequences behind their table.
export {
  checkSequence, repairSequence, resetSequences,
  type SequenceTarget, type SequenceKind, type ColumnSequence, type SequenceCheck,
  type SequenceRepair, type SequenceReset, type RepairOptions, type ResetOptions
} from './sequences/sequences.js'

// Field names: `fieldName`s for the common cases.
export { prismaFieldNames } from './core/prisma-fields.js'

/** `org_id` → `orgId`: a `fieldName` for APIs in camelCase over snake_case tables. */
export function snakeToCamel (column: string): string {
  return column.replace(/_+([a-z0-9])/g, (_, c: string) => c.toUpperCase())
}
