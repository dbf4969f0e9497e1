/**
 * 4. Races: n concurrent check-then-insert requests on one key (a fresh key per race), with the
 * plugin's route retry and without. Reports the share of 2xx answers, rows created per key, and
 * latency (p50/p99 over every request of every race), races of the two arms interleaved.
 */
import { config, databaseUrl } from '../lib/config.js'
import { benchSchema, schemaPool } from '../lib/db.js'
import { startLoad, startServer } from '../lib/http.js'
import { showNumber, showRatio, type ScenarioResult } from '../lib/report.js'
import { interleave, median, percentile, ratio } from '../lib/rounds.js'
import type { BurstResponse } from '../workers/load.js'

interface Race {
  key: string
  statuses: Record<string, number>
  share2xx: number
  rows: number
  latencies: number[]
  p50: number
  p99: number
}

export async function races (log: (line: string) => void): Promise<ScenarioResult> {
  const server = await startServer('races', { BENCH_POOL_MAX: String(config.raceSize) })
  const load = startLoad()
  const db = schemaPool(databaseUrl(), benchSchema(), 1)
  let n = 0
  const race = async (path: string): Promise<Race> => {
    const key = `race-${n++}-${path.replaceAll('/', '')}@example.com`
    const responses = await load.call<BurstResponse[]>('burst', { origin: server.origin, path, body: { email: key }, count: config.raceSize })
    const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM accounts WHERE email = $1', [key])
    const statuses: Record<string, number> = {}
    for (const r of responses) statuses[r.status] = (statuses[r.status] ?? 0) + 1
    const latencies = responses.map((r) => r.ms)
    return {
      key,
      statuses,
      share2xx: responses.filter((r) => r.status >= 200 && r.status < 300).length / responses.length,
      rows: rows[0]?.n ?? 0,
      latencies,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99)
    }
  }
  try {
    log(`${config.raceBatches} races of ${config.raceSize} requests per arm, interleaved`)
    await race('/race/retry') // warm-up: connections, JIT, catalog
    await race('/race/plain')
    type Counts = Record<string, { retried: number, recovered: number, gaveUp: number }>
    const countersBefore = await server.child.call<Counts>('counters')
    const samples = await interleave([
      { name: 'retry', run: async () => await race('/race/retry') },
      { name: 'plain', run: async () => await race('/race/plain') }
    ], config.raceBatches)
    const retry = samples.retry as Race[]
    const plain = samples.plain as Race[]
    const summary = (arm: Race[]): { share2xx: number, rows: number[], statuses: Record<string, number>, p50: number, p99: number } => {
      const all = arm.flatMap((r) => r.latencies)
      const statuses: Record<string, number> = {}
      for (const r of arm) for (const [code, count] of Object.entries(r.statuses)) statuses[code] = (statuses[code] ?? 0) + count
      return { share2xx: median(arm.map((r) => r.share2xx)), rows: [...new Set(arm.map((r) => r.rows))], statuses, p50: percentile(all, 50), p99: percentile(all, 99) }
    }
    const countersAfter = await server.child.call<Counts>('counters')
    const counters: Counts = {}
    for (const [constraint, after] of Object.entries(countersAfter)) {
      const before = countersBefore[constraint] ?? { retried: 0, recovered: 0, gaveUp: 0 }
      counters[constraint] = { retried: after.retried - before.retried, recovered: after.recovered - before.recovered, gaveUp: after.gaveUp - before.gaveUp }
    }
    const a = summary(retry)
    const b = summary(plain)
    const pct = (x: number): string => `${(x * 100).toFixed(1)} %`
    const statusText = (s: Record<string, number>): string => Object.entries(s).map(([code, count]) => `${code}×${count}`).join(' ')
    const ms = (x: number): string => `${showNumber(x, 1)} ms`
    const scenario = `4 races (${config.raceSize} at once)`
    return {
      figures: [
        {
          scenario,
          measure: `share of 2xx per race, median (A with retry, B without); all answers: A ${statusText(a.statuses)}, B ${statusText(b.statuses)}`,
          a: pct(a.share2xx),
          b: pct(b.share2xx),
          result: `rows per key: A ${a.rows.join('/')}, B ${b.rows.join('/')}; A's handler runs again: ${Object.values(counters).map((c) => `${c.retried} retried, ${c.recovered} recovered, ${c.gaveUp} gave up`).join('; ')}`,
          target: 'A 100 %, 1 row per key',
          met: a.share2xx === 1 && retry.every((r) => r.share2xx === 1) && [...a.rows, ...b.rows].every((rows) => rows === 1)
        },
        {
          scenario,
          measure: 'latency p50 over all requests, A with retry ÷ B without (result: per-race ratio)',
          a: ms(a.p50),
          b: ms(b.p50),
          result: showRatio(ratio(retry.map((r) => r.p50), plain.map((r) => r.p50)), 2)
        },
        {
          scenario,
          measure: 'latency p99 over all requests, A with retry ÷ B without (result: per-race ratio)',
          a: ms(a.p99),
          b: ms(b.p99),
          result: showRatio(ratio(retry.map((r) => r.p99), plain.map((r) => r.p99)), 2)
        }
      ],
      raw: { retry: a, plain: b, counters, races: { retry, plain } }
    }
  } finally {
    await Promise.all([server.child.stop(), load.stop(), db.end()])
  }
}
