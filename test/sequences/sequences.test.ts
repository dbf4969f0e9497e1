// Id sequences behind their table, on real PostgreSQL: tables filled with explicit ids (as COPY or
// pg_restore --data-only leave them), found, explained, fixed, and repaired under concurrency.
import t from 'tap'
import type pg from 'pg'
import {
  checkRow, checkSequence, isBehind, quoteLiteral, repairPrivileges, repairSequence, resetSequences, sequenceOf,
  type SequenceTarget
} from '../../src/sequences/sequences.js'
import { InvalidOptionError } from '../../src/engine/options.js'
import { testDatabase } from '../helpers/db.js'

const db = await testDatabase(t, 'sequences')
const { schema, pool } = db
const role = `fpc_seq_reader_${process.pid}`
/** A second schema, whose name needs quotes (capitals, a space and a double quote). */
const oddSchema = `${schema} Odd "Schema"`
const odd = `"${oddSchema.replaceAll('"', '""')}"`
/** A third one, for the runs over whole schemas: only what a test puts there is in it. */
const resetSchema = `${schema}_reset`

await db.exec(`
  DROP SCHEMA IF EXISTS ${odd} CASCADE; CREATE SCHEMA ${odd};
  DROP SCHEMA IF EXISTS ${resetSchema} CASCADE; CREATE SCHEMA ${resetSchema};
  DROP ROLE IF EXISTS ${role}; CREATE ROLE ${role};
`)
t.teardown(() => db.exec(`DROP SCHEMA IF EXISTS ${odd} CASCADE; DROP SCHEMA IF EXISTS ${resetSchema} CASCADE; DROP SCHEMA IF EXISTS ${schema} CASCADE; DROP ROLE IF EXISTS ${role}`))

/** A serial table holding ids 1..rows, inserted explicitly: its sequence is still at 1. */
async function serialTable (name: string, rows: number, where = schema): Promise<SequenceTarget> {
  await db.exec(`CREATE TABLE ${where}.${name} (id serial PRIMARY KEY, label text);
    INSERT INTO ${where}.${name} (id, label) SELECT i, 'row ' || i FROM generate_series(1, ${rows}) i`)
  return { schema: where, table: name, column: 'id' }
}

/** An identity table (GENERATED ALWAYS) holding ids 1..rows, inserted with OVERRIDING SYSTEM VALUE. */
async function identityTable (name: string, rows: number, where = schema): Promise<SequenceTarget> {
  await db.exec(`CREATE TABLE ${where}.${name} (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, label text);
    INSERT INTO ${where}.${name} (id, label) OVERRIDING SYSTEM VALUE SELECT i, 'row ' || i FROM generate_series(1, ${rows}) i`)
  return { schema: where, table: name, column: 'id' }
}

/** Inserts a row taking the default id; gives the id, or the SQLSTATE of the failure. */
async function insertDefault (qualifiedTable: string, client: pg.Pool | pg.PoolClient = pool, idColumn = 'id'): Promise<number | string> {
  try {
    const { rows } = await client.query<{ id: number }>(`INSERT INTO ${qualifiedTable} (label) VALUES ('new') RETURNING ${idColumn} AS id`)
    return (rows[0] as { id: number }).id
  } catch (error) {
    return (error as pg.DatabaseError).code as string
  }
}

async function lastValue (sequence: string): Promise<string> {
  const { rows } = await pool.query<{ last_value: string }>(`SELECT last_value::text FROM ${sequence}`)
  return (rows[0] as { last_value: string }).last_value
}

