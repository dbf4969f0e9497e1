/**
 * Races: the check-then-insert handler of the README, on one key from many requests at once,
 * with the plugin's route retry ("/race/retry") and without ("/race/plain"). Same app, same pool.
 */
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import fastifyPgConflict from '../../src/index.js'
import type { AppContext, BenchApp } from './index.js'

export async function racesApp ({ pool }: AppContext): Promise<BenchApp> {
  const app = Fastify({ logger: false })
  await app.register(fastifyPgConflict, { pool })

  const checkThenInsert = async (request: FastifyRequest<{ Body: { email: string } }>, reply: FastifyReply): Promise<unknown> => {
    const client = await pool.connect()
    try {
      const found = await client.query('SELECT id, email FROM accounts WHERE email = $1', [request.body.email])
      if (found.rows.length > 0) return found.rows[0]
      const { rows } = await client.query('INSERT INTO accounts (email) VALUES ($1) RETURNING id, email', [request.body.email])
      return reply.code(201).send(rows[0])
    } finally {
      client.release()
    }
  }

  app.get('/ping', async () => ({ ok: true }))
  app.post('/race/plain', checkThenInsert)
  app.post('/race/retry', { config: { conflict: { retry: { constraints: ['accounts_email_key'] } } } }, checkThenInsert)
  return app
}
