/**
 * Success path: a route with no database and a route doing a successful INSERT (a fresh value per
 * request), with the plugin registered ("plugin") or not ("bare"). Nothing else differs.
 */
import Fastify from 'fastify'
import fastifyPgConflict from '../../src/index.js'
import type { AppContext, BenchApp } from './index.js'

export async function successApp ({ pool }: AppContext, withPlugin: boolean): Promise<BenchApp> {
  const app = Fastify({ logger: false })
  if (withPlugin) await app.register(fastifyPgConflict, { pool })
  let n = 0
  const tag = `${process.pid}-${Date.now()}`

  app.get('/ping', async () => ({ ok: true }))

  app.post('/items', async (_request, reply) => {
    const { rows } = await pool.query('INSERT INTO items (email) VALUES ($1) RETURNING id', [`${tag}-${n++}@example.com`])
    return reply.code(201).send(rows[0])
  })
  return app
}
