// The pure core that reads PostgreSQL errors: DETAIL parsing (src/core/detail.ts), SQL text scanning
// (src/core/sql-text.ts) and finding the PostgreSQL error inside whatever was thrown (src/core/recognise.ts).
// test/core/describe.test.ts drives real violations through the plugin; this file covers what a real
// server cannot produce on demand (other languages, hostile objects, megabytes of junk) and the
// exhaustive variations. The error shapes used here are checked against real node-postgres and
// postgres.js errors first, when DATABASE_URL is set.

import t, { type Test } from 'tap'
import type pg from 'pg'
import postgres from 'postgres'
import { parseKeyDetail, splitValues, type KeyDetail } from '../../src/core/detail.js'
import { expressionColumns, identifierName, skipQuoted } from '../../src/core/sql-text.js'
import { findPgError, findUniqueViolation, UNIQUE_VIOLATION, type PgErrorFields } from '../../src/core/recognise.js'
import { testDatabase } from '../helpers/db.js'
import { pgDatabaseError, postgresJsError, type DriverError } from '../helpers/driver-errors.js'
import { UniqueConstraintViolationException } from '@mikro-orm/core'
import sequelize from 'sequelize'
import { DriverAdapterError } from '@prisma/driver-adapter-utils'

// ---------------------------------------------------------------------------------------------
// Error shapes, as the clients build them. The live subtest below proves these field names and
// types against real errors from the server in DATABASE_URL.
// ---------------------------------------------------------------------------------------------

const EMAIL_DETAIL = 'Key (email)=(ada@example.com) already exists.'

type ErrorShape = DriverError

/** A node-postgres 8 `DatabaseError` for a unique violation: pg-protocol's class, with these own fields. */
function nodePgUniqueViolation (): ErrorShape {
  return pgDatabaseError('duplicate key value violates unique constraint "users_email_key"', {
    severity: 'ERROR',
    code: '23505',
    detail: EMAIL_DETAIL,
    schema: 'public',
    table: 'users',
    constraint: 'users_email_key',
    file: 'nbtinsert.c',
    line: '664',
    routine: '_bt_check_unique'
  })
}

/** A node-postgres `DatabaseError` for a not-null violation: `column` set, no `constraint`. */
function nodePgNotNullViolation (): ErrorShape {
  return pgDatabaseError('null value in column "id" of relation "users" violates not-null constraint', {
    severity: 'ERROR',
    code: '23502',
    detail: 'Failing row contains (null, null).',
    schema: 'public',
    table: 'users',
    column: 'id',
    file: 'execMain.c',
    line: '664',
    routine: 'ExecConstraints'
  })
}

/** A postgres.js 3 `PostgresError` for a unique violation: `*_name` fields, none set to undefined. */
function postgresJsUniqueViolation (): ErrorShape {
  return postgresJsError({
    message: 'duplicate key value violates unique constraint "users_email_key"',
    code: '23505',
    detail: EMAIL_DETAIL,
    schema_name: 'public',
    table_name: 'users',
    constraint_name: 'users_email_key',
    file: 'nbtinsert.c',
    line: '664',
    routine: '_bt_check_unique'
  })
}

/** A postgres.js `PostgresError` for a not-null violation: `column_name` set, no `constraint_name`. */
function postgresJsNotNullViolation (): ErrorShape {
  return postgresJsError({
    message: 'null value in column "id" of relation "users" violates not-null constraint',
    code: '23502',
    detail: 'Failing row contains (null, null).',
    schema_name: 'public',
    table_name: 'users',
    column_name: 'id',
    file: 'execMain.c',
    line: '2039',
    routine: 'ExecConstraints'
  })
}

/** The fields recognise gives, without the error object (compared separately). */
function fieldsOf (found: PgErrorFields | undefined): Omit<PgErrorFields, 'error'> | undefined {
  if (found === undefined) return undefined
  const { error: _error, ...fields } = found
  return fields
}

const UNIQUE_FIELDS = {
  code: '23505',
  message: 'duplicate key value violates unique constraint "users_email_key"',
  detail: EMAIL_DETAIL,
  constraint: 'users_email_key',
  schema: 'public',
  table: 'users',
  column: undefined
}

// ---------------------------------------------------------------------------------------------
// Real errors from the server, when there is one.
// ---------------------------------------------------------------------------------------------

/** The multi-key DETAIL below, as PostgreSQL 15 prints it in each language (copied from its output). */
const TRICKY_DETAIL: Record<string, string> = {
  en: 'Key (lower(t), ("B" || zone), ((x || \')=(\'::text) || y))=(a, b, )=(, , ()=(1) already exists.',
  de: 'Schlüssel »(lower(t), ("B" || zone), ((x || \')=(\'::text) || y))=(a, b, )=(, , ()=(1)« existiert bereits.',
  fr: 'La clé « (lower(t), ("B" || zone), ((x || \')=(\'::text) || y))=(a, b, )=(, , ()=(1) » existe déjà.',
  ja: 'キー (lower(t), ("B" || zone), ((x || \')=(\'::text) || y))=(a, b, )=(, , ()=(1) はすでに存在します。'
}
const TRICKY_PARSED: KeyDetail = {
  keys: ['lower(t)', '("B" || zone)', "((x || ')=('::text) || y)"],
  keyColumns: [['t'], ['B', 'zone'], ['x', 'y']],
  valuesText: 'a, b, )=(, , ()=(1'
}
const LOCALES: Record<string, string> = { de: 'de_DE.UTF-8', fr: 'fr_FR.UTF-8', ja: 'ja_JP.UTF-8' }

interface LiveErrors {
  schema: string
  serverVersion: number
  nodePgUnique: pg.DatabaseError
  nodePgNotNull: pg.DatabaseError
  /** `RAISE unique_violation` in PL/pgSQL: code 23505 and nothing else. */
  nodePgRaised: pg.DatabaseError
  postgresJsUnique: postgres.PostgresError
  postgresJsNotNull: postgres.PostgresError
  /** The tricky DETAIL per language, or why that language could not be had. */
  translated: Record<string, { detail: string } | { skip: string }>
}

async function errorFrom (run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run()
  } catch (error) {
    return error
  }
  throw new Error('expected the statement to fail')
}

