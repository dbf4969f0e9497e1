import { InvalidOptionError } from '../util/errors.js'

/**
 * Bounds for retrying work that failed on a conflict: a handler racing another request, or a
 * transaction. Used by route retries and by `withTransaction`.
 */
export interface RetryOptions {
  /** Attempts in all, the first included. Default 3. */
  attempts?: number
  /** Backoff before attempt n: a random delay up to `min(max, base * 2^(n-2))` ms (full jitter). Default `{ base: 5, max: 100 }`. */
  backoff?: { base?: number, max?: number }
  /** No new attempt starts once this many ms have passed since the first. Default 1000. */
  maxTime?: number
}

export interface RetryPolicy {
  attempts: number
  baseDelay: number
  maxDelay: number
  maxTime: number
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 3, baseDelay: 5, maxDelay: 100, maxTime: 1000 }

/** More attempts than this is a storm, not a retry. */
const MAX_ATTEMPTS = 20
const MAX_MS = 60_000

function whole (value: unknown, min: number, max: number, where: string): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(`${where} must be a whole number from ${min} to ${max}`)
  }
  return value
}

/** Checks retry options and fills in the defaults; throws `PG_CONFLICT_INVALID_OPTION` naming the problem. */
export function retryPolicy (options: unknown, where: string): RetryPolicy {
  if (options === undefined || options === true) return DEFAULT_RETRY
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidOptionError(`${where} must be true or an object like { attempts, backoff, maxTime }`)
  }
  const { attempts, backoff, maxTime, ...rest } = options as Record<string, unknown>
  const unknown = Object.keys(rest)
  if (unknown.length > 0) throw new InvalidOptionError(`${where} has an unknown option "${unknown[0] as string}" (known: attempts, backoff, maxTime)`)
  if (backoff !== undefined && (typeof backoff !== 'object' || backoff === null || Array.isArray(backoff))) {
    throw new InvalidOptionError(`${where}.backoff must be an object like { base: 5, max: 100 }`)
  }
  const { base, max, ...otherBackoff } = (backoff ?? {}) as Record<string, unknown>
  if (Object.keys(otherBackoff).length > 0) throw new InvalidOptionError(`${where}.backoff takes only base and max`)
  const policy = {
    attempts: whole(attempts, 1, MAX_ATTEMPTS, `${where}.attempts`) ?? DEFAULT_RETRY.attempts,
    baseDelay: whole(base, 0, MAX_MS, `${where}.backoff.base`) ?? DEFAULT_RETRY.baseDelay,
    maxDelay: whole(max, 0, MAX_MS, `${where}.backoff.max`) ?? DEFAULT_RETRY.maxDelay,
    maxTime: whole(maxTime, 0, MAX_MS, `${where}.maxTime`) ?? DEFAULT_RETRY.maxTime
  }
  if (policy.maxDelay < policy.baseDelay) throw new InvalidOptionError(`${where}.backoff.max must not be less than backoff.base`)
  return policy
}

/** The delay before attempt `attempt` (2 for the first retry), with full jitter. */
export function backoffDelay (policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelay, policy.baseDelay * 2 ** Math.max(0, attempt - 2))
  return Math.floor(random() * ceiling)
}

/**
 * Whether attempt `attempt` (2 for the first retry) may start, `startedAt` being the first
 * attempt's `performance.now()`: within the attempts, and with time left for it after its backoff.
 */
export function mayRetry (policy: RetryPolicy, attempt: number, startedAt: number, delay: number): boolean {
  return attempt <= policy.attempts && performance.now() - startedAt + delay <= policy.maxTime
}

export function sleep (ms: number): Promise<void> {
  return ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms))
}
