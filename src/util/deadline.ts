import { within } from './within.js'

/**
 * One budget of time for all the waits the library makes on behalf of one request: reading the
 * catalog, checking or repairing a sequence. Made once per request (at its first such wait), so
 * that waits in a row share it rather than each getting the whole of it; past it, every wait ends
 * at once with `undefined` and the request is answered from what the error alone says.
 */
export class Deadline {
  private readonly end: number

  constructor (ms: number) {
    this.end = performance.now() + ms
  }

  /** Milliseconds left, 0 once past. */
  remaining (): number {
    return Math.max(0, this.end - performance.now())
  }

  /** `promise`'s value, or `undefined` once the deadline has passed without it (at once if it has passed already). */
  async within<T> (promise: Promise<T>): Promise<T | undefined> {
    return await within(promise, this.remaining())
  }
}
