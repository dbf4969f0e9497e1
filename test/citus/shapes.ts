// The errors the unit tests of src/core/dialects.ts read (test/citus/captured.ts) are the ones
// Citus sends: each is raised again on the cluster and its fields compared, all of them.
import type { Test } from 'tap'
import { CAPTURED, CAPTURED_SCHEMA } from './captured.js'
import { citusSchema } from './cluster.js'
import { CAPTURES, createScenario, normalised, raise, type CaptureName } from './scenario.js'

export async function shapes (t: Test, url: string): Promise<void> {
  const db = await citusSchema(t, url, 'shapes')
  await createScenario(db)
  const worker = db.newPool({ port: await db.workerOf('accounts', 1) })
  for (const name of Object.keys(CAPTURES) as CaptureName[]) {
    t.test(name, async (t) => {
      const capture = CAPTURES[name]
      const live = await raise(capture.via === 'worker' ? worker : db.pool, capture)
      t.same(normalised(live, db.schema), normalised(CAPTURED[name](), CAPTURED_SCHEMA), 'the same fields as captured (shard ids, address and schema aside)')
    })
  }
}
