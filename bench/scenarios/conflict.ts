/**
 * 2. Conflict path: the same conflicting INSERT (on a checked-out client) answered by the plugin
 * vs. a hand-written setErrorHandler that regex-parses DETAIL. Target: ≥ 0.95. Then the error
 * path alone: a copy of a real node-postgres error thrown without a database.
 */
import { compareApps, httpFigure, startLoad } from '../lib/http.js'
import type { ScenarioResult } from '../lib/report.js'

const TARGET = 0.95

export async function conflict (log: (line: string) => void): Promise<ScenarioResult> {
  const load = startLoad()
  try {
    log('POST /conflict (conflicting INSERT, checked-out client) and POST /thrown (copied pg error, no database): plugin vs hand-written')
    const [database, thrown] = await compareApps(load, { a: 'conflict-plugin', b: 'conflict-handwritten' }, [
      { method: 'POST', path: '/conflict', status: 409 },
      { method: 'POST', path: '/thrown', status: 409 }
    ], log)
    if (database === undefined || thrown === undefined) throw new Error('a comparison is missing')
    return {
      figures: [
        httpFigure('2 conflict path', 'conflicting INSERT → 409: A plugin ÷ B hand-written handler', database, TARGET),
        httpFigure('2 conflict path', 'error path alone (a copied pg error, no database) → 409: A plugin ÷ B hand-written', thrown, 'none set')
      ],
      raw: { database, thrown }
    }
  } finally {
    await load.stop()
  }
}