t.test('a serial column filled with explicit ids: reported behind with its maximum and the setval that heals it', async (t) => {
  const target = await serialTable('serial_items', 1000)
  t.equal(await insertDefault(`${schema}.serial_items`), '23505', 'the desync: a default insert collides on the primary key')

  const check = await checkSequence(pool, target)
  t.same(check, {
    schema, table: 'serial_items', column: 'id',
    sequence: `${schema}.serial_items_id_seq`,
    kind: 'serial',
    lastValue: '1',
    isCalled: true, // the failed insert above drew 1
    incrementBy: '1',
    max: '1000',
    behind: true,
    collides: true,
    target: '1000',
    outlier: null,
    fixSql: `SELECT setval('${schema}.serial_items_id_seq', 1000)`
  })

  await db.exec(check?.fixSql as string)
  t.equal(await insertDefault(`${schema}.serial_items`), 1001, 'after the fix SQL, a default insert takes the next id')
  const after = await checkSequence(pool, target)
  t.equal(after?.behind, false)
  t.equal(after?.fixSql, null, 'no fix is offered for a sequence that is not behind')
})

t.test('an identity column filled with OVERRIDING SYSTEM VALUE: reported behind with the ALTER TABLE … RESTART that heals it', async (t) => {
  const target = await identityTable('identity_items', 500)
  t.equal(await insertDefault(`${schema}.identity_items`), '23505', 'the desync')

  const check = await checkSequence(pool, target)
  t.match(check, {
    sequence: `${schema}.identity_items_id_seq`,
    kind: 'identity',
    lastValue: '1',
    isCalled: true,
    max: '500',
    behind: true,
    collides: true,
    fixSql: `ALTER TABLE ${schema}.identity_items ALTER COLUMN id RESTART WITH 501`
  })

  await db.exec(check?.fixSql as string)
  t.equal(await insertDefault(`${schema}.identity_items`), 501)
  t.equal((await checkSequence(pool, target))?.behind, false)
})

t.test('sequenceOf: serial, bigserial, identity (ALWAYS and BY DEFAULT), a hand-written nextval default, and columns no sequence fills', async (t) => {
  await db.exec(`
    CREATE SEQUENCE shared_ids;
    CREATE TABLE kinds (
      s serial, b bigserial,
      ia int GENERATED ALWAYS AS IDENTITY, id bigint GENERATED BY DEFAULT AS IDENTITY,
      own bigint DEFAULT nextval('shared_ids'),
      plain int, constant int DEFAULT 7, note text
    );
    CREATE TABLE parts (id serial, region int, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
    CREATE TABLE parts_1 PARTITION OF parts FOR VALUES IN (1);
  `)
  const of = (column: string, table = 'kinds'): ReturnType<typeof sequenceOf> => sequenceOf(pool, { schema, table, column })
  t.same(await of('s'), { schema, table: 'kinds', column: 's', sequence: `${schema}.kinds_s_seq`, kind: 'serial' })
  t.same(await of('b'), { schema, table: 'kinds', column: 'b', sequence: `${schema}.kinds_b_seq`, kind: 'serial' })
  t.same(await of('ia'), { schema, table: 'kinds', column: 'ia', sequence: `${schema}.kinds_ia_seq`, kind: 'identity' })
  t.same(await of('id'), { schema, table: 'kinds', column: 'id', sequence: `${schema}.kinds_id_seq`, kind: 'identity' })
  t.same(await of('own'), { schema, table: 'kinds', column: 'own', sequence: `${schema}.shared_ids`, kind: 'serial' },
    'a default calling nextval() on a sequence the column does not own')
  t.equal(await of('plain'), undefined, 'no default')
  t.equal(await checkSequence(pool, { schema, table: 'kinds', column: 'plain' }), undefined, 'nothing to check')
  t.equal(await of('constant'), undefined, 'a default that is not a sequence')
  t.equal(await of('note'), undefined)
  t.equal(await of('missing'), undefined, 'no such column')
  t.equal(await of('id', 'no_such_table'), undefined, 'no such table')
  t.same(await of('id', 'parts_1'), { schema, table: 'parts', column: 'id', sequence: `${schema}.parts_id_seq`, kind: 'serial' },
    'a partition (as a unique violation names it) stands for its partitioned table')
  await db.exec('ALTER TABLE kinds ALTER COLUMN s DROP DEFAULT')
  t.equal(await of('s'), undefined, 'a sequence the column still owns but no longer takes its default from does not fill it')
})

