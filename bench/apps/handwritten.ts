/**
 * The baseline the plugin is compared with on the conflict path: what an application writes by
 * hand, a `setErrorHandler` that turns a 23505 into a 409 by regex-parsing DETAIL into `{ fields }`.
 * Minimal on purpose: English DETAIL only, no catalog, wrong on expressions and quoted names.
 */
import type { FastifyError, FastifyInstance } from 'fastify'

const KEY = /Key \((.+)\)=\((.*)\) already exists\./

export function useHandwrittenHandler (app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError & { detail?: string }, _request, reply) => {
    if (error.code === '23505') {
      const match = KEY.exec(error.detail ?? '')
      const fields = match === null ? [] : (match[1] as string).split(', ')
      return reply.code(409).send({ statusCode: 409, error: 'Conflict', message: 'This record already exists.', fields })
    }
    return reply.send(error)
  })
}
