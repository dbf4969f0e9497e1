import type {
  ContextConfigDefault, FastifyBaseLogger, FastifyReply, FastifyRequest, FastifySchema, FastifyTypeProviderDefault,
  RawRequestDefaultExpression, RawServerDefault, RouteGenericInterface, RouteHandlerMethod
} from 'fastify'
import type { RetryCounting } from './counters.js'
import type { Conflict } from '../core/describe.js'
import { findIntegrityError, type PgErrorFields } from '../core/recognise.js'
import { backoffDelay, mayRetry, sleep, type RetryPolicy } from './retry.js'
import type { SequenceCheck } from '../sequences/sequences.js'

/**
 * The request as a hook set for many routes sees it: a hook cannot know which route's schema the
 * request was validated against, so `body`, `params`, `query` and `headers` are `any`.
 */
type AnyRouteRequest = FastifyRequest<RouteGenericInterface, RawServerDefault, RawRequestDefaultExpression, FastifySchema,
  FastifyTypeProviderDefault, ContextConfigDefault, FastifyBaseLogger, { params: any, query: any, headers: any, body: any }>

/**
 * Called when a route meets a unique violation, before the 409 goes out. It may answer the request
 * itself (`reply.send(...)`, e.g. the winning row for an idempotent create), return `'retry'` to
 * run the route's handler again, or return nothing: then the route's `retry`, if it has one and
 * the conflict is one it retries, runs the handler again, and otherwise the 409 goes out.
 *
 * Only `'retry'` (or a promise of it) counts as a result: a hook that answers may return the reply
 * it sent, as a handler does (`return reply.code(200).send(row)`), or nothing.
 *
 * `OnConflict<{ Body: { email: string } }>` types the request and reply as the route's (as
 * `app.post<{ Body: … }>` does); plain `OnConflict` sees the request's parts as `any`. Either is
 * accepted by the `onConflict` option and by `config.conflict.onConflict`.
 */
export type OnConflict<RouteGeneric extends RouteGenericInterface = never> = {
  // A method's parameters are compared both ways: a hook typed for one route fits the option.
  hook (conflict: Conflict, request: [RouteGeneric] extends [never] ? AnyRouteRequest : FastifyRequest<RouteGeneric>,
    reply: [RouteGeneric] extends [never] ? FastifyReply : FastifyReply<RouteGeneric>, attempt: number): unknown
}['hook']

export interface HandlerRetry {
  /** Retries the route asks for with `config.conflict.retry`, or `undefined`. */
  policy: RetryPolicy | undefined
  /** Which conflicts `policy` retries, by constraint name. */
  retries: (conflict: Conflict) => boolean
  /** The bounds for a retry an `onConflict` hook asks for on a route without its own. */
  fallbackPolicy: RetryPolicy
  /** False on a route whose handler runs in a transaction it does not own: nothing is run again there (it could only fail with 25P02). */
  mayRunAgain: boolean
  /** The hooks to ask, route first. */
  hooks: readonly OnConflict[]
  describe: (pgError: PgErrorFields, request: FastifyRequest) => Promise<Conflict>
  counters: RetryCounting
  /** Marks an error as already shown to the hooks, so that the error path does not ask them again. */
  offered: WeakSet<object>
  /** The sequence check when the conflict is an id sequence colliding with its table (the server's fault, not the client's). */
  sequenceColliding: (conflict: Conflict, request: FastifyRequest) => SequenceCheck | undefined | Promise<SequenceCheck | undefined>
  /** Repairs such a sequence for this request (true when it no longer collides), when the application allows it. */
  repair: ((check: SequenceCheck, request: FastifyRequest) => Promise<boolean>) | undefined
}

const SENDS = Symbol('fastify-pg-conflict.sends')
type Tracked = FastifyReply & { [SENDS]?: number }

/**
 * Counts the answers sent on this reply from now on (`reply.send` of anything but an error, which
 * is Fastify handing an error on), at the moment they are sent: `reply.sent` turns true only once
 * the response has ended, later than that when `onSend` hooks are slow or a stream is piping.
 */
export function trackSends (reply: FastifyReply): void {
  const tracked = reply as Tracked
  if (tracked[SENDS] !== undefined) return
  tracked[SENDS] = 0
  const send = reply.send
  reply.send = function (this: Tracked, payload?: unknown) {
    if (!(payload instanceof Error)) this[SENDS] = (this[SENDS] as number) + 1
    return send.call(this, payload)
  } as typeof reply.send
}

/** The answers sent since `trackSends`, which every caller has called. */
function sends (reply: FastifyReply): number {
  return (reply as Tracked)[SENDS] as number
}

/** Whether the request is answered, being answered, or gone: nothing may be run again for it. */
function answering (reply: FastifyReply): boolean {
  return sends(reply) > 0 || reply.sent || reply.raw.headersSent || reply.raw.destroyed
}

/** Asks the hooks in turn until one answers the request or asks for a retry. */
export async function askHooks (hooks: readonly OnConflict[], conflict: Conflict, request: FastifyRequest, reply: FastifyReply, attempt: number): Promise<'retry' | 'answered' | undefined> {
  trackSends(reply)
  for (const hook of hooks) {
    const before = sends(reply)
    const decision = await hook(conflict, request, reply, attempt)
    if (sends(reply) > before || reply.sent) return 'answered'
    if (decision === 'retry') return 'retry'
  }
  return undefined
}

