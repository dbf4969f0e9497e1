/**
 * 3. Resolution micro-benchmark, in a process of its own (pinned to the server CPU, nothing else
 * running). `timing`: ns per description with tinybench, every (case, contestant) pair an arm of
 * the interleaved rounds. `allocation` (run with --expose-gc and a large young generation):
 * bytes allocated per description, and bytes the kept result holds.
 */
import { Bench } from 'tinybench'
import v8 from 'node:v8'
import { config, databaseUrl } from '../lib/config.js'
import { captureCases, contestants, type Case, type Contestant } from '../lib/contestants.js'
import { benchSchema, schemaPool } from '../lib/db.js'
import { serve } from '../lib/processes.js'
import { interleave, median, type Arm } from '../lib/rounds.js'

const pool = schemaPool(databaseUrl(), benchSchema(), 1)
const { cases, catalog } = await captureCases(pool, benchSchema())
const all = contestants(catalog, cases)
let sink: unknown

/** Calls per tinybench sample: a call takes well under a microsecond, below the timer's grain. */
const BATCH = 200

async function nsPerCall (describe: () => unknown): Promise<number> {
  const bench = new Bench({ time: config.microTime, warmup: false, iterations: 16 })
  bench.add('batch', () => {
    const start = performance.now()
    for (let i = 0; i < BATCH; i++) sink = describe()
    const elapsed = performance.now() - start
    return { overriddenDuration: elapsed / BATCH, overriddenIterationCost: elapsed }
  })
  await bench.run()
  const task = bench.tasks[0]
  const result = task?.result
  if (result === undefined || !('latency' in result)) throw new Error('tinybench gave no latency')
  return result.latency.p50 * 1e6 // ms → ns
}

function key (c: Case, contestant: Contestant): string {
  return `${c.name}\u0000${contestant.name}`
}

async function timing (): Promise<Record<string, Record<string, number[]>>> {
  const arms: Array<Arm<number>> = []
  for (const c of cases) {
    for (const contestant of all) arms.push({ name: key(c, contestant), run: async () => await nsPerCall(() => contestant.describe(c)) })
  }
  const samples = await interleave(arms, config.rounds, { warmup: true })
  const byCase: Record<string, Record<string, number[]>> = {}
  for (const c of cases) {
    byCase[c.name] = Object.fromEntries(all.map((contestant) => [contestant.name, samples[key(c, contestant)] as number[]]))
  }
  return byCase
}

declare const gc: () => void

function heapUsed (): number {
  return v8.getHeapStatistics().used_heap_size
}

/** Calls `fn` n times; one function for every measurement, so that it is compiled before any is measured. */
function repeat (fn: () => unknown, n: number, kept?: unknown[]): void {
  for (let i = 0; i < n; i++) {
    const result = fn()
    if (kept !== undefined) kept[i] = result
    else sink = result
  }
}

/**
 * Bytes allocated per call of `fn`: heap growth over n calls with no collection in between
 * (checked with v8.GCProfiler), after warm-up calls through the same loop so that no compilation
 * (OSR, optimisation) happens inside the measured window; the median of three measurements. And
 * bytes still held per result when every result is kept.
 */
function bytesPerCall (fn: () => unknown, n: number): { allocated: number, retained: number, calls: number } {
  const scratch: unknown[] = new Array(n).fill(undefined)
  for (let warm = 0; warm < 5; warm++) { repeat(fn, 2000); repeat(fn, 2000, scratch) }
  const allocated: number[] = []
  let calls = n
  while (allocated.length < 3) {
    gc(); gc()
    const profiler = new v8.GCProfiler()
    profiler.start()
    const before = heapUsed()
    repeat(fn, calls)
    const after = heapUsed()
    if (profiler.stop().statistics.length === 0) {
      allocated.push((after - before) / calls)
    } else {
      calls >>= 1 // a scavenge freed some of it: fewer calls
      if (calls < 100) throw new Error('could not measure allocation without a collection in between: run with a larger --max-semi-space-size')
    }
  }
  scratch.fill(undefined)
  gc(); gc()
  const keptBefore = heapUsed()
  repeat(fn, calls, scratch)
  gc(); gc()
  const retained = (heapUsed() - keptBefore) / calls
  scratch.fill(undefined)
  return { allocated: median(allocated), retained, calls }
}

function allocation (): { probe: ReturnType<typeof bytesPerCall> & { expected: number }, byCase: Record<string, Record<string, ReturnType<typeof bytesPerCall>>> } {
  if (typeof (globalThis as { gc?: unknown }).gc !== 'function') throw new Error('allocation needs node --expose-gc')
  const byCase: Record<string, Record<string, ReturnType<typeof bytesPerCall>>> = {}
  for (const c of cases) {
    byCase[c.name] = Object.fromEntries(all.map((contestant) => [contestant.name, bytesPerCall(() => contestant.describe(c), 20_000)]))
  }
  // A known allocation, to check the method: an object with two fields is five words (map,
  // properties, elements, two fields), 40 bytes (20 with pointer compression, off in Node's builds).
  const compressed = (process.config.variables as { v8_enable_pointer_compression?: unknown }).v8_enable_pointer_compression
  return { probe: { ...bytesPerCall(() => ({ a: 1, b: 2 }), 20_000), expected: compressed === 1 || compressed === true ? 20 : 40 }, byCase }
}

/** What each contestant says the fields are, per case: the point of the comparison beyond speed. */
function answers (): Record<string, Record<string, string[]>> {
  return Object.fromEntries(cases.map((c) => [c.name, Object.fromEntries(all.map((contestant) => [contestant.name, contestant.fieldsOf(contestant.describe(c))]))]))
}

serve({
  timing,
  allocation,
  answers: () => ({ answers: answers(), details: Object.fromEntries(cases.map((c) => [c.name, c.error.detail])) })
}, async () => { await pool.end() })
