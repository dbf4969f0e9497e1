/**
 * 1. Success path: the plugin registered vs. not, on a route without database and on a route whose
 * INSERT succeeds. Target: plugin ÷ bare ≥ 0.98 in requests per second. And a control: two
 * identical apps without the plugin, compared the same way, whose ratio should be 1: how far it
 * strays is the noise of the method in this run.
 */
import { compareApps, httpFigure, startLoad } from '../lib/http.js'
import type { ScenarioResult } from '../lib/report.js'

const TARGET = 0.98

export async function success (log: (line: string) => void): Promise<ScenarioResult> {
  const load = startLoad()
  try {
    log('GET /ping (no database) and POST /items (a successful INSERT): plugin vs bare')
    const [ping, insert] = await compareApps(load, { a: 'success-plugin', b: 'success-bare' }, [
      { method: 'GET', path: '/ping', status: 200 },
      { method: 'POST', path: '/items', status: 201 }
    ], log)
    log('control: GET /ping, bare vs bare')
    const [control] = await compareApps(load, { a: 'success-bare', b: 'success-bare' }, [{ method: 'GET', path: '/ping', status: 200 }], log)
    if (ping === undefined || insert === undefined || control === undefined) throw new Error('a comparison is missing')
    return {
      figures: [
        httpFigure('1 success path', 'GET, no database: A plugin ÷ B without', ping, TARGET),
        httpFigure('1 success path', 'POST, successful INSERT: A plugin ÷ B without', insert, TARGET),
        httpFigure('1 success path', 'control, GET, no database: A ÷ B, both without the plugin (noise of the method)', control, '≈ 1')
      ],
      raw: { ping, insert, control }
    }
  } finally {
    await load.stop()
  }
}
