/**
 * Idempotent replays (docs/replays.md): the same routes with `config.conflict.replay` ("on") and
 * without it ("off"), through pool.query(). `POST /items`: an INSERT that succeeds. `POST /conflict`:
 * an order whose ref is taken by a row with another note (a conflict, not a replay: "on" asks the
 * database and answers 409). `POST /replayed`: the order exactly as the row has it: "on" answers it
 * with the row (200); "off" does what an application would by hand, an onConflict hook that
 * selects the row and sends it.
 */
import Fastify from 'fastify'
import type pg from 'pg'
import fastifyPgConflict, { type OnConflict } from '../../src/index.js'
import type { AppContext, BenchApp } from './index.js'

const INSERT_ORDER = 'INSERT INTO orders (ref, note) VALUES ($1, $2) RETURNING id, ref, note, created_at'

/** The hand-written replay: the row by its ref, when its note is the request's. */
function handwrittenReplay (pool: pg.Pool): OnConflict {
  return async (_conflict, request, reply) => {
    const { ref, note } = request.body as { ref: string, note: string }
    const { rows } = await pool.query('SELECT id, ref, note, created_at FROM orders WHERE ref = $1 AND note IS NOT DISTINCT FROM $2', [ref, note])
    if (rows.length === 1) await reply.code(200).header('Idempotent-Replayed', 'true').send(rows[0])
  }
}

export async function replayApp ({ pool }: AppContext, replay: boolean): Promise<BenchApp> {
  const app = Fastify({ logger: false })
  await app.register(fastifyPgConflict, { pool })
  let n = 0
  const tag = `${process.pid}-${Date.now()}`
  const config = { conflict: replay ? { replay: { columns: ['id', 'created_at'] } } : {} }

  app.post('/items', { config }, async (_request, reply) => {
    const { rows } = await pool.query('INSERT INTO items (email) VALUES ($1) RETURNING id', [`${tag}-${n++}@example.com`])
    return await reply.code(201).send(rows[0])
  })
  const insert = async (request: { body: unknown }): Promise<unknown> => {
    const { ref, note } = request.body as { ref: string, note: string }
    return (await pool.query(INSERT_ORDER, [ref, note])).rows[0]
  }
  app.post('/conflict', { config }, insert)
  app.post('/replayed', { config: replay ? config : { conflict: { onConflict: handwrittenReplay(pool) } } }, insert)
  return app
}
