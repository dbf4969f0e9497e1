/**
 * HTTP comparisons: servers under test in pinned child processes, autocannon in another, two
 * apps compared over interleaved rounds on requests per second (and on the server's CPU time
 * per request).
 *
 * Each round starts a fresh pair of server processes: two identical Node processes can differ
 * for their whole life (JIT decisions, code layout; up to 20 % seen here), which rounds within
 * one pair of processes would never average out. The A/A control of the success scenario shows
 * what noise is left.
 */
import { fileURLToPath } from 'node:url'
import { config } from './config.js'
import { pinning, startWorker, type Child } from './processes.js'
import { inTurn, median, ratio, type Ratio } from './rounds.js'
import { showNumber, showRatio, type Figure } from './report.js'
import type { LoadOptions, LoadResult } from '../workers/load.js'

export interface Server {
  child: Child
  origin: string
}

/** With BENCH_CPU_PROF=1, each server writes a V8 CPU profile (open it in Chrome DevTools) in profiles/<app>/ when it stops. */
const PROFILES = fileURLToPath(new URL('../results/profiles/', import.meta.url))

/** Starts bench/apps' `app` in a server process pinned to the server CPU. */
export async function startServer (app: string, env: NodeJS.ProcessEnv = {}): Promise<Server> {
  const nodeFlags = process.env.BENCH_CPU_PROF === '1' ? ['--cpu-prof', '--cpu-prof-dir', `${PROFILES}${app}`] : []
  const child = startWorker('server', { cpu: pinning.server, env: { BENCH_APP: app, ...env }, label: `server ${app}`, nodeFlags })
  const { port } = await child.call<{ port: number }>('start')
  return { child, origin: `http://127.0.0.1:${port}` }
}

export function startLoad (): Child {
  return startWorker('load', { cpu: pinning.load, label: 'load generator' })
}

/** A route to load, and the status every answer must have (else the comparison would measure something else). */
export interface Route {
  method: 'GET' | 'POST'
  path: string
  body?: unknown
  status: number
}

export interface Target extends Route {
  server: Server
}

export interface HitResult extends LoadResult {
  /** The server's CPU time over the run, µs. */
  cpu: number
  /** The same per request answered. */
  cpuPerRequest: number
}

/** Slices of one arm's load in a round, as one result: totals, and the median slice's latencies. */
function merge (parts: readonly HitResult[]): HitResult {
  const requests = parts.reduce((sum, p) => sum + p.requests, 0)
  const seconds = parts.reduce((sum, p) => sum + p.seconds, 0)
  const cpu = parts.reduce((sum, p) => sum + p.cpu, 0)
  const statuses: Record<string, number> = {}
  for (const p of parts) for (const [code, n] of Object.entries(p.statuses)) statuses[code] = (statuses[code] ?? 0) + n
  return {
    rps: requests / seconds,
    requests,
    seconds,
    p50: median(parts.map((p) => p.p50)),
    p99: median(parts.map((p) => p.p99)),
    statuses,
    errors: parts.reduce((sum, p) => sum + p.errors, 0),
    cpu,
    cpuPerRequest: cpu / requests
  }
}

/**
 * One timed autocannon run against `target`, with the server's CPU time over it. A run in which
 * not a single response came back (the database stalled past the run's end) is run again, twice
 * at most; an unexpected status fails the comparison, which would measure something else.
 */
export async function hit (load: Child, target: Target, duration: number, tries = 3): Promise<HitResult> {
  const options: LoadOptions = { url: `${target.server.origin}${target.path}`, method: target.method, body: target.body, connections: config.connections, duration }
  const cpuBefore = await target.server.child.call<number>('cpu')
  const result = await load.call<LoadResult>('autocannon', options)
  const cpu = await target.server.child.call<number>('cpu') - cpuBefore
  const unexpected = Object.entries(result.statuses).filter(([code, n]) => Number(code) !== target.status && n > 0)
  if (result.errors > 0 || unexpected.length > 0) {
    throw new Error(`${target.method} ${target.path}: expected only ${target.status}, got ${JSON.stringify(result.statuses)} and ${result.errors} errors`)
  }
  if (result.requests === 0) {
    if (tries > 1) return await hit(load, target, duration, tries - 1)
    throw new Error(`${target.method} ${target.path}: no response in ${duration} s, three times`)
  }
  return { ...result, cpu, cpuPerRequest: cpu / result.requests }
}

export interface Comparison {
  /** Requests per second of A ÷ B, per round. */
  rps: Ratio
  /**
   * Requests per second of the server's own CPU time, A ÷ B, per round: the server's CPU cost per
   * request, B ÷ A. What req/s would show on an idle core, and far less sensitive to other load.
   */
  perCpu: Ratio
  medianCpuPerRequest: { a: number, b: number }
  /** p99 latency of A ÷ B, per round. */
  p99: Ratio
  medianRps: { a: number, b: number }
  medianP99: { a: number, b: number }
  /** What each app answered, once (first round). */
  answers: { a: unknown, b: unknown }
  rounds: { a: HitResult[], b: HitResult[] }
}