async function produceLiveErrors (test: Test): Promise<LiveErrors> {
  const db = await testDatabase(test, 'detail') // schema fpc_detail_<pid>, dropped at teardown
  const { schema } = db
  await db.exec(`
    CREATE TABLE users (id int PRIMARY KEY, email text UNIQUE);
    INSERT INTO users VALUES (1, 'ada@example.com');
    CREATE TABLE tricky (t text, "B" text, zone text, x text, y int);
    CREATE UNIQUE INDEX tricky_key ON tricky (lower(t), ("B" || zone), (x || ')=(' || y));
    INSERT INTO tricky VALUES ('a, b', ')=(', ', ', '(', 1);
  `)
  const duplicate = "INSERT INTO users VALUES (2, 'ada@example.com')"
  const notNull = 'INSERT INTO users (id) VALUES (NULL)'
  const trickyDuplicate = "INSERT INTO tricky VALUES ('a, b', ')=(', ', ', '(', 1)"

  // (not db.serverVersion: the helper reads a column `v` that SHOW does not return, so it is always NaN)
  const { rows } = await db.pool.query<{ major: number }>("SELECT current_setting('server_version_num')::int / 10000 AS major")
  const serverVersion = rows[0]?.major ?? 0

  const nodePgUnique = await db.errorOf(duplicate)
  const nodePgNotNull = await db.errorOf(notNull)
  const nodePgRaised = await db.errorOf('DO $$ BEGIN RAISE unique_violation; END $$')

  const translated: LiveErrors['translated'] = {}
  const client = await db.pool.connect()
  try {
    await client.query("SET lc_messages = 'C'").catch(() => {}) // English, whatever the server's default
    translated.en = { detail: String(((await errorFrom(() => client.query(trickyDuplicate))) as pg.DatabaseError).detail) }
    for (const [language, locale] of Object.entries(LOCALES)) {
      try {
        await client.query(`SET lc_messages = '${locale}'`)
      } catch (error) {
        translated[language] = { skip: `the server refuses lc_messages = '${locale}' (${(error as Error).message})` }
        continue
      }
      const detail = String(((await errorFrom(() => client.query(trickyDuplicate))) as pg.DatabaseError).detail)
      translated[language] = / already exists/.test(detail)
        ? { skip: `lc_messages = '${locale}' is accepted but messages stay in English (a server built without NLS)` }
        : { detail }
    }
  } finally {
    client.release(true) // not back to the pool with a foreign lc_messages
  }

  const sql = postgres(process.env.DATABASE_URL ?? '', { max: 1, onnotice: () => {}, connect_timeout: 10 })
  try {
    const postgresJsUnique = await errorFrom(() => sql.unsafe(duplicate.replace('users', `${schema}.users`)))
    const postgresJsNotNull = await errorFrom(() => sql.unsafe(notNull.replace('users', `${schema}.users`)))
    if (!(postgresJsUnique instanceof postgres.PostgresError) || !(postgresJsNotNull instanceof postgres.PostgresError)) {
      throw new Error(`postgres.js threw something other than a PostgresError: ${String(postgresJsUnique)}`)
    }
    return { schema, serverVersion, nodePgUnique, nodePgNotNull, nodePgRaised, postgresJsUnique, postgresJsNotNull, translated }
  } finally {
    await sql.end({ timeout: 5 })
  }
}

const live = process.env.DATABASE_URL === undefined || process.env.DATABASE_URL === ''
  ? undefined
  : await produceLiveErrors(t)

t.test('real client errors', {
  skip: live === undefined ? 'DATABASE_URL is not set: real node-postgres and postgres.js errors cannot be produced (the synthetic shapes below are still tested)' : false
}, async (t) => {
  if (live === undefined) return
  /** Every field recognise reads has the same type on the real error as on the synthetic one. */
  const sameShape = (t: Test, real: object, synthetic: Record<string, unknown>, fields: string[]): void => {
    for (const field of fields) {
      t.equal(typeof (real as Record<string, unknown>)[field], typeof synthetic[field],
        `${field} is ${typeof synthetic[field]} on the real error as on the synthetic one`)
    }
  }

  t.test('node-postgres DatabaseError: code, detail, constraint, schema, table, column', async (t) => {
    const read = ['code', 'severity', 'message', 'detail', 'constraint', 'schema', 'table', 'column']
    sameShape(t, live.nodePgUnique, nodePgUniqueViolation(), read)
    sameShape(t, live.nodePgNotNull, nodePgNotNullViolation(), read)
    const found = findUniqueViolation(live.nodePgUnique)
    t.same(fieldsOf(found), { ...UNIQUE_FIELDS, schema: live.schema }, 'a real unique violation gives every field')
    t.equal(found?.error, live.nodePgUnique, 'and the error it read them from')
    t.same(fieldsOf(findPgError(live.nodePgNotNull)), {
      code: '23502',
      message: 'null value in column "id" of relation "users" violates not-null constraint',
      detail: 'Failing row contains (null, null).',
      constraint: undefined,
      schema: live.schema,
      table: 'users',
      column: 'id'
    }, 'a real not-null violation is a PostgreSQL error with its column')
    t.equal(findUniqueViolation(live.nodePgNotNull), undefined, 'but not a unique violation')
  })

  t.test('postgres.js PostgresError: constraint_name, table_name, schema_name, column_name', async (t) => {
    const read = ['code', 'severity', 'message', 'detail', 'constraint_name', 'schema_name', 'table_name', 'column_name']
    sameShape(t, live.postgresJsUnique, postgresJsUniqueViolation(), read)
    sameShape(t, live.postgresJsNotNull, postgresJsNotNullViolation(), read)
    t.notOk('constraint' in live.postgresJsUnique, 'postgres.js has no node-postgres `constraint` field')
    const found = findUniqueViolation(live.postgresJsUnique)
    t.same(fieldsOf(found), { ...UNIQUE_FIELDS, schema: live.schema }, 'a real unique violation gives every field under the common names')
    t.equal(found?.error, live.postgresJsUnique, 'and the error it read them from')
    t.equal(findPgError(live.postgresJsNotNull)?.column, 'id', 'column_name is read as column')
    t.equal(findUniqueViolation(live.postgresJsNotNull), undefined, 'a not-null violation is not a unique violation')
  })

  t.test('RAISE unique_violation: code 23505 with no DETAIL, constraint or table is still recognised', async (t) => {
    t.equal(live.nodePgRaised.detail, undefined, 'the server sends no DETAIL')
    t.equal(live.nodePgRaised.constraint, undefined, 'nor a constraint')
    t.match(findUniqueViolation(live.nodePgRaised), { code: UNIQUE_VIOLATION, detail: undefined, constraint: undefined, table: undefined },
      'recognised by its severity')
  })

  t.test('the DETAIL texts copied below are what this server prints', async (t) => {
    for (const [language, outcome] of Object.entries(live.translated)) {
      t.test(language, { skip: 'skip' in outcome ? outcome.skip : false }, async (t) => {
        if ('skip' in outcome) return
        t.same(parseKeyDetail(outcome.detail), TRICKY_PARSED, outcome.detail)
        if (live.serverVersion === 15) t.equal(outcome.detail, TRICKY_DETAIL[language], 'the copy below is exact (PostgreSQL 15)')
      })
    }
  })
})

// ---------------------------------------------------------------------------------------------
// parseKeyDetail
// ---------------------------------------------------------------------------------------------

t.test('parseKeyDetail reads the key description whatever language the message is in', async (t) => {
  // de, fr and ja copied from PostgreSQL 15 output (lc_messages); the others from the PostgreSQL 15
  // message catalogs (postgres-15.mo), `%s` filled in as the server does.
  const alreadyExists: Record<string, string> = {
    en: 'Key (email)=(ada@example.com) already exists.',
    de: 'Schlüssel »(email)=(ada@example.com)« existiert bereits.',
    fr: 'La clé « (email)=(ada@example.com) » existe déjà.',
    ja: 'キー (email)=(ada@example.com) はすでに存在します。',
    ko: '(email)=(ada@example.com) 키가 이미 있습니다.', // the key first
    zh_CN: '键 (email)=(ada@example.com) 已存在。', // no final period
    zh_TW: '鍵 (email)=(ada@example.com) 已存在。',
    ru: 'Ключ "(email)=(ada@example.com)" уже существует.', // quoted with "
    es: 'Ya existe la llave (email)=(ada@example.com).', // the key last, then a period
    ka: 'გასაღები უკვე არსებობს: (email)=(ada@example.com).'
  }
  for (const [language, detail] of Object.entries(alreadyExists)) {
    t.same(parseKeyDetail(detail), { keys: ['email'], keyColumns: [['email']], valuesText: 'ada@example.com' }, `${language}: ${detail}`)
  }

  // 23505 from CREATE UNIQUE INDEX over duplicate rows; de, fr, ja, en copied from PostgreSQL 15 output.
  const isDuplicated: Record<string, string> = {
    en: 'Key (v)=(d) is duplicated.',
    de: 'Schlüssel (v)=(d) ist doppelt vorhanden.',
    fr: 'La clé (v)=(d) est dupliquée.',
    ja: 'キー(v)=(d)は重複しています。', // no spaces around the key
    ko: '(v)=(d) 키가 중복됨',
    zh_CN: '键值 (v)=(d) 重复。'
  }
  for (const [language, detail] of Object.entries(isDuplicated)) {
    t.same(parseKeyDetail(detail), { keys: ['v'], keyColumns: [['v']], valuesText: 'd' }, `DDL, ${language}: ${detail}`)
  }

  for (const [language, detail] of Object.entries(TRICKY_DETAIL)) {
    t.same(parseKeyDetail(detail), TRICKY_PARSED, `expressions and values holding ", ", ")=(" and "(", ${language}`)
  }

  t.same(parseKeyDetail('Ключ "(email)=(say "hi")" уже существует.')?.valuesText, 'say "hi"',
    'a value holding " inside a translation that quotes with "')
  t.same(parseKeyDetail('(email)=(x)) 키가 이미 있습니다.')?.valuesText, 'x)', 'a value ending in ) with the key first')
})

