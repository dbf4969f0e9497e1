// Which errors can leave a connection usable: the server's ErrorResponse at severity ERROR (in
// any language), outside the SQLSTATE classes of a failing connection or server. Every error
// here is a real one, raised by the server (PL/pgSQL's RAISE … USING ERRCODE sends a real
// ErrorResponse with the SQLSTATE asked for, at severity ERROR).
import t from 'tap'
import pg from 'pg'
import { isRecoverableServerError } from '../../src/connections/session.js'
import { databaseUrl, testDatabase } from '../helpers/db.js'

const db = await testDatabase(t, 'connections_session')
await db.exec("CREATE TABLE users (email text CONSTRAINT users_email_key UNIQUE); INSERT INTO users VALUES ('ada@example.com')")

const raised = async (code: string): Promise<pg.DatabaseError> =>
  await db.errorOf(`DO $$ BEGIN RAISE EXCEPTION 'raised' USING ERRCODE = '${code}'; END $$`)

t.test('errors the server answered at severity ERROR: the session goes on', async (t) => {
  const unique = await db.errorOf("INSERT INTO users VALUES ('ada@example.com')")
  t.match(unique, { name: 'error', severity: 'ERROR', code: '23505' })
  t.ok(isRecoverableServerError(unique), 'a unique violation')
  t.ok(isRecoverableServerError(await db.errorOf('INSERT INTO users VALUES (NULL), (NULL); SELECT 1 / 0')), 'a division by zero (22012)')
  t.ok(isRecoverableServerError(await db.errorOf('SELEC 1')), 'a syntax error (42601)')
  const slow = db.newPool({ max: 1, options: `-c search_path=${db.schema} -c statement_timeout=50` })
  const timeout = await (async () => { try { await slow.query('SELECT pg_sleep(5)') } catch (error) { return error } })()
  t.match(timeout, { code: '57014', severity: 'ERROR' })
  t.ok(isRecoverableServerError(timeout), 'a statement timeout (57014, query_canceled)')
})

t.test('a translated severity (lc_messages) is still an ERROR the session survives', async (t) => {
  const client = new pg.Client({ connectionString: databaseUrl(), options: `-c search_path=${db.schema}` })
  await client.connect()
  t.teardown(() => client.end())
  let locale: string | undefined
  for (const candidate of ['de_DE.UTF-8', 'de_DE.utf8']) {
    try {
      await client.query(`SET lc_messages = '${candidate}'`)
      locale = candidate
      break
    } catch {}
  }
  if (locale === undefined) {
    t.plan(0, 'no German locale on the server: create one (localedef --no-archive -i de_DE -f UTF-8 de_DE.UTF-8) to run this test')
    return
  }
  const error = await (async () => { try { await client.query("INSERT INTO users VALUES ('ada@example.com')") } catch (error) { return error } })()
  if ((error as pg.DatabaseError).severity === 'ERROR') {
    t.plan(0, `the server accepts lc_messages = ${locale} but has no translated messages (a build without NLS)`)
    return
  }
  t.match(error, { code: '23505', severity: 'FEHLER' }, 'severity in German')
  t.ok(isRecoverableServerError(error))
})

t.test('errors of a failing connection, server or storage are not', async (t) => {
  for (const code of ['08006', '08P01', '57P01', '57P02', '57P03', '57P05', '58030', 'XX000', 'XX001']) {
    const error = await raised(code)
    t.match(error, { code, severity: 'ERROR' })
    t.notOk(isRecoverableServerError(error), `${code} (even at severity ERROR)`)
  }
  t.ok(isRecoverableServerError(await raised('57014')), 'but 57014 of the same class 57 is')
})

t.test('a session ended by the server (FATAL) is not', async (t) => {
  const client = new pg.Client({ connectionString: databaseUrl(), application_name: `fpc-session-${process.pid}` })
  await client.connect()
  client.on('error', () => {}) // the connection is lost: pg emits it
  const sleeping = client.query('SELECT pg_sleep(30)').then(() => undefined, (error: unknown) => error)
  const admin = new pg.Client({ connectionString: databaseUrl() })
  await admin.connect()
  t.teardown(() => admin.end())
  await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND state = 'active'", [`fpc-session-${process.pid}`])
  const error = await sleeping
  t.match(error, { code: '57P01', severity: 'FATAL' }, 'pg_terminate_backend: FATAL 57P01')
  t.notOk(isRecoverableServerError(error))
  t.notOk(isRecoverableServerError({ ...error as object, severity: 'PANIC' }), 'nor a PANIC (the same error, at PANIC)')
})

t.test("anything but the server's ErrorResponse is not", async (t) => {
  const client = new pg.Client({ connectionString: databaseUrl() })
  await client.connect()
  const notices: unknown[] = []
  client.on('notice', (notice) => notices.push(notice))
  await client.query("DO $$ BEGIN RAISE NOTICE 'just so you know'; END $$")
  await client.end()
  t.equal(notices.length, 1)
  t.notOk(isRecoverableServerError(notices[0]), "a NoticeResponse (pg's NoticeMessage)")
  const ended = await (async () => { try { await client.query('SELECT 1') } catch (error) { return error } })()
  t.notOk(isRecoverableServerError(ended), `a client-side error (${(ended as Error).message})`)
  const copy = await raised('23505')
  // Shapes nothing here can produce: the same error with a field missing or wrong.
  t.notOk(isRecoverableServerError(Object.assign(new Error(copy.message), { ...copy, name: 'error', severity: undefined })), 'no severity')
  t.notOk(isRecoverableServerError(Object.assign(new Error(copy.message), { ...copy, name: 'error', code: 23505 })), 'a code that is not a string')
  t.notOk(isRecoverableServerError(Object.assign(new Error(copy.message), { ...copy, name: 'error', code: '2350' })), 'a code that is not a SQLSTATE (four characters)')
  t.notOk(isRecoverableServerError({ ...copy }), 'not an Error')
  t.notOk(isRecoverableServerError(undefined))
})