t.test('behind means the next value collides: is_called and the increment are respected', async (t) => {
  const target = await serialTable('stepped', 1000)
  const sequence = `${schema}.stepped_id_seq`
  const at = async (value: number, isCalled: boolean): Promise<boolean | undefined> => {
    await db.exec(`SELECT setval('${sequence}', ${value}, ${isCalled})`)
    return (await checkSequence(pool, target))?.behind
  }
  t.equal(await at(1000, false), true, 'not called: the next value is last_value itself, 1000, which is taken')
  t.equal(await at(1000, true), false, 'called: the next value is 1001')
  await db.exec(`ALTER SEQUENCE ${sequence} INCREMENT BY 10`)
  t.equal(await at(990, true), true, '990 + 10 = 1000 is taken')
  t.equal(await at(995, true), false, '995 + 10 = 1005 is free')
  t.equal(await insertDefault(`${schema}.stepped`), 1005)
})

t.test('collides: the next value is taken, so the next default insert fails (behind alone may be far from it)', async (t) => {
  await db.exec(`CREATE TABLE gapped (id serial PRIMARY KEY);
    INSERT INTO gapped DEFAULT VALUES; INSERT INTO gapped DEFAULT VALUES; INSERT INTO gapped (id) VALUES (1000)`)
  t.match(await checkSequence(pool, { schema, table: 'gapped', column: 'id' }), { behind: true, collides: false },
    'ids 1 and 2 from the sequence, 1000 by hand: behind the maximum, but 3 is free')
  await db.exec(`INSERT INTO gapped (id) VALUES (3)`)
  t.match(await checkSequence(pool, { schema, table: 'gapped', column: 'id' }), { behind: true, collides: true }, 'now 3 is taken')
})

t.test('isBehind, on its own: exact over the whole bigint range; empty tables and descending sequences are never behind', async (t) => {
  t.equal(isBehind({ lastValue: '9007199254740993', isCalled: true, incrementBy: '1', max: '9007199254740994' }), true,
    'beyond 2^53, where numbers would round: 9007199254740994 is the next value, and taken')
  t.equal(isBehind({ lastValue: '9007199254740993', isCalled: true, incrementBy: '1', max: '9007199254740993' }), false)
  t.equal(isBehind({ lastValue: '1', isCalled: false, incrementBy: '1', max: null }), false, 'an empty table')
  t.equal(isBehind({ lastValue: '-1', isCalled: true, incrementBy: '-1', max: '5' }), false, 'a descending sequence')
})

t.test('empty tables are never behind, and a repair leaves their sequence alone', async (t) => {
  await db.exec(`CREATE TABLE empty_serial (id serial PRIMARY KEY);
    CREATE TABLE empty_identity (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY)`)
  for (const table of ['empty_serial', 'empty_identity']) {
    const target = { schema, table, column: 'id' }
    t.match(await checkSequence(pool, target), { max: null, behind: false, fixSql: null }, table)
    t.match(await repairSequence(pool, target), { max: null, before: '1', after: '1', moved: false }, table)
  }
})