t.test('parseKeyDetail reads keys as PostgreSQL 15 prints them', async (t) => {
  // Each DETAIL below is a real server's output for the index in the comment.
  const cases: Array<[string, string, KeyDetail]> = [
    [ // UNIQUE ("a""b", t)
      'quoted identifier with a doubled quote',
      'Key ("a""b", t)=(1, x) already exists.',
      { keys: ['"a""b"', 't'], keyColumns: [['a"b'], ['t']], valuesText: '1, x' }
    ],
    [ // UNIQUE ("Org Id", "a)=(b", "x, y")
      'quoted identifiers holding a space, ")=(" and ", "',
      'Key ("Org Id", "a)=(b", "x, y")=(1, c, d) already exists.',
      { keys: ['"Org Id"', '"a)=(b"', '"x, y"'], keyColumns: [['Org Id'], ['a)=(b'], ['x, y']], valuesText: '1, c, d' }
    ],
    [ // (COALESCE(t, '')), value ''
      "an empty string literal '' and an empty value",
      "Key (COALESCE(t, ''::text))=() already exists.",
      { keys: ["COALESCE(t, ''::text)"], keyColumns: [['t']], valuesText: '' }
    ],
    [ // ((data ->> 'k)=('))
      'a string literal holding ")=("',
      "Key ((data ->> 'k)=('::text))=(v) already exists.",
      { keys: ["(data ->> 'k)=('::text)"], keyColumns: [['data']], valuesText: 'v' }
    ],
    [ // ((data ->> 'it''s "(q)"'))
      "a string literal holding '', \" and parentheses",
      'Key ((data ->> \'it\'\'s "(q)"\'::text))=(w) already exists.',
      { keys: ['(data ->> \'it\'\'s "(q)"\'::text)'], keyColumns: [['data']], valuesText: 'w' }
    ],
    [ // (("a""b"::text || 'x'''''), (t || E'\\'))
      'a quoted column, a literal of quotes and a backslash literal',
      'Key (("a""b"::text || \'x\'\'\'\'\'::text), (t || \'\\\'::text))=(5x\'\', q\\) already exists.',
      { keys: ['("a""b"::text || \'x\'\'\'\'\'::text)', "(t || '\\'::text)"], keyColumns: [['a"b'], ['t']], valuesText: "5x'', q\\" }
    ],
    [ // (substr(t, 1, 2), replace(name, ', ', ''))
      'commas inside function calls, one of them in a literal',
      "Key (substr(t, 1, 2), replace(name, ', '::text, ''::text))=(zz, ab) already exists.",
      { keys: ['substr(t, 1, 2)', "replace(name, ', '::text, ''::text)"], keyColumns: [['t'], ['name']], valuesText: 'zz, ab' }
    ],
    [ // ((vc::text), (t::varchar), COALESCE(tz, '2020-01-01 00:00:00+00'::timestamptz))
      'casts to character varying and timestamp with time zone',
      "Key ((vc::text), (t::character varying), COALESCE(tz, '2020-01-01 00:00:00+00'::timestamp with time zone))=(a, b, 2020-01-01 00:00:00+00) already exists.",
      {
        keys: ['(vc::text)', '(t::character varying)', "COALESCE(tz, '2020-01-01 00:00:00+00'::timestamp with time zone)"],
        keyColumns: [['vc'], ['t'], ['tz']],
        valuesText: 'a, b, 2020-01-01 00:00:00+00'
      }
    ],
    [ // (((data -> 'a') ->> 'b'), (CASE WHEN active THEN email ELSE NULL END))
      'nested parentheses and a CASE printed over several lines',
      "Key (((data -> 'a'::text) ->> 'b'::text), (\nCASE\n    WHEN active THEN email\n    ELSE NULL::text\nEND))=(1, m) already exists.",
      {
        keys: ["((data -> 'a'::text) ->> 'b'::text)", '(\nCASE\n    WHEN active THEN email\n    ELSE NULL::text\nEND)'],
        keyColumns: [['data'], ['active', 'email']],
        valuesText: '1, m'
      }
    ],
    [ // ((t COLLATE "C"), (lower(t) COLLATE "C"), lower(t COLLATE "C"), (y::double precision))
      'COLLATE "C" (dropped at the top of a key, kept inside an expression) and double precision',
      'Key (t, lower(t), lower(t COLLATE "C"), (y::double precision))=(cc, cc, cc, 3) already exists.',
      { keys: ['t', 'lower(t)', 'lower(t COLLATE "C")', '(y::double precision)'], keyColumns: [['t'], ['t'], ['t'], ['y']], valuesText: 'cc, cc, cc, 3' }
    ],
    [ // (date_trunc('day', ts), (x::integer + y), (y + 1))
      'a function with a literal argument and casts inside arithmetic',
      "Key (date_trunc('day'::text, ts), (x::integer + y), (y + 1))=(2020-01-02 00:00:00, 7, 5) already exists.",
      { keys: ["date_trunc('day'::text, ts)", '(x::integer + y)', '(y + 1)'], keyColumns: [['ts'], ['x', 'y'], ['y']], valuesText: '2020-01-02 00:00:00, 7, 5' }
    ],
    [ // (COALESCE(org_id, 0), lower(email), ((lower(email) || name)))
      'COALESCE, a function and a concatenation',
      'Key (COALESCE(org_id, 0), lower(email), (lower(email) || name))=(0, e, en) already exists.',
      { keys: ['COALESCE(org_id, 0)', 'lower(email)', '(lower(email) || name)'], keyColumns: [['org_id'], ['email'], ['email', 'name']], valuesText: '0, e, en' }
    ]
  ]
  for (const [name, detail, expected] of cases) t.same(parseKeyDetail(detail), expected, name)
})

t.test('parseKeyDetail takes the values up to the last ) of the text, whatever they hold', async (t) => {
  t.equal(parseKeyDetail('Key (email)=(a, b)=(c) already exists. Key (d\ne) already exists.')?.valuesText,
    'a, b)=(c) already exists. Key (d\ne', 'values holding ", ", ")=(", a newline and a second "Key ("')
  t.equal(parseKeyDetail('Key (email)=()) already exists.')?.valuesText, ')', 'a value that is only )')
  t.equal(parseKeyDetail('Key (email)=(() already exists.')?.valuesText, '(', 'a value that is only (')
  t.equal(parseKeyDetail('Key (email)=("") already exists.')?.valuesText, '""', 'quotes in a value are not quoting')
  t.equal(parseKeyDetail("Key (email)=(it's) already exists.")?.valuesText, "it's", 'nor are apostrophes')
  t.equal(parseKeyDetail('Key (a, b)=(null, null) already exists.')?.valuesText, 'null, null', 'NULLS NOT DISTINCT prints null')
})

