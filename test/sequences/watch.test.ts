// The bound on what the sequence watch remembers, which a database cannot exercise on cue.
import t from 'tap'
import { SequenceWatch } from '../../src/sequences/watch.js'
import type { Conflict } from '../../src/core/describe.js'

t.test('columns no sequence fills are remembered within a bound', async (t) => {
  let checks = 0
  const noSequences = { query: async () => { checks++; return { rows: [] } } }
  const watch = new SequenceWatch(noSequences, { interval: 60_000, timeout: 1000, onError: () => {} })
  const conflict = (column: string): Conflict => ({ kind: 'unique', constraint: `${column}_key`, schema: 'app', table: 't', columns: [column], fields: [column], keys: [column], values: undefined, error: { code: '23505', message: '', detail: undefined, constraint: undefined, schema: undefined, table: undefined, column: undefined, error: {} } })
  for (let i = 0; i < 1000; i++) await watch.colliding(conflict(`c${i}`))
  await watch.colliding(conflict('c0'))
  t.equal(checks, 1000, 'each column checked once')
  await watch.colliding(conflict('c1000')) // the 1001st: the memory starts again
  await watch.colliding(conflict('c0'))
  t.equal(checks, 1002, 'past the bound it starts again, so it cannot grow without end')
})