/** The status and headers of a reply, to put back after an attempt that failed. */
interface ReplyState {
  statusCode: number
  headers: Record<string, unknown>
}

function snapshot (reply: FastifyReply): ReplyState {
  const headers: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(reply.getHeaders())) headers[name] = Array.isArray(value) ? [...value] : value
  return { statusCode: reply.raw.statusCode, headers }
}

function restore (reply: FastifyReply, state: ReplyState): void {
  // Not reply.code(): it marks the status as chosen, and reply.redirect() would then keep it.
  reply.raw.statusCode = state.statusCode
  for (const name of Object.keys(reply.getHeaders())) reply.removeHeader(name)
  // Copies: reply.header() appends to a set-cookie array it is given.
  for (const [name, value] of Object.entries(state.headers)) reply.header(name, Array.isArray(value) ? [...value] : value)
}

type Step =
  | { kind: 'answered' }
  | { kind: 'retry', delay: number, constraint: string | undefined, counted: boolean }
  | { kind: 'give up', constraint: string | undefined, bounded: boolean }

/**
 * Wraps a route handler so that a unique violation it throws can be retried or answered by a hook.
 * A handler that returns anything but a promise (a value, `reply`) is left as it is; nothing is
 * run again once the request is answered or being answered; every attempt, and the hooks, start
 * with the status and headers the reply had before the first.
 */
export function retryingHandler (handler: RouteHandlerMethod, retry: HandlerRetry): RouteHandlerMethod {
  return function (this: unknown, request, reply) {
    trackSends(reply)
    const before = snapshot(reply)
    const startedAt = performance.now()
    let repaired = false
    /** The sequence fault met (constraint and id): the sequence never hands out a value twice, so the same id colliding again after the repair is the client's. */
    let fault: string | undefined

    /** What to do after attempt `attempt` failed with `error`. Throws what is no conflict, or comes too late. */
    const decide = async (error: unknown, attempt: number): Promise<Step> => {
      // A unique violation by its kind, not only its code: Citus's COPY paths relay one as XX000.
      const found = answering(reply) ? undefined : findIntegrityError(error)
      const pgError = found?.kind === 'unique' ? found.error : undefined
      if (pgError === undefined) throw error // not a conflict, or too late: as without the plugin
      restore(reply, before)
      const conflict = await retry.describe(pgError, request)
      // An id sequence colliding with its table is the server's fault: repaired and run once more
      // if allowed; otherwise on to the error path (500). The hooks are for clients' conflicts.
      const sequence = await retry.sequenceColliding(conflict, request)
      const met = sequence?.value === undefined ? undefined : `${String(conflict.constraint)}\u0000${sequence.value}`
      if (sequence !== undefined && !(repaired && met !== undefined && met === fault)) {
        fault = met
        const again = retry.repair !== undefined && !repaired && retry.mayRunAgain
        repaired = true
        return again && await (retry.repair as NonNullable<HandlerRetry['repair']>)(sequence, request)
          ? { kind: 'retry', delay: 0, constraint: conflict.constraint, counted: false }
          : { kind: 'give up', constraint: conflict.constraint, bounded: false }
      }
      retry.offered.add(error as object)
      const decision = await askHooks(retry.hooks, conflict, request, reply, attempt)
      if (decision === 'answered') return { kind: 'answered' }
      const policy = !retry.mayRunAgain
        ? undefined
        : decision === 'retry' ? retry.policy ?? retry.fallbackPolicy : retry.retries(conflict) ? retry.policy : undefined
      if (policy === undefined) return { kind: 'give up', constraint: conflict.constraint, bounded: false }
      const delay = backoffDelay(policy, attempt + 1)
      return mayRetry(policy, attempt + 1, startedAt, delay)
        ? { kind: 'retry', delay, constraint: conflict.constraint, counted: true }
        : { kind: 'give up', constraint: conflict.constraint, bounded: true }
    }

    /** After attempt `n` failed: retry while allowed, then the hooks' answer or on to the error path. */
    const recover = async (failure: unknown, n: number): Promise<unknown> => {
      let error = failure
      let attempt = n
      let retried: string | undefined | null = null // the constraint of the last conflict retried, null for none
      let step = await decide(error, attempt)
      while (step.kind === 'retry') {
        if (step.counted) {
          retry.counters.retried(step.constraint, 'unique')
          retried = step.constraint
        }
        await sleep(step.delay)
        if (answering(reply)) throw error // answered meanwhile (a handler timeout, the client gone)
        try {
          const result: unknown = await handler.call(this as never, request, reply)
          if (retried !== null) retry.counters.recovered(retried, 'unique')
          return result
        } catch (next) {
          error = next
          attempt++
          step = await decide(error, attempt)
        }
      }
      if (step.kind === 'answered') return reply
      if (step.bounded) retry.counters.gaveUp(step.constraint, 'unique')
      throw error
    }

    let result: unknown
    try {
      result = handler.call(this as never, request, reply)
    } catch (error) {
      return recover(error, 1)
    }
    // Only a promise: a handler that returns a value, or `reply` (itself a thenable), is left as it is.
    return result instanceof Promise ? result.catch((error: unknown) => recover(error, 1)) : result
  } as RouteHandlerMethod
}
