import createError from '@fastify/error'

/** A wrong option, refused at registration (or when a route is added). */
export const InvalidOptionError = createError<[string]>('PG_CONFLICT_INVALID_OPTION', 'fastify-pg-conflict: %s', 500, TypeError)

/**
 * A unique violation that is the server's fault: the id sequence of the key's column is behind the
 * table, so every insert taking the default id collides. Answered 500, never 409.
 */
export const SequenceBehindError = createError<[string, { cause: unknown }]>('PG_SEQUENCE_BEHIND', 'fastify-pg-conflict: %s', 500)
