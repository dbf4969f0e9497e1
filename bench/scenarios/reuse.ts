/**
 * 6. Names reused: the cost of describing a violation by the catalog as it is now. A check
 * violation costs the plugin one catalog version query per request (nothing in the error can
 * confirm the cached constraint); a foreign key violation, whose DETAIL confirms it, none. Both
 * against a hand-written handler that reads no catalog: the gap between the two ratios is the
 * version query's cost. Its time alone, on a catalog of 10 000 indexes, is in scenario 5.
 */
import { compareApps, httpFigure, startLoad } from '../lib/http.js'
import type { ScenarioResult } from '../lib/report.js'

export async function reuse (log: (line: string) => void): Promise<ScenarioResult> {
  const load = startLoad()
  try {
    log('POST /check (check violation: a version query each) and POST /fk (foreign key violation: none): plugin vs hand-written')
    const [check, fk] = await compareApps(load, { a: 'reuse-plugin', b: 'reuse-handwritten' }, [
      { method: 'POST', path: '/check', status: 422 },
      { method: 'POST', path: '/fk', status: 422 }
    ], log)
    if (check === undefined || fk === undefined) throw new Error('a comparison is missing')
    return {
      figures: [
        httpFigure('6 names reused', 'check violation → 422, the plugin asking the catalog version each time: A plugin ÷ B hand-written (no catalog)', check, 'none set'),
        httpFigure('6 names reused', 'foreign key violation → 422, DETAIL confirming the cached constraint (no query): A plugin ÷ B hand-written', fk, 'none set')
      ],
      raw: { check, fk }
    }
  } finally {
    await load.stop()
  }
}
