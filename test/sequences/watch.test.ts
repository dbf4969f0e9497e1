// The bound on what the sequence watch remembers, which a database cannot exercise on cue.
import t from 'tap'
import { SequenceWatch } from '../../src/sequences/watch.js'
import type { Conflict } from '../../src/core/describe.js'
import { Deadline } from '../../src/util/deadline.js'

t.test('columns no sequence fills are remembered within a bound', async (t) => {
  let checks = 0
  const noSequences = { query: async () => { checks++; return { rows: [] } } }
  const watch = new SequenceWatch(noSequences, { interval: 60_000, lockTimeout: 1000, onError: () => {} })
  const conflict = (column: string): Conflict => ({ kind: 'unique', constraint: `${column}_key`, schema: 'app', table: 't', columns: [column], fields: [column], keys: [column], values: undefined, error: { code: '23505', message: '', detail: undefined, constraint: undefined, schema: undefined, table: undefined, column: undefined, error: {} } })
  for (let i = 0; i < 1000; i++) await watch.colliding(conflict(`c${i}`), new Deadline(1000))
  await watch.colliding(conflict('c0'), new Deadline(1000))
  t.equal(checks, 1000, 'each column checked once')
  await watch.colliding(conflict('c1000'), new Deadline(1000)) // the 1001st: the memory starts again
  await watch.colliding(conflict('c0'), new Deadline(1000))
  t.equal(checks, 1002, 'past the bound it starts again, so it cannot grow without end')
})

t.test('a recheck that fails (the sequence read again for a conflict the last check cannot judge) is told, and the conflict stays the client\'s', async (t) => {
  const errors: unknown[] = []
  let states = 0
  const db = {
    query: async (text: string) => {
      if (text.includes('pg_attrdef')) {
        return { rows: [{ schema: 'app', table: 't', column: 'id', kind: 'serial', sequence: 'app.t_id_seq', qualified_table: 'app.t', quoted_column: 'id' }] }
      }
      if (++states > 1) throw new Error('connection lost')
      return { rows: [{ handed_out: '3', next: '4', readable: true, usable: true, increment_by: '1', max: '10', target: '10', collides: true }] }
    }
  }
  const watch = new SequenceWatch(db, { interval: 60_000, lockTimeout: 1000, onError: (error) => errors.push(error) })
  const conflict = (): Conflict => ({ kind: 'unique', constraint: 't_pkey', schema: 'app', table: 't', columns: ['id'], fields: ['id'], keys: ['id'], values: ['5'], error: { code: '23505', message: '', detail: undefined, constraint: undefined, schema: undefined, table: undefined, column: undefined, error: {} } })
  t.equal(await watch.colliding(conflict(), new Deadline(1000)), undefined, 'a check made for this conflict: 5 was never handed out, the client\'s')
  t.equal(await watch.colliding(conflict(), new Deadline(1000)), undefined, 'the next one, the check older: read again, which fails: the client\'s')
  t.match(errors, [{ message: 'connection lost' }])
})

t.test('a repair that finds the column no longer filled from a sequence: done, nothing recorded', async (t) => {
  const db = { query: async () => ({ rows: [] }) }
  const watch = new SequenceWatch(db, { interval: 60_000, lockTimeout: 1000, onError: () => {} })
  const check = { schema: 'app', table: 't', column: 'id', sequence: 'app.t_id_seq', kind: 'serial' as const, lastValue: '3', isCalled: true, incrementBy: '1', max: '10', behind: true, collides: true, target: '10', outlier: null, fixSql: null }
  t.same(await watch.repair(check, new Deadline(1000)), { repair: undefined, done: true, late: false })
})

t.test('conflicts met while a repair runs are judged once it ends: those on ids handed out before it are the fault, later ones by the sequence as it is', async (t) => {
  let release: (() => void) | undefined
  const state = { handed_out: '5', collides: true }
  const db = {
    query: async (text: string): Promise<{ rows: unknown[] }> => {
      if (text.includes('pg_attrdef')) return { rows: [{ schema: 'app', table: 't', column: 'id', kind: 'serial', sequence: 'app.t_id_seq', qualified_table: 'app.t', quoted_column: 'id' }] }
      if (text.includes('LOCK TABLE')) {
        await new Promise<void>((resolve) => { release = resolve })
        Object.assign(state, { handed_out: '10', collides: false })
        // (node-postgres answers several statements with one result each; the last is the SELECT's)
        return [{ rows: [] }, { rows: [] }, { rows: [{ max: '10', before: '5', target: '10', moved_to: '10' }] }] as unknown as { rows: unknown[] }
      }
      if (text.includes('WITH st')) return { rows: [{ ...state, next: String(Number(state.handed_out) + 1), readable: true, usable: true, increment_by: '1', max: '10', target: '10' }] }
      return { rows: [{ read: false }] } // the repair's look at a restarted sequence
    }
  }
  const watch = new SequenceWatch(db, { interval: 60_000, lockTimeout: 1000, onError: () => {} })
  const conflict = (value: string): Conflict => ({ kind: 'unique', constraint: 't_pkey', schema: 'app', table: 't', columns: ['id'], fields: ['id'], keys: ['id'], values: [value], error: { code: '23505', message: '', detail: undefined, constraint: undefined, schema: undefined, table: undefined, column: undefined, error: {} } })
  const first = await watch.colliding(conflict('3'), new Deadline(1000))
  t.ok(first, 'the sequence colliding, 3 handed out: the fault')
  const repairing = watch.repair(first as NonNullable<typeof first>, new Deadline(1000))
  await new Promise((resolve) => setTimeout(resolve, 10))
  const during = watch.colliding(conflict('4'), new Deadline(1000)) // met while the repair runs
  release?.()
  t.match(await repairing, { repair: { moved: true, before: '5' }, done: true })
  t.ok(await during, 'judged after the repair: 4 was handed out before it, the fault (though the sequence no longer collides)')
  t.equal(await watch.colliding(conflict('4'), new Deadline(1000)), undefined, 'the same id met after the repair: the sequence is fine, a client\'s duplicate')
})