t.test('names that need quotes: a schema with a space and a double quote, "Odd Table"."Id", reserved words, a quote and a backslash', async (t) => {
  await db.exec(`
    CREATE TABLE ${odd}."Odd Table" ("Id" int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, label text);
    INSERT INTO ${odd}."Odd Table" ("Id") OVERRIDING SYSTEM VALUE SELECT generate_series(1, 20);
    CREATE TABLE ${odd}."user" ("select" bigserial PRIMARY KEY, label text);
    INSERT INTO ${odd}."user" ("select") SELECT generate_series(1, 30);
    CREATE TABLE ${odd}."it's" (id serial PRIMARY KEY, label text);
    INSERT INTO ${odd}."it's" (id) SELECT generate_series(1, 40);
    CREATE TABLE ${odd}."back\\slash" (id serial PRIMARY KEY, label text);
    INSERT INTO ${odd}."back\\slash" (id) SELECT generate_series(1, 50);
  `)
  const oddTable = await checkSequence(pool, { schema: oddSchema, table: 'Odd Table', column: 'Id' })
  t.match(oddTable, {
    schema: oddSchema, table: 'Odd Table', column: 'Id', kind: 'identity', max: '20', behind: true,
    sequence: `${odd}."Odd Table_Id_seq"`,
    fixSql: `ALTER TABLE ${odd}."Odd Table" ALTER COLUMN "Id" RESTART WITH 21`
  })
  const user = await checkSequence(pool, { schema: oddSchema, table: 'user', column: 'select' })
  t.match(user, {
    sequence: `${odd}.user_select_seq`, max: '30', behind: true,
    fixSql: `SELECT setval('${odd.replaceAll("'", "''")}.user_select_seq', 30)`
  }, 'the reserved words user and select are quoted where they are identifiers')
  const quote = await checkSequence(pool, { schema: oddSchema, table: "it's", column: 'id' })
  t.match(quote, { sequence: `${odd}."it's_id_seq"`, fixSql: `SELECT setval('${odd}."it''s_id_seq"', 40)` })
  const backslash = await checkSequence(pool, { schema: oddSchema, table: 'back\\slash', column: 'id' })
  t.match(backslash, { sequence: `${odd}."back\\slash_id_seq"`, fixSql: `SELECT setval(E'${odd}."back\\\\slash_id_seq"', 50)` },
    'a backslash: an E\'…\' literal, read the same whatever standard_conforming_strings says')

  for (const check of [oddTable, user, quote, backslash]) await db.exec(check?.fixSql as string)
  t.equal(await insertDefault(`${odd}."Odd Table"`, pool, '"Id"'), 21, 'every fix SQL runs as printed and heals its sequence')
  const select = await pool.query<{ select: string }>(`INSERT INTO ${odd}."user" DEFAULT VALUES RETURNING "select"`)
  t.equal(select.rows[0]?.select, '31')
  t.equal(await insertDefault(`${odd}."it's"`), 41)
  t.equal(await insertDefault(`${odd}."back\\slash"`), 51)
  t.same(await resetSequences(pool, { schema: oddSchema, dryRun: true }), [], 'nothing left behind')
})

t.test('quoteLiteral writes literals as quote_literal does', async (t) => {
  for (const text of ['plain', "it's", 'back\\slash', "both\\'", '']) {
    const { rows } = await pool.query<{ literal: string, same: boolean }>(`SELECT quote_literal($1::text) AS literal, ${quoteLiteral(text)} = $1 AS same`, [text])
    t.same(rows[0], { literal: quoteLiteral(text), same: true }, JSON.stringify(text))
  }
})

t.test('resetSequences: a dry run lists serial and identity columns behind, skips empty and healthy ones, and changes nothing; a fix heals them', async (t) => {
  const where = resetSchema
  await serialTable('serial_behind', 100, where)
  await identityTable('identity_behind', 200, where)
  await db.exec(`
    CREATE TABLE ${where}.empty_one (id serial PRIMARY KEY);
    CREATE TABLE ${where}.healthy (id serial PRIMARY KEY, label text);
    INSERT INTO ${where}.healthy (label) VALUES ('a'), ('b');
    CREATE TABLE ${where}."Odd Table" ("Id" bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, label text);
    INSERT INTO ${where}."Odd Table" ("Id") SELECT generate_series(1, 7);
  `)
  const dry = await resetSequences(pool, { schema: where, dryRun: true })
  t.same(dry.map((s) => [s.table, s.column, s.kind, s.max, s.fixed]), [
    ['Odd Table', 'Id', 'identity', '7', false],
    ['identity_behind', 'id', 'identity', '200', false],
    ['serial_behind', 'id', 'serial', '100', false]
  ], 'the three behind, in order of table name; not the empty or the healthy table')
  t.equal(dry[2]?.fixSql, `SELECT setval('${where}.serial_behind_id_seq', 100)`)
  t.equal(await lastValue(`${where}.serial_behind_id_seq`), '1', 'a dry run changes nothing')
  t.equal(await insertDefault(`${where}.serial_behind`), '23505', 'still behind after a dry run')

  const fixed = await resetSequences(pool, { schema: [where] })
  t.same(fixed.map((s) => [s.table, s.fixed, s.error]), [['Odd Table', true, undefined], ['identity_behind', true, undefined], ['serial_behind', true, undefined]])
  t.equal(await insertDefault(`${where}.serial_behind`), 101)
  t.equal(await insertDefault(`${where}.identity_behind`), 201)
  t.equal(await insertDefault(`${where}."Odd Table"`, pool, '"Id"::int'), 8)
  t.equal(await lastValue(`${where}.empty_one_id_seq`), '1', 'the empty table\'s sequence was not touched')
  t.same(await resetSequences(pool, { schema: where }), [], 'a second run finds nothing')
})

