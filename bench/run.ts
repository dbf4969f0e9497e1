/**
 * `npm run bench`: every benchmark of bench/scenarios against the PostgreSQL in DATABASE_URL
 * (scripts/with-database.ts starts an embedded one when it is not set), in a schema of the run's
 * own. Prints the results as a Markdown table and writes them, with the raw data, to bench/results/.
 */
import { execFileSync } from 'node:child_process'
import os from 'node:os'
import pg from 'pg'
import { config, databaseUrl } from './lib/config.js'
import { createSchema, dropSchema } from './lib/db.js'
import { pinning } from './lib/processes.js'
import { markdownTable, writeResults, type ScenarioResult } from './lib/report.js'
import { catalog } from './scenarios/catalog.js'
import { conflict } from './scenarios/conflict.js'
import { multi } from './scenarios/multi.js'
import { poolQuery } from './scenarios/pool.js'
import { races } from './scenarios/races.js'
import { replay } from './scenarios/replay.js'
import { resolution } from './scenarios/resolution.js'
import { reuse } from './scenarios/reuse.js'
import { success } from './scenarios/success.js'

const scenarios: Record<string, (log: (line: string) => void) => Promise<ScenarioResult>> = { success, conflict, pool: poolQuery, resolution, races, catalog, reuse, multi, replay }
const unknown = config.only.filter((name) => !(name in scenarios))
if (unknown.length > 0) throw new Error(`BENCH_ONLY: unknown scenario ${unknown.join(', ')} (known: ${Object.keys(scenarios).join(', ')})`)
const selected = config.only.length > 0 ? config.only : Object.keys(scenarios)

const log = (line: string): void => { console.error(`# ${line}`) }
const url = databaseUrl()
const schema = `fpc_bench_${process.pid}`
process.env.BENCH_SCHEMA = schema // the workers inherit it

async function serverVersion (): Promise<string> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return ((await client.query<{ server_version: string }>('SHOW server_version')).rows[0] as { server_version: string }).server_version
  } finally {
    await client.end()
  }
}

function commit (): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim()
  } catch {
    return 'unknown'
  }
}

const started = performance.now()
const meta = {
  date: new Date().toISOString(),
  commit: commit(),
  node: process.version,
  postgres: await serverVersion(),
  cpus: `${os.availableParallelism()} × ${os.cpus()[0]?.model ?? 'unknown'}`,
  os: `${os.type()} ${os.release()}`,
  pinning: pinning.note,
  config
}
log(`${meta.cpus}, Node ${meta.node}, PostgreSQL ${meta.postgres}; ${pinning.note}`)
log(`${config.rounds} interleaved rounds of ${config.duration} s per arm in ${config.slices} slices (BENCH_ROUNDS, BENCH_DURATION, BENCH_SLICES); scenarios: ${selected.join(', ')}`)

const results: Record<string, ScenarioResult | { error: string }> = {}
const seconds: Record<string, number> = {}
await createSchema(url, schema)
try {
  for (const name of selected) {
    const begun = performance.now()
    log(`== ${name}`)
    try {
      results[name] = await (scenarios[name] as (log: (line: string) => void) => Promise<ScenarioResult>)((line) => { log(`${name}: ${line}`) })
    } catch (error) {
      log(`${name} FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
      results[name] = { error: String(error) }
    }
    seconds[name] = Math.round((performance.now() - begun) / 100) / 10
    log(`${name}: ${seconds[name]} s`)
  }
} finally {
  await dropSchema(url, schema)
}

const total = Math.round((performance.now() - started) / 1000)
const ok = Object.values(results).filter((r): r is ScenarioResult => 'figures' in r)
const failed = Object.entries(results).filter(([, r]) => 'error' in r).map(([name]) => name)
const markdown = [
  `Run of ${meta.date.slice(0, 16).replace('T', ' ')} UTC, commit ${meta.commit}: ${meta.cpus}, ${meta.os}, Node ${meta.node}, PostgreSQL ${meta.postgres} on loopback.`,
  `${pinning.note}. HTTP: ${config.rounds} rounds, each on a fresh pair of server processes, ${config.duration} s per arm and route in ${config.slices} alternating slices (A B A B, then B A B A), ${config.connections} connections. Ratios: median of the per-round ratios, range over the rounds in parentheses. ${total} s in all.`,
  '',
  markdownTable(ok.flatMap((r) => r.figures)),
  ...ok.flatMap((r) => r.markdown === undefined ? [] : ['', r.markdown]),
  ...(failed.length > 0 ? ['', `**Failed:** ${failed.join(', ')} (see the log).`] : [])
].join('\n')

const stamp = meta.date.replaceAll(':', '-').slice(0, 19)
const files = await writeResults(new URL('./results/', import.meta.url), stamp, { meta: { ...meta, seconds: { ...seconds, total } }, results }, markdown)
console.log(markdown)
log(`written: ${files.slice(0, 2).join(', ')} (and latest.*)`)
process.exitCode = failed.length > 0 ? 1 : 0
