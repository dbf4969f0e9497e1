/**
 * The package's `fastify-pg-conflict/express` entry point: the Express 5 error middleware, on
 * the same core as the Fastify plugin. The adapter itself is in `adapters/express.ts`. Every
 * export here is documented in docs/api.md, and test/package.test.ts holds the exact list.
 */
export { pgConflict as default, pgConflict, conflictConfig, InvalidOptionError } from './adapters/express.js'
export type {
  PgConflictExpressOptions, ConflictRouteConfig, PgConflictMiddleware, ConflictLogger,
  Conflict, AnswerParts, ConflictBody, ProblemBody, ResponseFormat,
  ConflictSettings, ConstraintRule, ErrorKinds, Expose, KindSettings, SerializationSettings, Message,
  CatalogOptions, Queryable
} from './adapters/express.js'
