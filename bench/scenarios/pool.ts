/**
 * 6. pool.query(): the plain handler (one `pool.query()` per request), with the plugin's
 * keepConnections (its default). Targets:
 * - a conflict answered 409 through pool.query() with the plugin ÷ the same conflict on a
 *   checked-out client with the plugin (scenario 2's app): ≥ 0.9;
 * - the same ÷ pool.query() without the plugin (a hand-written error handler; pg-pool closes the
 *   connection on every error): ≥ 8;
 * - the success path through pool.query(): keepConnections ÷ keepConnections: false, ≥ 0.98;
 * and an A/A control (two identical apps) on the success path, whose ratio should be 1.
 */
import { compareApps, httpFigure, startLoad } from '../lib/http.js'
import type { ScenarioResult } from '../lib/report.js'

export async function poolQuery (log: (line: string) => void): Promise<ScenarioResult> {
  const load = startLoad()
  const conflict = { method: 'POST', path: '/conflict', status: 409 } as const
  const insert = { method: 'POST', path: '/items', status: 201 } as const
  try {
    log('POST /conflict: pool.query() with the plugin vs the same conflict on a checked-out client with the plugin')
    const [vsClient] = await compareApps(load, { a: 'pool-plugin', b: 'conflict-plugin' }, [conflict], log)
    log('POST /conflict: pool.query() with the plugin vs pool.query() without it (hand-written handler)')
    const [vsBare] = await compareApps(load, { a: 'pool-plugin', b: 'pool-handwritten' }, [conflict], log)
    log('POST /items (a successful INSERT through pool.query()): keepConnections vs keepConnections: false')
    const [success] = await compareApps(load, { a: 'pool-plugin', b: 'pool-off' }, [insert], log)
    log('control: POST /items, keepConnections: false vs the same')
    const [control] = await compareApps(load, { a: 'pool-off', b: 'pool-off' }, [insert], log)
    if (vsClient === undefined || vsBare === undefined || success === undefined || control === undefined) throw new Error('a comparison is missing')
    return {
      figures: [
        httpFigure('6 pool.query()', 'conflict → 409: A pool.query() with the plugin ÷ B the same conflict on a checked-out client with the plugin', vsClient, 0.9),
        httpFigure('6 pool.query()', 'conflict → 409: A pool.query() with the plugin ÷ B pool.query() without it (hand-written handler; every conflict closes its connection)', vsBare, 8),
        httpFigure('6 pool.query()', 'successful INSERT through pool.query(): A keepConnections ÷ B keepConnections: false', success, 0.98),
        httpFigure('6 pool.query()', 'control, successful INSERT: A ÷ B, both keepConnections: false (noise of the method)', control, '≈ 1')
      ],
      raw: { vsClient, vsBare, success, control }
    }
  } finally {
    await load.stop()
  }
}