t.test('parseKeyDetail gives undefined for text without a key description', async (t) => {
  const cases: Array<[string, unknown]> = [
    ['no DETAIL at all', undefined],
    ['null', null],
    ['a number', 23505],
    ['an object', { detail: EMAIL_DETAIL }],
    ['an array holding a DETAIL', [EMAIL_DETAIL]],
    // eslint-disable-next-line no-new-wrappers
    ['a String object', new String(EMAIL_DETAIL)],
    ['an empty string', ''],
    ['no parentheses', 'already exists.'],
    ['a check violation row', 'Failing row contains (1, x).'],
    ['an empty key list', 'Key ()=(x) already exists.'],
    ['an empty key after a comma', 'Key (a, )=(x) already exists.'],
    ['an empty key before a comma', 'Key (, a)=(x) already exists.'],
    ['no value list after )=(', 'Key (a)=('],
    ['a key list not followed by =(', 'Key (a) already exists.'],
    ['spaces around =', 'Key (a) = (b) already exists.'],
    ['a key list never closed', 'Key (lower(a)=(b'],
    ['a quoted identifier never closed', 'Key ("a)=(b) already exists.'],
    ['a string literal never closed', "Key (f('a)=(b)) already exists."]
  ]
  for (const [name, detail] of cases) t.equal(parseKeyDetail(detail), undefined, name)
})

t.test('parseKeyDetail tries the first three ( as the start of the key list, no more', async (t) => {
  t.same(parseKeyDetail('Clé (en double) (email)=(x) existe.')?.keys, ['email'], 'a parenthesis before the key list')
  t.same(parseKeyDetail('(a) (b) (c)=(x)')?.keys, ['c'], 'two before it')
  t.same(parseKeyDetail('((a) (c)=(x)')?.keys, ['c'], 'a nested one counts as a try')
  t.equal(parseKeyDetail('(a) (b) (c) (d)=(x)'), undefined, 'three before it: given up, so the work stays bounded')
})

// ---------------------------------------------------------------------------------------------
// sql-text: skipQuoted, identifierName, expressionColumns
// ---------------------------------------------------------------------------------------------

t.test('skipQuoted steps over a quoted run, doubled quotes included', async (t) => {
  t.equal(skipQuoted('"a""b" x', 0), 6, 'an identifier with a doubled quote')
  t.equal(skipQuoted("'it''s' x", 0), 7, 'a literal with a doubled apostrophe')
  t.equal(skipQuoted("''::text", 0), 2, 'an empty literal')
  t.equal(skipQuoted('x "a" y', 2), 5, 'from the middle of the text')
  t.equal(skipQuoted('"it\'s"', 0), 6, 'the other quote character is just a character')
  t.equal(skipQuoted('"abc', 0), 4, 'never closed: the end of the text')
  t.equal(skipQuoted('"a""', 0), 4, 'never closed after a doubled quote: the end of the text')
})

t.test('identifierName gives the name a key stands for, or undefined for an expression', async (t) => {
  const names: Array<[string, string]> = [
    ['email', 'email'],
    ['org_id', 'org_id'],
    ['_x$1', '_x$1'],
    ['"Org Id"', 'Org Id'],
    ['"a""b"', 'a"b'],
    ['""""', '"'],
    ['"a)=(b"', 'a)=(b'],
    ['"x, y"', 'x, y'],
    ['"émail"', 'émail'],
    ['"user"', 'user']
  ]
  for (const [text, name] of names) t.equal(identifierName(text), name, `${text} names ${name}`)
  const expressions = ['lower(email)', '(a + b)', 'Email', 'émail', '1abc', 'a b', '', '"', '"a"b"', '"abc', '"a" || "b"', '"a"."b"', 'lower("a")']
  for (const text of expressions) t.equal(identifierName(text), undefined, `${JSON.stringify(text)} is not a single name`)
})

t.test('identifierName: an unterminated quoted identifier is not a name', async (t) => {
  t.equal(identifierName('"abc'), undefined, '"abc')
  t.equal(identifierName('"a""'), undefined, '"a"" (a doubled quote, then the end)')
  t.equal(identifierName('"""'), undefined, '""" (one doubled quote, never closed)')
})

t.test('expressionColumns finds the columns of deparsed index expressions', async (t) => {
  const cases: Array<[string, string[]]> = [
    ['lower(email)', ['email']],
    ['(a + b)', ['a', 'b']],
    ['COALESCE(org_id, 0)', ['org_id']],
    ['(lower(email) || name)', ['email', 'name']],
    ["((data -> 'a'::text) ->> 'b'::text)", ['data']],
    ['CASE WHEN active THEN email ELSE NULL::text END', ['active', 'email']],
    ['(\nCASE\n    WHEN active THEN email\n    ELSE NULL::text\nEND)', ['active', 'email']],
    ["date_trunc('day'::text, created_at)", ['created_at']],
    ['(x::integer + y)', ['x', 'y']],
    ['lower("Email")', ['Email']],
    ['("Mixed" || "x""y")', ['Mixed', 'x"y']],
    ['("a)=(b" || "x, y")', ['a)=(b', 'x, y']],
    ['(b || a || b)', ['b', 'a']], // in order of appearance, once each
    ['(n >= 1 AND n <= m)', ['n', 'm']],
    // type names after :: are not columns, however many words they take
    ['(t::character varying)', ['t']],
    ['(t::character varying(10)::text)', ['t']],
    ["COALESCE(tz, '2020-01-01 00:00:00+00'::timestamp with time zone)", ['tz']],
    ['(ts::time without time zone)', ['ts']],
    ['(n::double precision)', ['n']],
    ['(t::bit varying(5))', ['t']],
    ['(n::numeric(10,2))', ['n']],
    ['(t::"char")', ['t']],
    // quoted function names, collations and literals are not columns
    ['"substring"(t, 2)', ['t']],
    ['lower(t COLLATE "C")', ['t']],
    ['((t COLLATE "C") || u)', ['t', 'u']],
    ['(\'a b c\'::text || t)', ['t']],
    ["COALESCE(t, 'true'::text)", ['t']],
    ["(t || 'x''y \"z\"'::text)", ['t']],
    ['(j @? \'$."a"\'::jsonpath)', ['j']],
    // lower-case constants and upper-case keywords are not columns
    ['(b = true)', ['b']],
    ['(b = false OR b IS NULL)', ['b']],
    ['(n = ANY (ARRAY[1, 2]))', ['n']],
    ["POSITION(('a'::text) IN (t))", ['t']],
    ["TRIM(BOTH 'x'::text FROM t)", ['t']],
    ['SUBSTRING(t FROM 2 FOR 3)', ['t']],
    ["OVERLAY(t PLACING 'x'::text FROM 2 FOR 3)", ['t']],
    ['NORMALIZE(t, NFKC)', ['t']],
    ["((ts AT TIME ZONE 'UTC'::text))", ['ts']],
    ['(1.5 * n::numeric)', ['n']],
    ['', []]
  ]
  for (const [expression, columns] of cases) t.same(expressionColumns(expression), columns, JSON.stringify(expression))
})

t.test('expressionColumns keeps only the known columns when it is given them', async (t) => {
  t.same(expressionColumns('(a + b)', new Set(['b'])), ['b'], 'a name not in the table is dropped')
  t.same(expressionColumns('lower(email)', new Set()), [], 'nothing known, nothing found')
  t.same(expressionColumns('lower("Email")', new Set(['Email'])), ['Email'], 'quoted names are matched unquoted')
  t.same(expressionColumns('(lower(email) || name)', new Set(['name', 'email'])), ['email', 'name'], 'order of appearance, not of the set')
  t.same(expressionColumns('EXTRACT(day FROM ts)', new Set(['ts'])), ['ts'], 'a word that is not a column is filtered out')
  t.same(expressionColumns('app.norm(email)', new Set(['email'])), ['email'], 'so is a schema name')
})

