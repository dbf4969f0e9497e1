/**
 * 8. All conflicts: what `allConflicts` costs. On the conflict path, the check of the table's
 * other unique keys (one read-only query) against the same route without the option; on the
 * success path, the option on against off (target ≥ 0.98: it must cost nothing there); and an
 * A/A control on the conflict route (both without the option), whose ratio shows the noise.
 */
import { TAKEN } from '../apps/multi.js'
import { compareApps, httpFigure, startLoad } from '../lib/http.js'
import type { ScenarioResult } from '../lib/report.js'

export async function multi (log: (line: string) => void): Promise<ScenarioResult> {
  const load = startLoad()
  try {
    // Each comparison on processes of its own: measured after the conflict route, the success route
    // would pay for the garbage the conflict route left (in CPU per request, when the GC collects it).
    log('POST /signup (email and user name taken → 409): allConflicts on vs off')
    const [conflict] = await compareApps(load, { a: 'multi-on', b: 'multi-off' }, [{ method: 'POST', path: '/signup', status: 409, body: TAKEN }], log)
    log('POST /signup-fresh (201): allConflicts on vs off')
    const [success] = await compareApps(load, { a: 'multi-on', b: 'multi-off' }, [{ method: 'POST', path: '/signup-fresh', status: 201, body: TAKEN }], log)
    log('control: POST /signup, off vs off')
    const [control] = await compareApps(load, { a: 'multi-off', b: 'multi-off' }, [{ method: 'POST', path: '/signup', status: 409, body: TAKEN }], log)
    if (conflict === undefined || success === undefined || control === undefined) throw new Error('a comparison is missing')
    return {
      figures: [
        httpFigure('8 all conflicts', 'conflict (2 keys taken) → 409: A allConflicts (both fields, one more query) ÷ B without (one field)', conflict, 'none set'),
        httpFigure('8 all conflicts', 'success path, INSERT → 201: A route with allConflicts ÷ B without', success, 0.98),
        httpFigure('8 all conflicts', 'control, conflict → 409: A ÷ B, both without (noise of the method)', control, '≈ 1')
      ],
      raw: { conflict, success, control }
    }
  } finally {
    await load.stop()
  }
}
