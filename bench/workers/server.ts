/**
 * A Fastify app under load, in a process of its own (pinned to the server CPU by bench/run.ts).
 * `start` builds the app named by BENCH_APP in bench/apps and listens on a free loopback port.
 */
import type { AddressInfo } from 'node:net'
import { apps, type BenchApp } from '../apps/index.js'
import { databaseUrl } from '../lib/config.js'
import { benchSchema, schemaPool } from '../lib/db.js'
import { serve } from '../lib/processes.js'

const name = process.env.BENCH_APP ?? ''
const build = apps[name]
if (build === undefined) throw new Error(`BENCH_APP "${name}" is not one of ${Object.keys(apps).join(', ')}`)

const pool = schemaPool(databaseUrl(), benchSchema(), Number(process.env.BENCH_POOL_MAX ?? 10))
let app: BenchApp | undefined

serve({
  async start () {
    app = await build({ pool })
    await app.listen({ port: 0, host: '127.0.0.1' })
    return { port: (app.server.address() as AddressInfo).port }
  },
  /** The plugin's retry counters (apps with the plugin). */
  counters () {
    return app?.hasDecorator('pgConflict') === true ? app.pgConflict.counters() : undefined
  },
  /** CPU time this process has used, µs (user + system): per request, it does not depend on how much CPU others leave it. */
  cpu () {
    const { user, system } = process.cpuUsage()
    return user + system
  }
}, async () => {
  await app?.close()
  await pool.end()
})
