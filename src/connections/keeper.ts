/**
 * The Fastify plugin's use of `keepConnections`: on the pool it is given, and on
 * @fastify/postgres's pools (`fastify.pg`, and `fastify.pg[name]` for named ones), whose
 * `query` @fastify/postgres bound at its registration (`pool.query.bind(pool)`), so that
 * `fastify.pg.query` is replaced by the pool's kept `query` too. Undone when the app closes.
 */
import { keepConnections, keptQuery } from './pool.js'

/** What @fastify/postgres decorates `fastify.pg` (or `fastify.pg[name]`) with: the pool, and its `query` bound. */
interface PoolHolder {
  pool: object
  query: unknown
}

function isHolder (value: unknown): value is PoolHolder {
  const holder = value as Partial<Record<keyof PoolHolder, unknown>> | null
  return typeof holder === 'object' && holder !== null && typeof holder.pool === 'object' && holder.pool !== null && typeof holder.query === 'function'
}

export class ConnectionKeeper {
  private readonly undo: Array<() => void> = []
  /** Pools and holders seen already: each is kept once per keeper. */
  private readonly seen = new WeakSet<object>()

  constructor (private readonly enabled: boolean) {}

  /** Keeps the connections of `pool.query()` (nothing when switched off, or not a pg Pool). */
  pool (pool: unknown): void {
    if (!this.enabled || typeof pool !== 'object' || pool === null || this.seen.has(pool)) return
    this.seen.add(pool)
    this.undo.push(keepConnections(pool))
  }

  /** The same for @fastify/postgres's pools, found on `fastify.pg`, and its `query` there. */
  fastifyPostgres (pg: unknown): void {
    if (!this.enabled || typeof pg !== 'object' || pg === null) return
    for (const holder of [pg, ...Object.values(pg)].filter(isHolder)) {
      if (this.seen.has(holder)) continue
      this.seen.add(holder)
      this.pool(holder.pool)
      const query = keptQuery(holder.pool)
      const bound = holder.query as (...args: unknown[]) => unknown
      // Only @fastify/postgres's own `pool.query.bind(pool)` is replaced: a function of the application's stays.
      if (query === undefined || bound.name !== 'bound query') continue
      holder.query = query
      this.undo.push(() => { if (holder.query === query) holder.query = bound })
    }
  }

  /** Puts every pool's `query` back (unless another keeper still holds it). */
  close (): void {
    for (const undo of this.undo.splice(0).reverse()) undo()
  }
}
