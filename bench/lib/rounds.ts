/**
 * Interleaved rounds and medians: the one way every comparison in bench/ is measured.
 *
 * A noisy machine drifts (other tenants, thermal limits, a growing table), so two arms are never
 * measured one after the other in blocks. Each round runs every arm once, the order alternating
 * from round to round (A B, B A, A B…), so that drift falls on both arms alike; each round gives
 * one ratio, and the median of those ratios is the figure reported.
 */

export interface Arm<T> {
  name: string
  run: () => Promise<T>
}

/** Each arm's results, in round order (index r is round r for every arm). */
export type Samples<T> = Record<string, T[]>

/** The arms in round r's order: starting at arm r mod n (for two arms: A B, B A, A B…). */
export function inTurn<T> (arms: readonly T[], round: number): T[] {
  return arms.map((_, i) => arms[(i + round) % arms.length] as T)
}

/**
 * Runs `rounds` rounds of every arm, in turn (see inTurn). `warmup` runs each arm once first,
 * unrecorded.
 */
export async function interleave<T> (arms: ReadonlyArray<Arm<T>>, rounds: number, options: { warmup?: boolean, log?: (line: string) => void } = {}): Promise<Samples<T>> {
  const samples: Samples<T> = Object.fromEntries(arms.map((arm) => [arm.name, [] as T[]]))
  if (options.warmup === true) {
    for (const arm of arms) await arm.run()
  }
  for (let round = 0; round < rounds; round++) {
    const order = inTurn(arms, round)
    for (const arm of order) (samples[arm.name] as T[]).push(await arm.run())
    options.log?.(`round ${round + 1}/${rounds}: ${order.map((arm) => arm.name).join(', ')}`)
  }
  return samples
}

export function median (values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] as number : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

/** The p-th percentile (0–100) of `values`, nearest rank. */
export function percentile (values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)))
  return sorted[rank - 1] as number
}

/** Per-round ratios `a[r] / b[r]`, with their median and range. */
export interface Ratio {
  median: number
  min: number
  max: number
  perRound: number[]
}

export function ratio (a: readonly number[], b: readonly number[]): Ratio {
  const perRound = a.map((value, r) => value / (b[r] as number))
  return { median: median(perRound), min: Math.min(...perRound), max: Math.max(...perRound), perRound }
}
