import createError from '@fastify/error'

/** A wrong option, refused at registration (or when a route is added). */
export const InvalidOptionError = createError<[string]>('PG_CONFLICT_INVALID_OPTION', 'fastify-pg-conflict: %s', 500, TypeError)
