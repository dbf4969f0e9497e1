// The sequence check and repair as an attacker and as a production operator would meet them, on
// real PostgreSQL: a client that may choose ids can never steer the repair (no sequence moved to an
// id planted far ahead, no sequence exhausted), its own duplicate stays a 409, an import is still
// repaired; and all of it under the grants an application role really has (test/helpers/roles.ts):
// INSERT and SELECT on its tables, USAGE on their sequences.
import t, { type Test } from 'tap'
import type pg from 'pg'
import fastifyPgConflict, { checkSequence, repairSequence, resetSequences } from '../../src/index.js'
import { buildApp, ERROR, WARN, type LogLine } from '../helpers/app.js'
import { testDatabase } from '../helpers/db.js'
import { appRole } from '../helpers/roles.js'

const db = await testDatabase(t, 'trust_seq')
/** The application's role: INSERT, SELECT and sequence USAGE only. */
const app = await appRole(t, db, 'app')
/** A role that may also repair: UPDATE on the tables named `r_*` and on their sequences (granted per table below). */
const repairer = await appRole(t, db, 'repairer')

const INT_MAX = '2147483647'

/** A table `name (id serial, note)` holding `ids` (inserted explicitly, as an import does), its sequence then set to `last` (untouched when undefined). */
async function table (name: string, ids: string, last?: number): Promise<void> {
  await db.exec(`DROP TABLE IF EXISTS ${name};
    CREATE TABLE ${name} (id serial PRIMARY KEY, note text);
    ${ids === '' ? '' : `INSERT INTO ${name} (id, note) SELECT i, 'imported' FROM (${ids}) AS ids(i);`}
    ${last === undefined ? '' : `SELECT setval('${name}_id_seq', ${last});`}
    GRANT UPDATE ON ${name}, ${name}_id_seq TO ${repairer.name};`)
}

async function lastValue (name: string): Promise<string> {
  const { rows } = await db.pool.query<{ v: string }>(`SELECT last_value::text AS v FROM ${name}_id_seq`)
  return (rows[0] as { v: string }).v
}

/**
 * An app whose route inserts into `name` as the role `pool` connects as, taking the id the client
 * sends (`{ id }`) or the default; the plugin uses the same pool.
 */
async function appOn (test: Test, name: string, pool: pg.Pool, options: Record<string, unknown> = {}): Promise<{ post: (id?: string) => Promise<{ status: number, body: Record<string, unknown> }>, logs: LogLine[] }> {
  const { app: fastify, logs } = buildApp(test)
  await fastify.register(fastifyPgConflict, { pool, catalog: { schemas: [db.schema] }, ...options })
  fastify.post<{ Body: { id?: string } }>('/rows', async (request, reply) => {
    const { id } = request.body
    const { rows } = id === undefined
      ? await pool.query(`INSERT INTO ${name} (note) VALUES ('new') RETURNING id::text`)
      : await pool.query(`INSERT INTO ${name} (id, note) VALUES ($1, 'chosen') RETURNING id::text`, [id])
    return await reply.code(201).send(rows[0])
  })
  await fastify.ready()
  return {
    logs,
    post: async (id) => {
      const response = await fastify.inject({ method: 'POST', url: '/rows', payload: id === undefined ? {} : { id } })
      return { status: response.statusCode, body: response.json() }
    }
  }
}

