/**
 * The knobs of `npm run bench`, read from the environment once. Defaults keep the whole run at a
 * few minutes on a 2-core machine; raise BENCH_ROUNDS / BENCH_DURATION for tighter figures.
 */

function int (name: string, fallback: number, min = 1): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be a whole number ≥ ${min}, not "${raw}"`)
  return value
}

export const config = {
  /** Rounds per comparison, A first then B first in turn (HTTP: each on fresh server processes); the median of the per-round ratios is reported. */
  rounds: int('BENCH_ROUNDS', 9),
  /** Seconds of load per arm and route per round (autocannon). */
  duration: int('BENCH_DURATION', 2),
  /**
   * Slices each arm's seconds are cut into, A and B alternating within the round (A B A B…): the
   * shorter the slices, the closer in time the two arms are measured, and the less a burst of
   * other load on the machine falls on one arm only.
   */
  slices: int('BENCH_SLICES', 2),
  /** Seconds of unmeasured load per arm and route at the start of each round, on its fresh processes (JIT, pool). */
  warmup: int('BENCH_WARMUP', 1, 0),
  /** autocannon connections. */
  connections: int('BENCH_CONNECTIONS', 10),
  /** Concurrent check-then-insert requests per race, and races per arm. */
  raceSize: int('BENCH_RACE_SIZE', 64),
  raceBatches: int('BENCH_RACE_BATCHES', 20),
  /** Unique indexes for the catalog-scale benchmark (rounded up to a multiple of 100: tables of 100). */
  catalogIndexes: int('BENCH_CATALOG_INDEXES', 10_000, 100),
  /** Milliseconds tinybench spends per task per round in the resolution micro-benchmark. */
  microTime: int('BENCH_MICRO_TIME', 150),
  /** Comma-separated scenarios to run (success, conflict, pool, resolution, races, catalog); all when unset. */
  only: (process.env.BENCH_ONLY ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')
}

// autocannon runs whole seconds: a slice of 0.5 s lasts 1 s.
if (config.duration % config.slices !== 0) throw new Error(`BENCH_DURATION (${config.duration}) must be a multiple of BENCH_SLICES (${config.slices}): autocannon runs whole seconds`)

export function databaseUrl (): string {
  const url = process.env.DATABASE_URL
  if (url === undefined || url === '') {
    throw new Error('DATABASE_URL is not set: run `npm run bench`, which starts an embedded PostgreSQL when it is not set')
  }
  return url
}
