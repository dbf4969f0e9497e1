/**
 * pool.query(): the plain handler, one `pool.query()` per request, with no client checked out.
 * "plugin": the plugin registered with the pool (keepConnections, its default: a conflict keeps
 * its connection); "off": the same with `keepConnections: false` (pg-pool's own behaviour: every
 * error closes the connection); "handwritten": no plugin, the hand-written error handler.
 * Routes: `POST /conflict` (the conflicting INSERT) and `POST /items` (an INSERT that succeeds).
 */
import Fastify from 'fastify'
import fastifyPgConflict from '../../src/index.js'
import { CONFLICTING_INSERT } from '../lib/db.js'
import { useHandwrittenHandler } from './handwritten.js'
import type { AppContext, BenchApp } from './index.js'

export async function poolQueryApp ({ pool }: AppContext, answer: 'plugin' | 'off' | 'handwritten'): Promise<BenchApp> {
  const app = Fastify({ logger: false })
  if (answer === 'handwritten') useHandwrittenHandler(app)
  else await app.register(fastifyPgConflict, { pool, keepConnections: answer === 'plugin' })
  let n = 0
  const tag = `${process.pid}-${Date.now()}`

  app.post('/conflict', async () => (await pool.query(CONFLICTING_INSERT)).rows[0])

  app.post('/items', async (_request, reply) => {
    const { rows } = await pool.query('INSERT INTO items (email) VALUES ($1) RETURNING id', [`${tag}-${n++}@example.com`])
    return reply.code(201).send(rows[0])
  })
  return app
}
