/**
 * Giving a pooled connection back after a query failed on it: kept when it is sure to be
 * healthy, removed (released with the error, as pg-pool's `query` does) otherwise.
 */
import { isRecoverableServerError } from './session.js'

/** The members of a pg `Client` this module reads: all node-postgres's own. */
export interface SessionClient {
  /** `true` once the server's ReadyForQuery is read; pg clears it when it sends a query. */
  readyForQuery?: unknown
  /** The transaction status of the last ReadyForQuery: `I` idle, `T` in a transaction, `E` in a failed one. */
  getTransactionStatus?: () => string | null
  /** pg's pipeline mode: other queries may be on the wire behind the one that failed. */
  pipeline?: unknown
  /** pg emits `drain` after a ReadyForQuery leaves no query queued, `error` when the connection is lost, `end` when it is closed. */
  on: (event: 'drain' | 'error' | 'end', listener: () => void) => unknown
  removeListener: (event: 'drain' | 'error' | 'end', listener: () => void) => unknown
}

/** pg-pool's `client.release`: an error (or `true`) removes the client from the pool and closes it. */
export type Release = (error?: unknown) => void

/**
 * How long a connection waits for the ReadyForQuery that follows an error, ms. The server sends
 * it right behind the ErrorResponse (usually in the same packet); one that has not come by then
 * is on a connection that has stalled, and the connection is removed.
 */
export const SETTLE_TIMEOUT = 5000

/** Whether this client can say when the session is idle again (pg's JavaScript client, not pipelining). */
function canTell (client: SessionClient): boolean {
  return typeof client.readyForQuery === 'boolean' && typeof client.getTransactionStatus === 'function' && client.pipeline !== true
}

function isIdle (client: SessionClient): boolean {
  return (client.getTransactionStatus as () => string | null)() === 'I'
}

/**
 * Releases `client`, on which a query failed with `error`. Kept in the pool only when the
 * server answered with an error that leaves the session usable (`session.ts`) and the
 * ReadyForQuery that followed it says the session is idle outside a transaction. Otherwise, or
 * when the connection is lost or stalls (`timeout`) before that ReadyForQuery, released with
 * the error: the pool removes it, exactly as pg-pool's `query` does with every error.
 *
 * Kept means `release()` without an error, so pg-pool still removes a client that is ending,
 * no longer queryable, past `maxUses` or `maxLifetimeSeconds`, or whose pool is ending.
 */
export function releaseAfterError (client: SessionClient, release: Release, error: unknown, timeout = SETTLE_TIMEOUT): void {
  if (!isRecoverableServerError(error) || !canTell(client)) {
    release(error)
    return
  }
  // (Not seen with pg 8: it calls the query back at the ErrorResponse, before the ReadyForQuery.)
  if (client.readyForQuery === true) {
    release(isIdle(client) ? undefined : error)
    return
  }
  const settle = (keep: boolean): void => {
    clearTimeout(timer)
    client.removeListener('drain', ready)
    client.removeListener('error', lost)
    client.removeListener('end', lost)
    release(keep ? undefined : error)
  }
  const ready = (): void => { settle(isIdle(client)) }
  // The 'error' listener also stands in for pg-pool's, which a checked-out client has not:
  // without one, a connection lost now would crash the process.
  const lost = (): void => { settle(false) }
  client.on('drain', ready)
  client.on('error', lost)
  client.on('end', lost)
  const timer = setTimeout(lost, timeout)
  timer.unref()
}