t.test('a client that chooses ids cannot steer the repair: an id planted far ahead is not followed, its own duplicate is a 409', async (t) => {
  await table('r_steer', 'SELECT generate_series(1, 3)', 3) // ids 1..3, from the sequence
  const { post, logs } = await appOn(t, 'r_steer', repairer.pool, { repairSequences: true })
  t.equal((await post('4')).status, 201, 'the client inserts the sequence\'s next value')
  t.equal((await post(INT_MAX)).status, 201, 'then the largest integer')
  const again = await post('4')
  t.equal(again.status, 409, 'then its first id again: its own duplicate, a 409')
  t.same(again.body.fields, ['id'])
  t.equal(await lastValue('r_steer'), '3', 'and nothing moved the sequence')

  const next = await post()
  t.same(next, { status: 201, body: { id: '5' } }, 'a default insert drew 4, taken: the fault is repaired (nothing to move) and the insert served with 5')
  t.equal(await lastValue('r_steer'), '5', 'the sequence was not moved to the planted id')
  const outlier = logs.find((l) => l.level === ERROR && l.msg.includes('lies far beyond the other ids'))
  t.ok(outlier, 'the planted id is logged for a person, with the statement that would follow it')
  t.ok(outlier?.msg.includes(`SELECT setval('${db.schema}.r_steer_id_seq', ${INT_MAX})`))
  for (let i = 0; i < 5; i++) t.equal((await post()).status, 201, 'default inserts go on')
  t.equal((await post('4')).status, 409, 'the client repeating its id: still a 409')
  t.equal((await post(INT_MAX)).status, 409, 'and the planted id too')
  t.equal(await lastValue('r_steer'), '10')
})

t.test('the same scenario without repairSequences: the colliding default insert is the server\'s fault (500), the client\'s duplicates 409', async (t) => {
  await table('r_steer_off', 'SELECT generate_series(1, 3)', 3)
  const { post } = await appOn(t, 'r_steer_off', app.pool)
  t.equal((await post('4')).status, 201)
  t.equal((await post(INT_MAX)).status, 201)
  t.equal((await post('4')).status, 409, 'the client\'s duplicate')
  t.equal((await post()).status, 500, 'a default insert drawing 4: not that client\'s fault')
  t.equal((await post()).status, 201, 'the next default insert draws 5')
  t.equal((await post('4')).status, 409, 'the duplicate of 4, now below what the sequence handed out: a 409')
})

t.test('a repair never goes past the ids packed above the sequence, nor exhausts it: the functions', async (t) => {
  await table('r_planted', `SELECT generate_series(1, 10) UNION ALL SELECT 11 UNION ALL SELECT ${INT_MAX}`, 10)
  await db.pool.query("SELECT nextval('r_planted_id_seq')") // a default insert drew 11, which collided
  const check = await checkSequence(db.pool, { schema: db.schema, table: 'r_planted', column: 'id' })
  t.match(check, {
    lastValue: '11', behind: true, collides: false, target: null, fixSql: null,
    outlier: { max: INT_MAX, sql: `SELECT setval('${db.schema}.r_planted_id_seq', ${INT_MAX})` }
  }, 'behind only an outlier: no target, the outlier reported')
  t.match(await repairSequence(db.pool, { schema: db.schema, table: 'r_planted', column: 'id' }), { before: '11', after: '11', moved: false, outlier: { max: INT_MAX } })
  t.match(await resetSequences(db.pool, { schema: db.schema }), [{ table: 'r_planted', fixed: false, error: /lies far beyond the other ids/ }],
    'resetSequences leaves it to a person too')
  const { rows } = await db.pool.query<{ id: string }>("INSERT INTO r_planted (note) VALUES ('new') RETURNING id::text")
  t.equal(rows[0]?.id, '12', 'the sequence goes on from where it was')

  // Contiguous data planted ahead: followed, but only as far as the rows the client inserted.
  await table('r_block', 'SELECT generate_series(1, 10) UNION ALL SELECT generate_series(11, 40) UNION ALL SELECT 100000', 10)
  t.match(await repairSequence(db.pool, { schema: db.schema, table: 'r_block', column: 'id' }), { after: '40', moved: true, outlier: { max: '100000' } },
    'thirty ids packed above it: followed to 40, not to 100000')
})