/** Starts both apps' servers at once; stops the one that started if the other did not. */
async function startPair (apps: { a: string, b: string }): Promise<{ a: Server, b: Server }> {
  const [a, b] = await Promise.allSettled([startServer(apps.a), startServer(apps.b)])
  if (a.status === 'fulfilled' && b.status === 'fulfilled') return { a: a.value, b: b.value }
  await Promise.all([a, b].map(async (started) => { if (started.status === 'fulfilled') await started.value.child.stop() }))
  throw [a, b].find((started) => started.status === 'rejected')?.reason
}

/**
 * App A against app B on each route, over config.rounds rounds. Each round: a fresh server
 * process per app; then per route, both warmed, then measured in config.slices slices per app,
 * alternating (round 1: A B A B…, round 2: B A B A…).
 */
export async function compareApps (load: Child, apps: { a: string, b: string }, routes: readonly Route[], log: (line: string) => void): Promise<Comparison[]> {
  const results = routes.map(() => ({ a: [] as HitResult[], b: [] as HitResult[], answers: { a: undefined as unknown, b: undefined as unknown } }))
  for (let round = 0; round < config.rounds; round++) {
    const servers = await startPair(apps)
    try {
      const arms = inTurn(['a', 'b'] as const, round)
      for (const [i, route] of routes.entries()) {
        const result = results[i] as (typeof results)[number]
        // Strictly alternating, warm-up included (A B, then A B A B…): a process measured right
        // after its own load runs slower (its GC and JIT threads, on the same pinned CPU, are
        // still at work), so every measured slice of either arm follows a slice of the other.
        if (config.warmup > 0) for (const arm of arms) await hit(load, { ...route, server: servers[arm] }, config.warmup)
        const slices = { a: [] as HitResult[], b: [] as HitResult[] }
        for (let slice = 0; slice < config.slices; slice++) {
          for (const arm of arms) slices[arm].push(await hit(load, { ...route, server: servers[arm] }, config.duration / config.slices))
        }
        result.a.push(merge(slices.a))
        result.b.push(merge(slices.b))
        if (round === 0) result.answers = { a: await answer({ ...route, server: servers.a }), b: await answer({ ...route, server: servers.b }) }
      }
    } finally {
      await Promise.all([servers.a.child.stop(), servers.b.child.stop()])
    }
    log(`round ${round + 1}/${config.rounds}: ${inTurn([apps.a, apps.b], round).join(', ')} (fresh processes)`)
  }
  return results.map(({ a, b, answers }) => ({
    rps: ratio(a.map((r) => r.rps), b.map((r) => r.rps)),
    perCpu: ratio(b.map((r) => r.cpuPerRequest), a.map((r) => r.cpuPerRequest)),
    medianCpuPerRequest: { a: median(a.map((r) => r.cpuPerRequest)), b: median(b.map((r) => r.cpuPerRequest)) },
    p99: ratio(a.map((r) => r.p99), b.map((r) => r.p99)),
    medianRps: { a: median(a.map((r) => r.rps)), b: median(b.map((r) => r.rps)) },
    medianP99: { a: median(a.map((r) => r.p99)), b: median(b.map((r) => r.p99)) },
    answers,
    rounds: { a, b }
  }))
}

/** One response's status and body, to show what each app answers. */
async function answer (target: Target): Promise<{ status: number, body: unknown }> {
  const response = await fetch(`${target.server.origin}${target.path}`, {
    method: target.method,
    ...(target.body === undefined ? {} : { body: JSON.stringify(target.body), headers: { 'content-type': 'application/json' } })
  })
  return { status: response.status, body: await response.json() as unknown }
}

/**
 * A comparison's line in the table: requests per second (the figure the target is about), and
 * requests per CPU-second of the server (its CPU cost per request, inverted), which other load
 * on the machine disturbs far less.
 */
export function httpFigure (scenario: string, measure: string, c: Comparison, target: number | string): Figure {
  return {
    scenario,
    measure: `${measure}; req/s, and req per server CPU-second`,
    a: `${showNumber(c.medianRps.a)} req/s, ${showNumber(c.medianCpuPerRequest.a)} µs CPU/req`,
    b: `${showNumber(c.medianRps.b)} req/s, ${showNumber(c.medianCpuPerRequest.b)} µs CPU/req`,
    result: `req/s ${showRatio(c.rps)}; per CPU-s ${showRatio(c.perCpu)}`,
    ...(typeof target === 'string' ? { target } : { target: `≥ ${target}`, met: c.rps.median >= target })
  }
}
