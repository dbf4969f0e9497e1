/**
 * The load generator, in a process of its own (pinned to the load CPU by bench/run.ts).
 * `autocannon`: a timed run; `burst`: n requests sent at the same moment on warm connections.
 */
import autocannon from 'autocannon'
import http from 'node:http'
import { serve } from '../lib/processes.js'

export interface LoadOptions {
  url: string
  method: 'GET' | 'POST'
  body?: unknown
  connections: number
  /** Seconds. */
  duration: number
}

export interface LoadResult {
  /** Responses per second: requests answered / seconds. */
  rps: number
  requests: number
  /** How long the run took, s (autocannon's measure, to 10 ms). */
  seconds: number
  /** Latency, ms. */
  p50: number
  p99: number
  /** Responses by status code. */
  statuses: Record<string, number>
  errors: number
}

async function run (options: LoadOptions): Promise<LoadResult> {
  const result = await autocannon({
    url: options.url,
    method: options.method,
    connections: options.connections,
    duration: options.duration,
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body), headers: { 'content-type': 'application/json' } })
  })
  const statuses: Record<string, number> = {}
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) statuses[code] = stat.count ?? 0
  return {
    rps: result.requests.total / result.duration,
    requests: result.requests.total,
    seconds: result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    statuses,
    errors: result.errors
  }
}

export interface BurstOptions {
  /** Base URL, e.g. http://127.0.0.1:1234 */
  origin: string
  path: string
  body: unknown
  count: number
}

export interface BurstResponse {
  status: number
  /** From sending the request to the end of the response, ms. */
  ms: number
}

const agents = new Map<number, http.Agent>()

function agentFor (count: number): http.Agent {
  let agent = agents.get(count)
  if (agent === undefined) {
    agent = new http.Agent({ keepAlive: true, maxSockets: count, maxFreeSockets: count })
    agents.set(count, agent)
  }
  return agent
}

function request (agent: http.Agent, url: string, method: string, body: string | undefined): Promise<BurstResponse> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const req = http.request(url, { method, agent, headers: body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume()
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }) })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** Opens `count` keep-alive connections (a GET /ping on each), then sends `count` requests at once. */
async function burst (options: BurstOptions): Promise<BurstResponse[]> {
  const agent = agentFor(options.count)
  await Promise.all(Array.from({ length: options.count }, async () => await request(agent, `${options.origin}/ping`, 'GET', undefined)))
  const body = JSON.stringify(options.body)
  return await Promise.all(Array.from({ length: options.count }, async () => await request(agent, `${options.origin}${options.path}`, 'POST', body)))
}

serve({
  autocannon: run,
  burst
}, async () => {
  for (const agent of agents.values()) agent.destroy()
})