// The expressions below are real PostgreSQL 15 output (pg_get_indexdef, hence DETAIL); the index in the comment.
t.test('expressionColumns: the name after an unquoted COLLATE is a collation', async (t) => {
  // (lower(name COLLATE ucs_basic), ((zone COLLATE ucs_basic) || "B"))
  t.same(expressionColumns('lower(name COLLATE ucs_basic)'), ['name'], 'lower(name COLLATE ucs_basic)')
  t.same(expressionColumns('((zone COLLATE ucs_basic) || "B")'), ['zone', 'B'], '((zone COLLATE ucs_basic) || "B")')
  t.same(expressionColumns('((zone COLLATE ucs_basic) || "B")', new Set(['zone', 'B'])), ['zone', 'B'],
    'with the known columns (the catalog path): "B" is lost too')
  t.same(parseKeyDetail('Key (lower(name COLLATE ucs_basic), ((zone COLLATE ucs_basic) || "B"))=(s, ut) already exists.')?.keyColumns,
    [['name'], ['zone', 'B']], 'the key columns read from DETAIL alone')
})

t.test('expressionColumns: the words of a type name after a type modifier belong to the type', async (t) => {
  // ((ts::time(3))), ((ts::timestamp(0))), (((tz AT TIME ZONE 'UTC')::time(2)))
  t.same(expressionColumns('(ts::time(3) without time zone)'), ['ts'], 'time(3) without time zone')
  t.same(expressionColumns('(ts::timestamp(0) without time zone)'), ['ts'], 'timestamp(0) without time zone')
  t.same(expressionColumns("((tz AT TIME ZONE 'UTC'::text)::time(2) without time zone)"), ['tz'], 'after AT TIME ZONE')
  // ((iv::interval day)), ((iv::interval day to second)), ((iv::interval year to month))
  t.same(expressionColumns('(iv::interval day)'), ['iv'], 'interval day')
  t.same(expressionColumns('(iv::interval day to second)'), ['iv'], 'interval day to second')
  t.same(expressionColumns('(iv::interval year to month)'), ['iv'], 'interval year to month')
  t.same(expressionColumns('(iv::interval second(2))'), ['iv'], 'interval second(2) (right, as second is followed by a parenthesis)')
})

t.test('expressionColumns: the field of EXTRACT is not a column', async (t) => {
  // (extract(day from ts)): Key (EXTRACT(day FROM ts))=(1) already exists.
  t.same(expressionColumns('EXTRACT(day FROM ts)'), ['ts'], 'EXTRACT(day FROM ts)')
  t.same(expressionColumns('EXTRACT(epoch FROM ts)'), ['ts'], 'EXTRACT(epoch FROM ts)')
})

t.test('expressionColumns: qualified names are not columns', async (t) => {
  // (scratch.norm(email)), a function outside search_path: Key (scratch.norm(email))=(q) already exists.
  t.same(expressionColumns('scratch.norm(email)'), ['email'], 'a schema-qualified function')
  // ((email::scratch.dom)), a domain outside search_path
  t.same(expressionColumns('(email::scratch.dom)'), ['email'], 'a schema-qualified type')
  // (((p).f2)), a field of the composite column p
  t.same(expressionColumns('((p).f2)'), ['p'], 'a field of a composite column')
})

// ---------------------------------------------------------------------------------------------
// splitValues
// ---------------------------------------------------------------------------------------------

t.test('splitValues gives one value per key', async (t) => {
  t.same(splitValues('a, b)=(c', 1), ['a, b)=(c'], 'one key: the whole text, ", " and all')
  t.same(splitValues('', 1), [''], 'one key with an empty value')
  t.same(splitValues('7, Research', 2), ['7', 'Research'], 'as many parts as keys')
  t.same(splitValues(', ', 2), ['', ''], 'two empty values')
  t.same(splitValues('null, 5', 2), ['null', '5'], 'NULLS NOT DISTINCT null')
  t.same(splitValues('a,, b', 2), ['a,', 'b'], 'a value ending in a comma')
  t.same(splitValues('a,  b', 2), ['a', ' b'], 'a value starting with a space')
  t.same(splitValues('a)=(b, c', 2), ['a)=(b', 'c'], ')=( is just text')
  t.same(splitValues('7, Research', 2, [true, true]), ['7', 'Research'], 'commaFree is not needed when the counts match')
  t.equal(splitValues('x', 0), undefined, 'no keys')
  t.equal(splitValues('x', -1), undefined, 'a negative count')
  t.equal(splitValues('x', 2), undefined, 'fewer parts than keys')
})

t.test('splitValues refuses to guess when a text value holds ", "', async (t) => {
  t.equal(splitValues('a, b, c', 2), undefined, 'two text keys, three parts: no telling which value holds ", "')
  t.equal(splitValues('a, b, c', 2, [false, false]), undefined, 'neither key comma-free')
  t.equal(splitValues('a, b, 2, c, d', 3, [false, true, false]), undefined,
    'two keys that may hold ", " around a number: still ambiguous (real: (t, y, email)=(a, b, 2, c, d))')
  t.equal(splitValues('1, 2, 3', 2, [true, true]), undefined, 'every key comma-free yet too many parts: inconsistent, no answer')
})

t.test('splitValues places ", " in the one key whose type may print it', async (t) => {
  t.same(splitValues('7, Research, EMEA', 2, [true, false]), ['7', 'Research, EMEA'], 'number first')
  t.same(splitValues('Research, EMEA, 7', 2, [false, true]), ['Research, EMEA', '7'], 'number last')
  t.same(splitValues('1, a, b, c, 2', 3, [true, false, true]), ['1', 'a, b, c', '2'],
    'numbers on both sides (real: (y, t, org_id)=(1, a, b, c, 2))')
  t.same(splitValues('1, 2, a, , b', 3, [true, true, false]), ['1', '2', 'a, , b'], 'two comma-free keys first')
  t.same(splitValues('a, b, 1, 2', 3, [false, true, true]), ['a, b', '1', '2'], 'two comma-free keys last')
  t.same(splitValues(', , 1', 2, [false, true]), [', ', '1'], 'a value that is only ", "')
  t.same(splitValues('1, a, b', 2, [true]), ['1', 'a, b'], 'a missing commaFree entry counts as may hold ", "')
  t.equal(splitValues('1, a, b', 2, []), undefined, 'an empty commaFree says nothing')
})

// ---------------------------------------------------------------------------------------------
// findPgError / findUniqueViolation
// ---------------------------------------------------------------------------------------------

interface Source {
  name: string
  /** A fresh unique violation. */
  make: () => Error
  expected: Omit<PgErrorFields, 'error'>
  /** node-postgres's or postgres.js's. */
  driver: 'pg' | 'postgres.js'
}

const sources: Source[] = [
  { name: 'node-postgres (shape)', make: nodePgUniqueViolation, expected: UNIQUE_FIELDS, driver: 'pg' },
  { name: 'postgres.js (shape)', make: postgresJsUniqueViolation, expected: UNIQUE_FIELDS, driver: 'postgres.js' },
  ...(live === undefined
    ? []
    : [
        { name: 'node-postgres (real)', make: () => live.nodePgUnique, expected: { ...UNIQUE_FIELDS, schema: live.schema }, driver: 'pg' as const },
        { name: 'postgres.js (real)', make: () => live.postgresJsUnique, expected: { ...UNIQUE_FIELDS, schema: live.schema }, driver: 'postgres.js' as const }
      ])
]