t.test('an import is still repaired: packed ids, with gaps as deleted rows leave them', async (t) => {
  // 1..5000 with every tenth id missing: the ids fill 90 % of the range, and end at 4999.
  await table('r_import', 'SELECT i FROM generate_series(1, 5000) i WHERE i % 10 <> 0')
  const { post, logs } = await appOn(t, 'r_import', repairer.pool, { repairSequences: true })
  t.same(await post(), { status: 201, body: { id: '5000' } }, 'repaired past the import and served')
  t.ok(logs.some((l) => l.level === WARN && l.msg.includes('repaired the sequence')))
  t.equal((await post('4999')).status, 409, 'a client sending an imported id: its duplicate')
})

t.test('under the application role (INSERT, SELECT, sequence USAGE): a sequence fault is found, never answered 409', async (t) => {
  await table('r_role', 'SELECT generate_series(1, 50)')
  const { post, logs } = await appOn(t, 'r_role', app.pool)
  t.equal((await post()).status, 500, 'the import fault: 500')
  t.equal((await post()).status, 500, 'and again (the sequence still behind)')
  t.same(logs.filter((l) => l.level === WARN), [], 'no warning: the check needs no more than USAGE on the sequence')
  t.ok(logs.some((l) => l.level === ERROR && l.msg.includes('is behind r_role.id')), 'the fault logged with its fix')
  t.equal((await post('3')).status, 409, 'a client\'s duplicate of an imported id: 409')
  const check = await checkSequence(app.pool, { schema: db.schema, table: 'r_role', column: 'id' })
  t.match(check, { lastValue: '2', isCalled: true, behind: true, collides: true, target: '50' }, 'checkSequence works with USAGE alone')
})

t.test('repairSequences with a role that may not repair: said once at start-up, with the grants; the request answered as without it', async (t) => {
  await table('r_norepair', 'SELECT generate_series(1, 20)')
  await db.exec(`CREATE TABLE a_nosel (id serial PRIMARY KEY); REVOKE SELECT ON a_nosel FROM ${app.name}; REVOKE USAGE ON SEQUENCE a_nosel_id_seq FROM ${app.name};
    ${Array.from({ length: 10 }, (_, i) => `CREATE TABLE z_many_${i} (id serial PRIMARY KEY);`).join(' ')}`)
  const { post, logs } = await appOn(t, 'r_norepair', app.pool, { repairSequences: true })
  const told = logs.filter((l) => l.level === WARN && l.msg.includes('cannot repair'))
  t.equal(told.length, 1, 'one warning at start-up')
  t.ok(told[0]?.msg.includes(`GRANT UPDATE ON SEQUENCE ${db.schema}.r_norepair_id_seq TO ${app.name}`), 'naming the grant on the sequence')
  t.ok(told[0]?.msg.includes(`GRANT UPDATE ON TABLE ${db.schema}.r_norepair TO ${app.name}`), 'and on the table')
  t.ok(told[0]?.msg.includes(`GRANT UPDATE, USAGE ON SEQUENCE ${db.schema}.a_nosel_id_seq TO ${app.name}; GRANT SELECT, UPDATE ON TABLE ${db.schema}.a_nosel TO ${app.name}`),
    'USAGE and SELECT too where the role lacks them')
  t.match(told[0]?.msg, /cannot repair the id sequences of \d+ column\(s\).*Grants \(the first 10 columns\)/, 'ten columns named, all counted')
  t.equal((await post()).status, 500, 'the fault: a 500, as without repairSequences')
  t.equal((await post('7')).status, 409, 'a client\'s duplicate: 409, as without it')
  t.same(logs.filter((l) => l.level === ERROR && l.msg.includes('could not repair')), [], 'no repair tried, so none failed')
  t.equal(logs.filter((l) => l.msg.includes('cannot repair')).length, 1, 'still said once')
})

t.test('a repair that fails at run time (a grant revoked since start-up): the request answered as without repairSequences', async (t) => {
  await table('r_revoked', 'SELECT generate_series(1, 20)')
  const { post, logs } = await appOn(t, 'r_revoked', repairer.pool, { repairSequences: true })
  t.same(logs.filter((l) => l.msg.includes('cannot repair') && l.msg.includes('r_revoked')), [], 'the role could repair at start-up')
  await db.exec(`REVOKE UPDATE ON r_revoked FROM ${repairer.name}`)
  t.equal((await post()).status, 500, 'the fault: 500')
  t.ok(logs.some((l) => l.level === ERROR && l.msg.includes('could not repair the sequence')), 'the failed repair logged')
  t.equal((await post('5')).status, 409, 'a client\'s duplicate: 409')
})

