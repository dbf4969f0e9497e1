/**
 * The package's `fastify-pg-conflict/express` entry point: the Express 5 error middleware, on
 * the same core as the Fastify plugin. The adapter itself is in `adapters/express.ts`.
 */
export * from './adapters/express.js'