/** Own enumerable fields, as `{ ...error }` copies them (TypeORM). */
function copyFields (error: Error): Record<string, unknown> {
  return { ...(error as unknown as Record<string, unknown>) }
}

interface Wrapper {
  name: string
  wrap: (inner: Error) => object
  /** Whether the fields are read from the wrapper itself (a driver-made copy: MikroORM's) rather than from the inner error. */
  readsWrapper?: boolean
  message?: string
  /** The drivers the wrapper is used with (default: both). */
  drivers?: ReadonlyArray<Source['driver']>
}

const wrappers: Wrapper[] = [
  { name: 'thrown as is (Knex, Kysely)', wrap: (inner) => inner },
  {
    name: 'on cause (Drizzle DrizzleQueryError)',
    wrap: (inner) => Object.assign(new Error('Failed query: insert into "users" ("email") values ($1)\nparams: ada@example.com', { cause: inner }),
      { name: 'DrizzleQueryError', query: 'insert into "users" ("email") values ($1)', params: ['ada@example.com'] })
  },
  {
    // The copy on top is an Error's, which anyone can make: the original on driverError is read.
    name: 'fields copied on top, original on driverError (TypeORM QueryFailedError)',
    wrap: (inner) => Object.assign(new Error('duplicate key value violates unique constraint "users_email_key"'),
      { ...copyFields(inner), name: 'QueryFailedError', query: 'INSERT INTO "users" ...', parameters: [], driverError: inner })
  },
  {
    name: 'on parent and original (Sequelize UniqueConstraintError)',
    wrap: (inner) => Object.assign(new Error('Validation error'),
      { name: 'SequelizeUniqueConstraintError', errors: [], fields: { email: 'ada@example.com' }, parent: inner, original: inner, sql: 'INSERT ...' })
  },
  { name: 'on original only', wrap: (inner) => ({ original: inner }) },
  { name: 'on parent only', wrap: (inner) => ({ parent: inner }) },
  { name: 'on driverError only', wrap: (inner) => ({ driverError: inner }) },
  {
    name: 'constraint on top but no code, original on cause (Slonik)',
    wrap: (inner) => Object.assign(new Error('Query violates a unique integrity constraint.', { cause: inner }),
      { name: 'UniqueIntegrityConstraintViolationError', constraint: 'users_email_key' })
  },
  {
    // MikroORM's own class, which copies every own field of the driver's error and keeps nothing else of it.
    name: 'fields copied on top (MikroORM UniqueConstraintViolationException)',
    wrap: (inner) => new UniqueConstraintViolationException(inner),
    readsWrapper: true,
    drivers: ['pg'] // MikroORM's PostgreSQL driver is node-postgres
  },
  {
    name: 'a wrapper with its own five-letter code',
    wrap: (inner) => Object.assign(new Error('request failed', { cause: inner }), { code: 'EPIPE' })
  },
  {
    name: 'three levels: an HTTP error around a Drizzle error around the driver error',
    wrap: (inner) => new Error('could not create user', { cause: new Error('Failed query', { cause: inner }) })
  },
  {
    name: 'in an AggregateError (Promise.any, statements sent together)',
    wrap: (inner) => new AggregateError([new Error('timeout'), inner], 'all failed')
  }
]

t.test('findUniqueViolation finds the driver error under every wrapper', async (t) => {
  for (const source of sources) {
    for (const wrapper of wrappers) {
      if (wrapper.drivers !== undefined && !wrapper.drivers.includes(source.driver)) continue
      const inner = source.make()
      const thrown = wrapper.wrap(inner)
      const found = findUniqueViolation(thrown)
      const expected = { ...source.expected, ...(wrapper.message === undefined ? {} : { message: wrapper.message }) }
      t.same(fieldsOf(found), expected, `${source.name}, ${wrapper.name}: the fields`)
      t.equal(found?.error, wrapper.readsWrapper === true ? thrown : inner, `${source.name}, ${wrapper.name}: read from the right object`)
    }
  }
})

t.test('findPgError reads node-postgres names before postgres.js names, and only strings', async (t) => {
  const withFields = (fields: Record<string, unknown>): DriverError => Object.assign(pgDatabaseError('m', { code: '23505' }), fields)
  t.match(findPgError(withFields({ constraint: 'a', constraint_name: 'b', table: 't', table_name: 'u', schema: 's', schema_name: 'r', column: 'c', column_name: 'd' })),
    { constraint: 'a', table: 't', schema: 's', column: 'c' }, 'both present: node-postgres names win')
  t.match(findPgError(withFields({ constraint: null, constraint_name: 'b' })),
    { constraint: 'b' }, 'a non-string node-postgres field falls back to the postgres.js one')
  t.same(fieldsOf(findPgError(withFields({ detail: 42, constraint: {}, message: 7 }))),
    { code: '23505', message: '', detail: undefined, constraint: undefined, schema: undefined, table: undefined, column: undefined },
    'non-string fields read as absent, a missing message as ""')
})

/** What a route makes of an upstream service's JSON error body: `Object.assign(new Error(…), body)`. */
function copiedOnto (target: object, json: string): object {
  return Object.assign(target, JSON.parse(json) as object)
}

const FORGED_FIELDS = {
  length: 184,
  name: 'error',
  severity: 'ERROR',
  code: '23505',
  detail: 'Key (<img src=x onerror=alert(1)>)=(1) already exists.',
  schema: 'secret',
  table: 'ledger',
  constraint: 'ledger_pkey',
  file: 'nbtinsert.c',
  line: '664',
  routine: '_bt_check_unique'
}