t.test('resetSequences over every schema: finds this schema\'s sequence, looks in no system schema', async (t) => {
  await serialTable('everywhere', 10)
  const all = await resetSequences(pool, { dryRun: true })
  t.ok(all.some((s) => s.schema === schema && s.table === 'everywhere'), 'this file\'s table is among them')
  t.same(all.filter((s) => s.schema.startsWith('pg_') || s.schema === 'information_schema'), [])
})

t.test('repairSequence moves a serial or identity sequence just past the maximum', async (t) => {
  const serial = await serialTable('repair_serial', 300)
  const identity = await identityTable('repair_identity', 400)
  t.same(await repairSequence(pool, serial), {
    schema, table: 'repair_serial', column: 'id', sequence: `${schema}.repair_serial_id_seq`, kind: 'serial',
    max: '300', before: '1', after: '300', moved: true, outlier: null
  })
  t.match(await repairSequence(pool, identity), { kind: 'identity', max: '400', before: '1', after: '400', moved: true },
    'setval works on an identity column\'s sequence')
  t.equal(await insertDefault(`${schema}.repair_serial`), 301)
  t.equal(await insertDefault(`${schema}.repair_identity`), 401)
  t.equal(await repairSequence(pool, { schema, table: 'repair_serial', column: 'label' }), undefined, 'a column no sequence fills')
})

t.test('repairSequence never moves a sequence backwards: one another session moved further is left where it is', async (t) => {
  const target = await serialTable('ahead', 1000)
  await db.exec(`SELECT setval('${schema}.ahead_id_seq', 5000)`)
  t.match(await repairSequence(pool, target), { max: '1000', before: '5000', after: '5000', moved: false })
  t.equal(await lastValue(`${schema}.ahead_id_seq`), '5000')
  t.equal(await insertDefault(`${schema}.ahead`), 5001)
})

