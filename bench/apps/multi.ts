/**
 * All conflicts (scenario 8): a sign-up whose email and user name are both taken, answered by the
 * plugin with `allConflicts` on the route ("on": one more read-only query names both fields) or
 * without it ("off": the violated key alone), on a checked-out client; and a sign-up that succeeds
 * (fresh values per request), on a route with the option and without: the option must cost the
 * success path nothing.
 */
import Fastify from 'fastify'
import fastifyPgConflict, { snakeToCamel } from '../../src/index.js'
import type { AppContext, BenchApp } from './index.js'

/** The body every conflicting request sends: both values are the row's that `signups` holds. */
export const TAKEN = { email: 'taken@example.com', userName: 'taken' }

export async function multiApp ({ pool }: AppContext, allConflicts: boolean): Promise<BenchApp> {
  const app = Fastify({ logger: false })
  await app.register(fastifyPgConflict, { pool, fieldName: snakeToCamel })
  let n = 0
  const tag = `${process.pid}-${Date.now()}`
  const config = { conflict: { allConflicts } }

  app.post<{ Body: { email: string, userName: string } }>('/signup', { config }, async (request) => {
    const client = await pool.connect()
    try {
      return (await client.query('INSERT INTO signups (email, user_name) VALUES ($1, $2) RETURNING id', [request.body.email, request.body.userName])).rows[0]
    } finally {
      client.release()
    }
  })

  app.post<{ Body: { email: string, userName: string } }>('/signup-fresh', { config }, async (_request, reply) => {
    const fresh = `${tag}-${n++}`
    const { rows } = await pool.query('INSERT INTO signups (email, user_name) VALUES ($1, $2) RETURNING id', [`${fresh}@example.com`, fresh])
    return reply.code(201).send(rows[0])
  })
  return app
}