t.test('findPgError believes only errors a PostgreSQL driver made', async (t) => {
  t.ok(findPgError(pgDatabaseError('raised', { code: '23505' })), 'a DatabaseError with a code and a severity only (RAISE unique_violation)')
  t.ok(findPgError(pgDatabaseError('internal', { code: 'XX000' })), 'a letter-and-digit SQLSTATE')
  t.ok(findPgError(postgresJsError({ message: 'raised', code: '23505' })), 'a PostgresError with a code')
  t.ok(findPgError(Object.assign(postgresJsError({ message: 'x', code: '23505' }), { severity: undefined })), 'a PostgresError with severity_local only (CockroachDB sends no V field)')
  for (const summary of [{ originalCode: '23505', kind: 'UniqueConstraintViolation' }, { originalCode: '23503', kind: 'ForeignKeyConstraintViolation', constraint: null }]) {
    t.match(findPgError(new DriverAdapterError(summary as never)), { code: summary.originalCode, message: '', constraint: undefined, table: undefined },
      `Prisma's summary with ${'constraint' in summary ? 'a null' : 'no'} constraint and no message`)
  }
  const json = JSON.stringify(FORGED_FIELDS)
  class UpstreamError extends Error {}
  const forged: Array<[string, unknown]> = [
    ['a plain object with every field', { ...FORGED_FIELDS }],
    ['a JSON body copied onto an Error', copiedOnto(new Error('upstream failed'), json)],
    ['a JSON body copied onto an Error of the application\'s class', copiedOnto(new UpstreamError('upstream failed'), json)],
    ['a JSON body whose "__proto__" names DatabaseError, copied onto an Error (the prototype becomes that object)',
      copiedOnto(new Error('upstream failed'), `${json.slice(0, -1)},"__proto__":{"constructor":{"name":"DatabaseError"}}}`)],
    ['a JSON body whose "__proto__" chain holds a constructor-like object with a prototype',
      copiedOnto(new Error('x'), '{"code":"23505","length":1,"severity":"ERROR","__proto__":{"constructor":{"name":"DatabaseError","prototype":{}}}}')],
    ['a JSON body whose "__proto__" has no constructor of its own', copiedOnto(new Error('x'), `${json.slice(0, -1)},"__proto__":{"code":"23505"}}`)],
    ['the forged body on cause', new Error('upstream failed', { cause: JSON.parse(json) })],
    ['the forged body in an AggregateError', new AggregateError([JSON.parse(json)])],
    ["Prisma's summary alone, not on a DriverAdapterError", { meta: { driverAdapterError: { name: 'DriverAdapterError', cause: { originalCode: '23505', kind: 'UniqueConstraintViolation', originalMessage: 'x', constraint: { index: 'ledger_pkey' }, table: 'ledger' } } } }],
    ["Sequelize's own DatabaseError class, which has not node-postgres's layout", Object.assign(new sequelize.DatabaseError(new Error('x') as never), { code: '23505', severity: 'ERROR' })],
    ['a DatabaseError without severity', Object.assign(pgDatabaseError('x', { code: '23505' }), { severity: undefined })],
    ['a DatabaseError with a string length', Object.assign(pgDatabaseError('x', { code: '23505' }), { length: '184' })],
    ['a PostgresError without any severity', Object.assign(postgresJsError({ message: 'x', code: '23505' }), { severity: undefined, severity_local: undefined })],
    ['a Node system error with a 5-letter code', Object.assign(new Error('write EPIPE'), { code: 'EPIPE', errno: -32, syscall: 'write' })],
    ['Prisma P2002 (no driver adapter error)', Object.assign(new Error('Unique constraint failed on the fields: (`email`)'),
      { code: 'P2002', clientVersion: '7.0.0', meta: { modelName: 'User', target: ['email'] } })],
    ['a numeric code', Object.assign(pgDatabaseError('x', {}), { code: 23505 })],
    ['a lower-case code', pgDatabaseError('x', { code: 'ab123' })],
    ['a four-character code', pgDatabaseError('x', { code: '2350' })],
    ['a six-character code', pgDatabaseError('x', { code: '235050' })],
    ['a code with a space', pgDatabaseError('x', { code: '23505 ' })],
    ['an Error with no code', new Error('duplicate key value violates unique constraint "users_email_key"')]
  ]
  for (const [name, value] of forged) t.equal(findPgError(value), undefined, `not believed: ${name}`)
  t.equal(Object.getPrototypeOf(forged[3]?.[1]).constructor.name, 'DatabaseError', '(the __proto__ body did become the prototype, naming DatabaseError)')
})

t.test('findUniqueViolation answers only for 23505', async (t) => {
  t.equal(findUniqueViolation(nodePgNotNullViolation()), undefined, 'node-postgres not-null violation (23502)')
  t.equal(findUniqueViolation(postgresJsNotNullViolation()), undefined, 'postgres.js not-null violation (23502)')
  t.equal(findUniqueViolation(Object.assign(nodePgUniqueViolation(), { code: '23P01',
    detail: 'Key (room, during)=(1, [1,2)) conflicts with existing key (room, during)=(1, [1,3)).' })), undefined, 'exclusion violation (23P01)')
  t.equal(findUniqueViolation(Object.assign(nodePgUniqueViolation(), { code: '23503' })), undefined, 'foreign key violation (23503)')
  t.equal(findPgError(postgresJsNotNullViolation())?.column, 'id', 'while findPgError gives any PostgreSQL error, with column_name as column')
})

t.test('findPgError looks through at most eight levels of wrappers', async (t) => {
  const keys = ['cause', 'driverError', 'parent', 'original'] as const
  const chain = (inner: object, levels: number): object => {
    let value = inner
    for (let i = 0; i < levels; i++) value = { [keys[i % 4] ?? 'cause']: value }
    return value
  }
  t.equal(findUniqueViolation(chain(nodePgUniqueViolation(), 8))?.constraint, 'users_email_key', 'eight wrappers, every kind: found')
  t.equal(findUniqueViolation(chain(nodePgUniqueViolation(), 9)), undefined, 'nine wrappers: not found')
  t.equal(findUniqueViolation(chain(nodePgUniqueViolation(), 100_000)), undefined, 'a hundred thousand: not found, no stack overflow')
})

t.test('findPgError terminates on cycles', async (t) => {
  const a: Record<string, unknown> = { name: 'a' }
  const b: Record<string, unknown> = { name: 'b' }
  a.cause = b
  b.cause = a
  t.equal(findPgError(a), undefined, 'a.cause = b, b.cause = a')
  const self: Record<string, unknown> = {}
  self.cause = self
  self.driverError = self
  self.parent = self
  self.original = self
  t.equal(findPgError(self), undefined, 'an object that wraps itself four ways')
  const error = nodePgUniqueViolation()
  b.original = error
  t.equal(findUniqueViolation(a)?.error, error, 'a cycle with the PostgreSQL error hanging off it: found')
  const inner = nodePgUniqueViolation()
  const outer = new Error('outer', { cause: inner })
  inner.cause = outer // a PostgreSQL error in a cycle itself
  t.equal(findUniqueViolation(outer)?.error, inner, 'a PostgreSQL error whose cause is its own wrapper: found')
})

t.test('findPgError never throws, whatever it is handed', async (t) => {
  const throwingCode = Object.defineProperty({}, 'code', { get () { throw new Error('boom') } })
  const throwingCause = Object.defineProperty(new Error('wrapper'), 'cause', { get () { throw new Error('boom') } })
  const throwingNonError = Object.defineProperty({ code: '23505' }, 'severity', { get () { throw 'not even an Error' } }) // eslint-disable-line no-throw-literal
  const trap = (): never => { throw new Error('trap') }
  const hostile = new Proxy({}, {
    get: trap, has: trap, ownKeys: trap, getOwnPropertyDescriptor: trap, getPrototypeOf: trap, defineProperty: trap, set: trap, apply: trap
  })
  const revocable = Proxy.revocable({}, {})
  revocable.revoke()
  const values: Array<[string, unknown]> = [
    ['a getter on code that throws', throwingCode],
    ['a getter on cause that throws', throwingCause],
    ['a getter that throws a string', throwingNonError],
    ['a Proxy that throws on every access', hostile],
    ['the same Proxy on cause', new Error('wrapper', { cause: hostile })],
    ['a revoked Proxy', revocable.proxy],
    ['undefined', undefined],
    ['null', null],
    ['a string', 'duplicate key value violates unique constraint "users_email_key"'],
    ['a SQLSTATE string', '23505'],
    ['a number', 23505],
    ['NaN', Number.NaN],
    ['a boolean', true],
    ['a symbol', Symbol('23505')],
    ['a bigint', 23505n],
    ['an array', [nodePgUniqueViolation()]]
  ]
  for (const [name, value] of values) {
    let found: PgErrorFields | undefined
    t.doesNotThrow(() => { found = findPgError(value) }, `${name}: no throw`)
    t.equal(found, undefined, `${name}: not recognised`)
    t.doesNotThrow(() => { found = findUniqueViolation(value) }, `${name}: no throw from findUniqueViolation either`)
  }
})

t.test('findPgError does bounded work on an object that invents a wrapper on every read', async (t) => {
  let reads = 0
  const conjure = (): object => new Proxy({}, {
    get: (_target, key) => {
      reads++
      return key === 'code' ? undefined : conjure()
    }
  })
  t.equal(findPgError(conjure()), undefined, 'not recognised')
  t.ok(reads < 10_000, `${reads} property reads, fewer than 10,000`)
})