t.test('repairSequence waits for rows still being written, and moves past them', async (t) => {
  const target = await serialTable('importing', 1000)
  const importer = await pool.connect()
  t.teardown(() => { importer.release() })
  await importer.query('BEGIN')
  await importer.query(`INSERT INTO ${schema}.importing (id) SELECT generate_series(1001, 2000)`) // not committed yet

  const repairing = repairSequence(pool, target, { lockTimeout: 30_000 })
  let settled = false
  repairing.then(() => { settled = true }, () => { settled = true })
  // The repair must wait for the importer's lock: a MAX read now would miss rows 1001 to 2000.
  for (let waiting = 0; waiting === 0 && !settled;) {
    const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_locks WHERE relation = '${schema}.importing'::regclass AND NOT granted`)
    waiting = (rows[0] as { n: number }).n
  }
  t.equal(settled, false, 'the repair waits while the import is in flight')
  await importer.query('COMMIT')
  t.match(await repairing, { max: '2000', after: '2000', moved: true }, 'the repair saw the committed import')
  t.equal(await insertDefault(`${schema}.importing`), 2001)
})

t.test('a repair waits at most lockTimeout for the table, then fails and changes nothing; resetSequences reports it and fixes the rest', async (t) => {
  const where = resetSchema
  const busy = await serialTable('busy', 10, where)
  await serialTable('quiet', 10, where)
  const holder = await pool.connect()
  t.teardown(() => { holder.release() })
  await holder.query(`BEGIN; LOCK TABLE ${where}.busy IN ROW EXCLUSIVE MODE`) // as an insert in progress does

  await t.rejects(repairSequence(pool, busy, { lockTimeout: 50 }), { code: '55P03' }, 'lock_not_available')
  const reset = await resetSequences(pool, { schema: where, lockTimeout: 50 })
  t.same(reset.map((s) => [s.table, s.fixed]), [['busy', false], ['quiet', true]])
  t.match(reset[0]?.error, /lock timeout/)
  await holder.query('ROLLBACK')
  t.equal(await lastValue(`${where}.busy_id_seq`), '1', 'the failed repair changed nothing')
  t.equal(await insertDefault(`${where}.quiet`), 11)
  t.match(await resetSequences(pool, { schema: where }), [{ table: 'busy', fixed: true }], 'a later run fixes it')
})

t.test('under concurrency: inserts that repair on a collision and repairs running beside them never move the sequence backwards', async (t) => {
  const target = await serialTable('contended', 300)
  const sequence = `${schema}.contended_id_seq`
  const concurrent = db.newPool({ max: 16 })
  let running = true
  const observed: bigint[] = []
  const monitor = (async () => {
    while (running) {
      const { rows } = await concurrent.query<{ v: string }>(`SELECT last_value::text AS v FROM ${sequence}`)
      observed.push(BigInt((rows[0] as { v: string }).v))
    }
  })()
  const handedOut: number[] = []
  const inserter = async (): Promise<void> => {
    for (let i = 0; i < 25; i++) {
      for (let attempt = 1; ; attempt++) {
        const id = await insertDefault(`${schema}.contended`, concurrent)
        if (typeof id === 'number') { handedOut.push(id); break }
        if (id !== '23505' || attempt === 20) throw new Error(`insert failed with ${id} (attempt ${attempt})`)
        await repairSequence(concurrent, target)
      }
    }
  }
  const repairer = async (): Promise<void> => {
    for (let i = 0; i < 15; i++) await repairSequence(concurrent, target)
  }
  await Promise.all([...Array.from({ length: 8 }, inserter), ...Array.from({ length: 4 }, repairer)])
  running = false
  await monitor
  await concurrent.end()

  t.equal(handedOut.length, 200, 'every insert got an id')
  t.equal(new Set(handedOut).size, 200, 'no id twice')
  t.ok(handedOut.every((id) => id > 300), 'none below the imported rows')
  const final = BigInt(await lastValue(sequence))
  t.ok(handedOut.every((id) => BigInt(id) <= final), `the sequence (${final}) is at or past every id handed out`)
  t.ok(observed.length > 1 && observed.every((v, i) => i === 0 || v >= (observed[i - 1] as bigint)),
    `the sequence never went backwards over ${observed.length} readings`)
  t.equal((await checkSequence(pool, target))?.behind, false)
})

t.test('a table dropped while resetSequences runs is skipped; any other failure is not hidden', async (t) => {
  const where = resetSchema
  await db.exec(`DROP SCHEMA ${where} CASCADE; CREATE SCHEMA ${where}`)
  await serialTable('dropped', 5, where)
  await serialTable('kept', 5, where)
  let listed = false
  const dropping = {
    query: async (text: string, values?: unknown[]): Promise<{ rows: unknown[] }> => {
      const result = await pool.query(text, values)
      if (!listed) { listed = true; await pool.query(`DROP TABLE ${where}.dropped`) } // the first query lists the columns
      return result
    }
  }
  t.same((await resetSequences(dropping, { schema: where, dryRun: true })).map((s) => s.table), ['kept'])

  // A whole schema dropped meanwhile (another tenant's, another test's: over every schema, anything goes).
  const gone = `${where}_gone`
  await db.exec(`DROP SCHEMA IF EXISTS ${gone} CASCADE; CREATE SCHEMA ${gone}`)
  await serialTable('dropped', 5, gone)
  listed = false
  const droppingSchema = {
    query: async (text: string, values?: unknown[]): Promise<{ rows: unknown[] }> => {
      const result = await pool.query(text, values)
      if (!listed) { listed = true; await pool.query(`DROP SCHEMA ${gone} CASCADE`) }
      return result
    }
  }
  t.same((await resetSequences(droppingSchema, { schema: [gone, where], dryRun: true })).map((s) => s.table), ['kept'], 'a schema dropped since the listing: skipped')

  await db.exec(`GRANT USAGE ON SCHEMA ${where} TO ${role}; GRANT SELECT ON ${where}.kept TO ${role}`) // not the sequence
  const reader = await pool.connect()
  t.teardown(() => { reader.release() })
  await reader.query(`SET ROLE ${role}`)
  await t.rejects(resetSequences(reader, { schema: where, dryRun: true }), { code: '42501' },
    'without the privilege to read the sequence: an error, not "nothing behind"')
  await reader.query('RESET ROLE')
})

t.test('wrong arguments fail with PG_CONFLICT_INVALID_OPTION naming them', async (t) => {
  const invalid = (message: RegExp): { code: string, message: RegExp } => ({ code: 'PG_CONFLICT_INVALID_OPTION', message })
  t.ok(new InvalidOptionError('x') instanceof TypeError)
  await t.rejects(sequenceOf(pool, { schema, table: '', column: 'id' }), invalid(/sequenceOf target\.table must be a non-empty string/))
  await t.rejects(checkSequence(pool, null as unknown as SequenceTarget), invalid(/checkSequence target must be an object/))
  await t.rejects(repairSequence(pool, { schema, table: 't' } as SequenceTarget), invalid(/repairSequence target\.column/))
  await t.rejects(repairSequence(pool, { schema, table: 't', column: 'id' }, 5 as never), invalid(/repairSequence options must be an object/))
  await t.rejects(repairSequence(pool, { schema, table: 't', column: 'id' }, { lockTimeout: -1 }), invalid(/lockTimeout must be a whole number/))
  await t.rejects(resetSequences(pool, null as never), invalid(/resetSequences options must be an object/))
  await t.rejects(resetSequences(pool, { schema: [] }), invalid(/options\.schema must be a schema name or a non-empty array/))
  await t.rejects(resetSequences(pool, { schema: [''] }), invalid(/options\.schema/))
  await t.rejects(resetSequences(pool, { dryRun: 'yes' as never }), invalid(/options\.dryRun must be true or false/))
  await t.rejects(resetSequences(pool, { lockTimeout: 1.5 }), invalid(/resetSequences options\.lockTimeout/))
})

t.test('repairPrivileges looks in every user schema when given none', async (t) => {
  const asked: unknown[] = []
  t.same(await repairPrivileges({ query: async (_text: string, values?: unknown[]) => { asked.push(values); return { rows: [] } } }), [])
  t.same(asked, [[null, null, null]])
})

t.test('a sequence the role may not use at all: an error, whether the server raises one (up to 17) or answers null (18)', async (t) => {
  const row = { schema: 'app', table: 't', column: 'id', kind: 'serial' as const, sequence: 'app.t_id_seq', qualified_table: 'app.t', quoted_column: 'id' }
  const nulls = { query: async () => ({ rows: [{ handed_out: null, next: '1', readable: false, usable: false, increment_by: '1', max: '5', target: null, collides: true }] }) }
  await t.rejects(checkRow(nulls, row), { code: '42501', message: /permission denied for sequence app\.t_id_seq/ })
})
