import createError, { type FastifyErrorConstructor } from '@fastify/error'

// The constructors' types are written out: inferred, the declarations would spell them
// `createError.FastifyErrorConstructor`, a namespace that `moduleResolution: "bundler"` does not
// see through the default import (the errors would then be `any` to a consumer).

/** A wrong option, refused at registration (or when a route is added). */
export const InvalidOptionError: FastifyErrorConstructor<{ code: string }, [string]> = createError<[string]>('PG_CONFLICT_INVALID_OPTION', 'fastify-pg-conflict: %s', 500, TypeError)

/**
 * A unique violation that is the server's fault: the id sequence of the key's column is behind the
 * table, so every insert taking the default id collides. Answered 500, never 409.
 */
export const SequenceBehindError: FastifyErrorConstructor<{ code: string }, [string, { cause: unknown }]> = createError<[string, { cause: unknown }]>('PG_SEQUENCE_BEHIND', 'fastify-pg-conflict: %s', 500)