// ---------------------------------------------------------------------------------------------
// Adversarial input: never throws, never hangs. A bound far above the milliseconds linear parsing
// takes and far below what quadratic parsing would (minutes): a guard, not a measure of speed. On
// the process's CPU time, not the clock's: a machine busy with other work does not move it.
// ---------------------------------------------------------------------------------------------

const MB = 1024 * 1024
const LIMIT_MS = 5000

/** Runs `run` and asserts that it took less than LIMIT_MS of CPU time. */
function quick<T> (t: Test, what: string, run: () => T): T {
  const start = process.cpuUsage()
  const result = run()
  const used = process.cpuUsage(start)
  const ms = (used.user + used.system) / 1000
  t.ok(ms < LIMIT_MS, `${what}: ${ms.toFixed(0)} ms, under ${LIMIT_MS} ms`)
  return result
}

/** `unit` repeated to `size` characters (about). */
function fill (unit: string, size: number): string {
  return unit.repeat(Math.ceil(size / unit.length))
}

t.test('parseKeyDetail on megabytes of junk: no throw, quick, and the right answer', async (t) => {
  for (const size of [MB, 2 * MB]) {
    const label = `${size / MB} MB`
    t.equal(quick(t, `${label} of (`, () => parseKeyDetail(fill('(', size))), undefined, `${label} of (: no key list`)
    t.equal(quick(t, `${label} of )`, () => parseKeyDetail(fill(')', size))), undefined, `${label} of ): no key list`)
    t.equal(quick(t, `${label} of "`, () => parseKeyDetail(fill('"', size))), undefined, `${label} of ": no key list`)
    t.equal(quick(t, `( then ${label} of "`, () => parseKeyDetail('(' + fill('"', size))), undefined, `( then ${label} of ": never closed`)
    t.equal(quick(t, `( then ${label} of '`, () => parseKeyDetail('(' + fill("'", size))), undefined, `( then ${label} of ': never closed`)
    t.equal(quick(t, `${label} of )=(`, () => parseKeyDetail(fill(')=(', size))), undefined, `${label} of )=(: empty keys`)
    t.equal(quick(t, `${label} of ", "`, () => parseKeyDetail(fill(', ', size))), undefined, `${label} of ", ": no key list`)
    t.equal(quick(t, `( then ${label} of ", "`, () => parseKeyDetail(`(${fill(', ', size)})=(x)`)), undefined, `( then ${label} of ", ": empty keys`)
    t.same(quick(t, `${label} of (a)=(`, () => parseKeyDetail(fill('(a)=(', size)))?.keys, ['a'], `${label} of (a)=(: the first key list, the rest values`)

    const value = fill('v, )=( ', size)
    t.same(quick(t, `a ${label} value`, () => parseKeyDetail(`Key (email)=(${value}) already exists.`)),
      { keys: ['email'], keyColumns: [['email']], valuesText: value }, `a ${label} value is read whole`)
    t.same(quick(t, `a ${label} value after )=( junk`, () => parseKeyDetail(`Key (a)=(${fill(')=(', size)}) already exists.`))?.keys,
      ['a'], `a ${label} value made of )=(`)

    const depth = size / 2
    const nested = '('.repeat(depth) + 'a' + ')'.repeat(depth)
    t.same(quick(t, `a key nested ${label} deep`, () => parseKeyDetail(`Key (${nested})=(1) already exists.`))?.keyColumns,
      [['a']], `a key nested ${label} deep`)
    const repeated = '(' + fill('a + ', size) + 'a)'
    t.same(quick(t, `a ${label} expression of one column`, () => parseKeyDetail(`Key (${repeated})=(1) already exists.`))?.keyColumns,
      [['a']], `a ${label} expression of one column, found once`)
    const keys = fill('k, ', size) + 'k'
    t.equal(quick(t, `${label} of keys`, () => parseKeyDetail(`Key (${keys})=(1) already exists.`))?.keys.length,
      keys.split(', ').length, `${label} of keys, every one read`)
  }
})

t.test('parseKeyDetail on a megabyte expression of distinct names stays quick', async (t) => {
  const names: string[] = []
  for (let length = 0, i = 0; length < MB; i++) {
    names.push(`c${i}`)
    length += `c${i}`.length + 3
  }
  const detail = `Key ((${names.join(' + ')}))=(1) already exists.`
  const parsed = quick(t, '1 MB expression of distinct names', () => parseKeyDetail(detail))
  t.equal(parsed?.keyColumns[0]?.length, names.length, 'every name found')
})

t.test('parseKeyDetail on values that are not strings', async (t) => {
  for (const [name, detail] of [['a number', 1], ['an object', { toString: () => EMAIL_DETAIL }], ['undefined', undefined],
    ['a function', () => EMAIL_DETAIL], ['a Buffer', Buffer.from(EMAIL_DETAIL)]] as Array<[string, unknown]>) {
    t.equal(parseKeyDetail(detail), undefined, `${name}: undefined, no throw`)
  }
})

t.test('sql-text and splitValues on megabytes of junk', async (t) => {
  for (const size of [MB, 2 * MB]) {
    const label = `${size / MB} MB`
    for (const [unit, name] of [['"', 'quotes'], ["'", 'apostrophes'], ['(', 'parentheses'], ['::', 'casts'], ['a ', 'one name'],
      ['x::character varying ', 'casts to a two-word type'], ['COLLATE "C" ', 'collations'], ['"a""b"', 'doubled quotes']]) {
      quick(t, `expressionColumns on ${label} of ${name}`, () => expressionColumns(fill(unit ?? '', size)))
    }
    t.equal(quick(t, `identifierName on ${label} of "`, () => identifierName(fill('"', size))), '"'.repeat(size / 2 - 1), `identifierName on ${label} of ": a name of doubled quotes`)
    t.equal(quick(t, `identifierName on a ${label} name`, () => identifierName(fill('a', size))), fill('a', size), `identifierName on a ${label} name`)
    t.equal(quick(t, `skipQuoted on ${label} of doubled quotes`, () => skipQuoted(fill('""', size), 0)), fill('""', size).length, 'runs to the end')

    const commas = fill(', ', size)
    const parts = commas.split(', ').length
    t.equal(quick(t, `splitValues on ${label} of ", "`, () => splitValues(commas, 2)), undefined, `${label} of ", " over two text keys: ambiguous`)
    t.same(quick(t, `splitValues on ${label} of ", " with comma-free ends`, () => splitValues(commas, 3, [true, false, true])),
      ['', commas.split(', ').slice(1, parts - 1).join(', '), ''], `${label} of ", " around one text key`)
    t.equal(quick(t, `splitValues on ${label} of ", " into as many keys`, () => splitValues(commas, parts))?.length, parts, 'as many keys as parts')
    const value = fill('x', size)
    t.same(quick(t, `splitValues on a ${label} value`, () => splitValues(`1, ${value}`, 2, [true, false])), ['1', value], `a ${label} value`)
  }
})

t.test('findPgError on an error holding megabytes', async (t) => {
  const detail = `Key (email)=(${fill('x', 2 * MB)}) already exists.`
  const found = quick(t, 'findUniqueViolation with a 2 MB DETAIL', () => findUniqueViolation(Object.assign(nodePgUniqueViolation(), { detail })))
  t.equal(found?.detail, detail, 'the DETAIL is passed on whole')
  t.equal(quick(t, 'parsing it', () => parseKeyDetail(found?.detail))?.valuesText.length, 2 * MB, 'and parses')
})

t.test('expressionColumns on cut-off text: an unterminated type modifier ends the scan, no throw', async (t) => {
  t.same(expressionColumns('(x::numeric(10'), ['x'])
  t.same(expressionColumns('(x::numeric(10,2) + y)'), ['x', 'y'], 'a closed one lets the scan go on')
})
