/**
 * The package's `fastify-pg-conflict/mercurius` entry point: integrity errors in mercurius
 * resolvers as GraphQL errors, answered by the Fastify plugin's engine. The adapter itself is in
 * `adapters/mercurius.ts`; it loads neither mercurius nor graphql. Every export here is
 * documented in docs/api.md, and test/package.test.ts holds the exact list.
 */
export { pgConflictMercurius as default, pgConflictMercurius } from './adapters/mercurius.js'
export type { ConflictExtensions, PgConflictMercuriusOptions } from './adapters/mercurius.js'
