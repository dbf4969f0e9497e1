/**
 * Names reused (scenario 6): what staying right costs on violations the error cannot confirm
 * against the cached catalog. A check violation names no column, so the plugin asks the catalog's
 * version (one query, two index scans) before answering; a foreign key violation shows its key
 * in DETAIL, which confirms the cached constraint, so it costs no query. Both answered by the
 * plugin ("plugin") or by a hand-written error handler that maps the SQLSTATE to a 422 without
 * any catalog ("handwritten"), each on a checked-out client.
 */
import Fastify, { type FastifyError } from 'fastify'
import type pg from 'pg'
import fastifyPgConflict from '../../src/index.js'
import type { AppContext, BenchApp } from './index.js'

/** The statements: a check violation (`ranges_low_check`) and a missing referenced row (`children_parent_id_fkey`). */
export const CHECK_VIOLATION = 'INSERT INTO ranges (low) VALUES (-1)'
export const FK_VIOLATION = 'INSERT INTO children (parent_id) VALUES (999999)'

async function run (pool: pg.Pool, sql: string): Promise<unknown> {
  const client = await pool.connect()
  try {
    return (await client.query(sql)).rows[0]
  } finally {
    client.release()
  }
}

export async function reuseApp ({ pool }: AppContext, answer: 'plugin' | 'handwritten'): Promise<BenchApp> {
  const app = Fastify({ logger: false })
  if (answer === 'plugin') {
    await app.register(fastifyPgConflict, { pool })
  } else {
    app.setErrorHandler((error: FastifyError, _request, reply) => {
      if (error.code === '23514' || error.code === '23503') return reply.code(422).send({ statusCode: 422, error: 'Unprocessable Entity', message: 'Invalid.', fields: [] })
      return reply.send(error)
    })
  }
  app.post('/check', async () => await run(pool, CHECK_VIOLATION))
  app.post('/fk', async () => await run(pool, FK_VIOLATION))
  return app
}