t.test('a sequence exactly one behind (ids up to 50, setval 49): the colliding id is the one it handed out, a fault', async (t) => {
  await table('r_one', 'SELECT generate_series(1, 50)', 49)
  const off = await appOn(t, 'r_one', app.pool)
  t.equal((await off.post()).status, 500, 'not a 409: the sequence handed out 50, which the table held')
  t.ok(off.logs.some((l) => l.level === ERROR && l.msg.includes('handed out 50, which r_one.id already held')), 'said so in the log')
  t.same(await off.post(), { status: 201, body: { id: '51' } }, 'the next insert is fine')

  await table('r_one_repair', 'SELECT generate_series(1, 50)', 49)
  const on = await appOn(t, 'r_one_repair', repairer.pool, { repairSequences: true })
  t.same(await on.post(), { status: 201, body: { id: '51' } }, 'with repairSequences: retried and served')
})

t.test('a duplicate of exactly the last id the sequence handed out looks like that fault; with repairSequences, the retry tells them apart', async (t) => {
  await table('r_last', '', undefined)
  const statements: string[] = []
  const plugins = { query: async (text: string, values?: unknown[]) => { statements.push(text); return await repairer.pool.query(text, values) } }
  const { post } = await appOn(t, 'r_last', repairer.pool, { repairSequences: true, pool: plugins })
  t.same(await post(), { status: 201, body: { id: '1' } })
  t.same(await post(), { status: 201, body: { id: '2' } })
  statements.length = 0
  for (let i = 0; i < 3; i++) {
    const duplicate = await post('2')
    t.equal(duplicate.status, 409, 'the id collides again on the second run: the sequence never hands a value out twice, so it is the client\'s')
    t.same(duplicate.body.fields, ['id'])
  }
  t.notOk(statements.some((sql) => /LOCK TABLE|setval/.test(sql)), 'the sequence is past that id: nothing to repair, no table locked, however often a client sends it')
  t.equal(await lastValue('r_last'), '2')
  t.equal((await post('1')).status, 409, 'an older id: a 409 straight away')
})

t.test('row-level security hides DETAIL: the fault is the sequence colliding now, found and repaired all the same', async (t) => {
  for (const name of ['r_rls', 'r_rls_repair']) {
    await table(name, 'SELECT generate_series(1, 30)')
    await db.exec(`ALTER TABLE ${name} ENABLE ROW LEVEL SECURITY; CREATE POLICY every_row ON ${name} USING (true) WITH CHECK (true)`)
  }
  const off = await appOn(t, 'r_rls', app.pool)
  t.equal((await off.post()).status, 500, 'no DETAIL, the next value taken: the fault')
  const on = await appOn(t, 'r_rls_repair', repairer.pool, { repairSequences: true })
  t.same(await on.post(), { status: 201, body: { id: '31' } }, 'repaired and served')
  const duplicate = await on.post('5')
  t.equal(duplicate.status, 409, 'a client\'s duplicate, the sequence no longer colliding: a 409')
  t.same(duplicate.body.fields, ['id'], 'its field from the catalog (no DETAIL to read it from)')
})

t.test('an import, then a client\'s duplicate before any default insert (the sequence has handed out nothing): a 409', async (t) => {
  await table('r_fresh', 'SELECT generate_series(1, 10)')
  const { post } = await appOn(t, 'r_fresh', app.pool)
  const response = await post('3')
  t.equal(response.status, 409, 'nothing handed out, so not the sequence\'s doing')
  t.same(response.body.fields, ['id'])
  t.equal((await post()).status, 500, 'a default insert then meets the fault')
})
