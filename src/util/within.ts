/** `promise`'s value, or `undefined` once `ms` have passed without it; the timer is cleared either way. */
export function within<T> (promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<undefined>((resolve) => { timer = setTimeout(() => { resolve(undefined) }, ms) })
  return Promise.race([promise, timeout]).finally(() => { clearTimeout(timer) })
}
