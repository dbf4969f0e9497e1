// What the pool.query() load and fault tests share: the accounts routes written the plain way
// (one `pool.query()` per request, no client checked out), and a watch on the pool: connections
// opened and removed, broken clients handed out, and the app's backends in pg_stat_activity.
import type { FastifyInstance } from 'fastify'
import type pg from 'pg'
import type { Account } from './fixture.js'

const INSERT = 'INSERT INTO accounts (email, handle, org_id, name) VALUES ($1, $2, $3, $4) RETURNING id'

/** `POST /accounts` through `pool.query()`: the handler the README's quick start can now be. Register the plugin first. */
export function accountsPoolQueryRoute (app: FastifyInstance, pool: pg.Pool): void {
  app.post<{ Body: Account }>('/accounts', async (request, reply) => {
    const { email, handle, orgId, name } = request.body
    const { rows } = await pool.query(INSERT, [email, handle, orgId, name])
    return reply.code(201).send(rows[0])
  })
}

export interface PoolWatch {
  /** Connections the pool opened ('connect') and removed ('remove'). */
  opened: number
  removed: number
  /** Idle connections lost, as pg-pool reports them ('error'). */
  errors: number
  /** Clients handed out although node-postgres knew them broken (not queryable, or ending). */
  brokenHandedOut: number
}

/** Counts what the pool does. A client handed out is checked with node-postgres's own flags, as pg-pool checks it on release. */
export function watchPool (pool: pg.Pool): PoolWatch {
  const seen: PoolWatch = { opened: 0, removed: 0, errors: 0, brokenHandedOut: 0 }
  pool.on('connect', () => { seen.opened++ })
  pool.on('remove', () => { seen.removed++ })
  pool.on('error', () => { seen.errors++ })
  pool.on('acquire', (client) => {
    const flags = client as unknown as { _queryable?: boolean, _ending?: boolean }
    if (flags._queryable === false || flags._ending === true) seen.brokenHandedOut++
  })
  return seen
}

/** Samples, every `ms`, how many backends named `applicationName` the server has; `stop()` gives the largest number seen. */
export function sampleBackends (admin: pg.Pool, applicationName: string, ms = 50): { stop: () => Promise<{ max: number, samples: number }> } {
  let max = 0
  let samples = 0
  let running = true
  const loop = (async () => {
    while (running) {
      const { rows } = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [applicationName])
      max = Math.max(max, rows[0]?.n ?? 0)
      samples++
      await new Promise((resolve) => setTimeout(resolve, ms))
    }
  })()
  return {
    async stop () {
      running = false
      await loop
      return { max, samples }
    }
  }
}

/**
 * What a lost connection or a server going away looks like in node-postgres: the server's FATAL
 * 57P01 (terminated) or 57P03 (shutting down, starting up), the socket gone or refused.
 */
export function isConnectionError (err: { code?: string, message?: string } | undefined): boolean {
  return err !== undefined && (err.code === '57P01' || err.code === '57P03' || err.code === 'ECONNREFUSED' || err.code === 'ECONNRESET' ||
    /Connection terminated|not queryable|terminating connection|shutting down|starting up|ECONNREFUSED|ECONNRESET/.test(err.message ?? ''))
}
