/**
 * Conflict path: the same conflicting INSERT, on a checked-out client (pool.query would destroy
 * the connection on every error and measure pg-pool's reconnects instead), answered by the plugin
 * ("plugin") or by a hand-written error handler ("handwritten"). And the error path alone: a copy
 * of a real node-postgres error, thrown without touching the database.
 */
import Fastify from 'fastify'
import fastifyPgConflict from '../../src/index.js'
import { CONFLICTING_INSERT, copyError, errorOf } from '../lib/db.js'
import { useHandwrittenHandler } from './handwritten.js'
import type { AppContext, BenchApp } from './index.js'

export async function conflictApp ({ pool }: AppContext, answer: 'plugin' | 'handwritten'): Promise<BenchApp> {
  const app = Fastify({ logger: false })
  if (answer === 'plugin') await app.register(fastifyPgConflict, { pool })
  else useHandwrittenHandler(app)
  const captured = await errorOf(pool, CONFLICTING_INSERT)

  app.post('/conflict', async () => {
    const client = await pool.connect()
    try {
      return (await client.query(CONFLICTING_INSERT)).rows[0]
    } finally {
      client.release()
    }
  })

  app.post('/thrown', async () => {
    throw copyError(captured)
  })
  return app
}
