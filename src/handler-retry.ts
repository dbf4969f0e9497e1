import type { FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify'
import type { ConflictCounters } from './counters.js'
import type { Conflict } from './describe.js'
import { findUniqueViolation, type PgErrorFields } from './recognise.js'
import type { SequenceCheck } from './sequences.js'
import { backoffDelay, mayRetry, sleep, type RetryPolicy } from './retry.js'

/**
 * Called when a route meets a unique violation, before the 409 goes out. It may answer the request
 * itself (`reply.send(...)`, e.g. the winning row for an idempotent create), return `'retry'` to
 * run the route's handler again, or return nothing to let the 409 go out.
 */
export type OnConflict = (conflict: Conflict, request: FastifyRequest, reply: FastifyReply, attempt: number) =>
  'retry' | undefined | void | Promise<'retry' | undefined | void> // eslint-disable-line @typescript-eslint/no-invalid-void-type

export interface HandlerRetry {
  /** Retries the route asks for with `config.conflict.retry`, or `undefined`. */
  policy: RetryPolicy | undefined
  /** Which conflicts `policy` retries, by constraint name. */
  retries: (conflict: Conflict) => boolean
  /** The bounds for a retry an `onConflict` hook asks for on a route without its own. */
  fallbackPolicy: RetryPolicy
  /** The hooks to ask, route first. */
  hooks: readonly OnConflict[]
  describe: (pgError: PgErrorFields, request: FastifyRequest) => Promise<Conflict>
  counters: ConflictCounters
  /** Marks an error as already shown to the hooks, so that the error path does not ask them again. */
  offered: WeakSet<object>
  /** Whether the conflict is an id sequence behind its table (the server's fault, not the client's). */
  sequenceBehind: (conflict: Conflict) => Promise<SequenceCheck | undefined>
  /** Repairs such a sequence (true when it moved), when the application allows it. */
  repair: ((check: SequenceCheck) => Promise<boolean>) | undefined
}

/** Asks the hooks in turn until one answers the request or asks for a retry. */
export async function askHooks (hooks: readonly OnConflict[], conflict: Conflict, request: FastifyRequest, reply: FastifyReply, attempt: number): Promise<'retry' | 'answered' | undefined> {
  for (const hook of hooks) {
    const decision = await hook(conflict, request, reply, attempt)
    if (reply.sent) return 'answered'
    if (decision === 'retry') return 'retry'
  }
  return undefined
}

/**
 * Wraps a route handler so that a unique violation it throws can be retried or answered by a hook.
 * A handler that returns without a promise stays synchronous; nothing is retried once the reply
 * is sent; each attempt starts with the status and headers the reply had before the first.
 */
export function retryingHandler (handler: RouteHandlerMethod, retry: HandlerRetry): RouteHandlerMethod {
  return function (this: unknown, request, reply) {
    const statusCode = reply.statusCode
    const headers = { ...reply.getHeaders() }
    const startedAt = performance.now()

    type Step = { kind: 'answered' } | { kind: 'retry', delay: number, constraint: string | undefined } | { kind: 'give up', constraint: string | undefined }

    let repaired = false

    /** What to do after attempt `attempt` failed with `error`: a hook answered, retry, or give up. Throws what is no conflict. */
    const decide = async (error: unknown, attempt: number): Promise<Step> => {
      const pgError = reply.sent ? undefined : findUniqueViolation(error)
      if (pgError === undefined) throw error // not a conflict (or too late): as without the plugin
      const conflict = await retry.describe(pgError, request)
      // A sequence behind its table is the server's fault: repaired and run once more if allowed,
      // otherwise on to the error path (500); the hooks, which are for clients' conflicts, are not asked.
      const sequence = await retry.sequenceBehind(conflict)
      if (sequence !== undefined) {
        if (retry.repair === undefined || repaired) return { kind: 'give up', constraint: conflict.constraint }
        repaired = true
        return await retry.repair(sequence)
          ? { kind: 'retry', delay: 0, constraint: conflict.constraint }
          : { kind: 'give up', constraint: conflict.constraint }
      }
      retry.offered.add(error as object)
      const decision = await askHooks(retry.hooks, conflict, request, reply, attempt)
      if (decision === 'answered') return { kind: 'answered' }
      const policy = decision === 'retry' ? retry.policy ?? retry.fallbackPolicy : retry.retries(conflict) ? retry.policy : undefined
      const delay = policy === undefined ? 0 : backoffDelay(policy, attempt + 1)
      return policy !== undefined && mayRetry(policy, attempt + 1, startedAt, delay)
        ? { kind: 'retry', delay, constraint: conflict.constraint }
        : { kind: 'give up', constraint: conflict.constraint }
    }

    /** After attempt `n` failed: retry while the policy allows, then the hooks' answer or the 409. */
    const recover = async (failure: unknown, n: number): Promise<unknown> => {
      let error = failure
      let attempt = n
      let step = await decide(error, attempt)
      while (step.kind === 'retry') {
        retry.counters.retried(step.constraint)
        await sleep(step.delay)
        restore(reply, statusCode, headers)
        try {
          const result: unknown = await handler.call(this as never, request, reply)
          retry.counters.recovered(step.constraint)
          return result
        } catch (next) {
          error = next
          attempt++
          step = await decide(error, attempt)
        }
      }
      if (step.kind === 'answered') return reply
      if (attempt > 1) retry.counters.gaveUp(step.constraint)
      throw error
    }

    let result: unknown
    try {
      result = handler.call(this as never, request, reply)
    } catch (error) {
      return recover(error, 1)
    }
    // A handler that did not return a promise stays synchronous.
    return isThenable(result) ? result.then(undefined, (error: unknown) => recover(error, 1)) : result
  } as RouteHandlerMethod
}

function isThenable (value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function'
}

/** Puts back the status and headers a reply had before a failed attempt changed them. */
function restore (reply: FastifyReply, statusCode: number, headers: Record<string, unknown>): void {
  reply.code(statusCode)
  for (const name of Object.keys(reply.getHeaders())) {
    if (!(name in headers)) reply.removeHeader(name)
  }
  for (const [name, value] of Object.entries(headers)) reply.header(name, value)
}
