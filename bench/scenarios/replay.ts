/**
 * 8. Idempotent replays (docs/replays.md): what `config.conflict.replay` costs. The same app with
 * and without it on the route: a successful INSERT (target ≥ 0.98: nothing is added there); a
 * conflict that is no replay (the one query, then the 409: its cost on the conflict path); and a
 * replay against the same done by hand in an onConflict hook (a SELECT and a send). An A/A control
 * on the conflict route.
 */
import { compareApps, httpFigure, startLoad } from '../lib/http.js'
import type { ScenarioResult } from '../lib/report.js'

export async function replay (log: (line: string) => void): Promise<ScenarioResult> {
  const load = startLoad()
  const items = { method: 'POST', path: '/items', status: 201 } as const
  const conflict = { method: 'POST', path: '/conflict', status: 409, body: { ref: 'taken', note: 'other' } } as const
  const replayed = { method: 'POST', path: '/replayed', status: 200, body: { ref: 'taken', note: 'first' } } as const
  try {
    log('POST /items (success), /conflict (409 after the replay query) and /replayed (200): replay on vs off (a hand-written replay on /replayed)')
    const [success, notReplay, replays] = await compareApps(load, { a: 'replay-on', b: 'replay-off' }, [items, conflict, replayed], log)
    log('control: POST /conflict, replay off vs the same')
    const [control] = await compareApps(load, { a: 'replay-off', b: 'replay-off' }, [conflict], log)
    if (success === undefined || notReplay === undefined || replays === undefined || control === undefined) throw new Error('a comparison is missing')
    return {
      figures: [
        httpFigure('8 replay', 'successful INSERT: A route with replay ÷ B without', success, 0.98),
        httpFigure('8 replay', 'conflict, not a replay (→ 409): A with replay (one query more) ÷ B without', notReplay, 'none set'),
        httpFigure('8 replay', 'a replay (→ 200 with the row): A replay ÷ B a hand-written onConflict hook (SELECT, send)', replays, 'none set'),
        httpFigure('8 replay', 'control, conflict → 409: A ÷ B, both without replay (noise of the method)', control, '≈ 1')
      ],
      raw: { success, notReplay, replays, control }
    }
  } finally {
    await load.stop()
  }
}
