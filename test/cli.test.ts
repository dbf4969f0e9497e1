// The command line, `fastify-pg-conflict sequences`, on real PostgreSQL: in-process through main(),
// and once as the program npm links into node_modules/.bin.
import t from 'tap'
import pg from 'pg'
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { EXIT, HELP_HINT, USAGE, VERSION, isMainModule, main, type MainContext } from '../src/cli.js'
import { checkSequence } from '../src/sequences/sequences.js'
import { databaseUrl, testDatabase } from './helpers/db.js'

const db = await testDatabase(t, 'cli')
const { schema, pool } = db
const url = databaseUrl()

interface Run { code: number, out: string, err: string }

/** Runs the command in-process, as `fastify-pg-conflict <argv…>` with the environment `env`. */
async function cli (argv: string[], env: MainContext['env'] = {}, loadPg?: MainContext['loadPg']): Promise<Run> {
  let out = ''
  let err = ''
  const context: MainContext = { stdout: { write: (s: string) => { out += s } }, stderr: { write: (s: string) => { err += s } }, env }
  if (loadPg !== undefined) context.loadPg = loadPg
  const code = await main(argv, context)
  return { code, out, err }
}

const inSchema = ['sequences', '--database-url', url, '--schema', schema]

async function insertDefault (qualifiedTable: string): Promise<number | string> {
  try {
    const { rows } = await pool.query(`INSERT INTO ${qualifiedTable} DEFAULT VALUES RETURNING *`) // every table here has its id only
    return Object.values(rows[0] as object)[0] as number
  } catch (error) {
    return (error as { code: string }).code
  }
}

await db.exec(`
  CREATE TABLE serial_things (id serial PRIMARY KEY);
  INSERT INTO serial_things (id) SELECT generate_series(1, 100);
  CREATE TABLE "Odd Table" ("Id" int GENERATED ALWAYS AS IDENTITY PRIMARY KEY);
  INSERT INTO "Odd Table" ("Id") OVERRIDING SYSTEM VALUE SELECT generate_series(1, 50);
  CREATE TABLE empty_things (id serial PRIMARY KEY);
  CREATE TABLE healthy_things (id serial PRIMARY KEY);
  INSERT INTO healthy_things DEFAULT VALUES;
`)

/** The cell of `line` in the column `header` names, by the header's layout. */
function cell (table: string, line: string, name: string): string {
  const header = table.split('\n')[0] as string
  const start = header.indexOf(name)
  const next = header.slice(start + name.length).search(/\S/)
  const end = next === -1 ? undefined : start + name.length + next
  return line.slice(start, end).trim()
}

t.test('a dry run lists the sequences behind in a table with the SQL that fixes each, changes nothing, and exits 1', async (t) => {
  const run = await cli(inSchema)
  t.equal(run.code, EXIT.behind)
  t.equal(run.code, 1)
  t.equal(run.err, '')
  const lines = run.out.split('\n')
  t.match(lines[0], /^column\s+kind\s+sequence\s+last value\s+max\s+status\s+fix$/)
  const odd = lines.find((line) => line.startsWith(`${schema}."Odd Table"."Id" `)) as string
  const serial = lines.find((line) => line.startsWith(`${schema}.serial_things.id `)) as string
  t.ok(odd, 'the identity column, quoted as SQL needs it')
  t.ok(serial, 'the serial column')
  t.same(['kind', 'sequence', 'last value', 'max', 'status', 'fix'].map((name) => cell(run.out, odd, name)),
    ['identity', `${schema}."Odd Table_Id_seq"`, '1', '50', 'behind', `ALTER TABLE ${schema}."Odd Table" ALTER COLUMN "Id" RESTART WITH 51;`])
  t.same(['kind', 'sequence', 'last value', 'max', 'status', 'fix'].map((name) => cell(run.out, serial, name)),
    ['serial', `${schema}.serial_things_id_seq`, '1', '100', 'behind', `SELECT setval('${schema}.serial_things_id_seq', 100);`])
  t.notMatch(run.out, /empty_things|healthy_things/, 'an empty table and a healthy one are not listed')
  t.match(run.out, /2 sequences behind; nothing was changed\. Run again with --fix/)
  t.equal((await checkSequence(pool, { schema, table: 'serial_things', column: 'id' }))?.behind, true, 'still behind')
  t.equal(await insertDefault('serial_things'), '23505')
})

t.test('--fix fixes them, says so, and exits 0; a run then finds nothing and exits 0', async (t) => {
  const run = await cli([...inSchema, '--fix'])
  t.equal(run.code, EXIT.ok)
  t.equal(run.err, '')
  const rows = run.out.split('\n').filter((line) => line.startsWith(`${schema}.`))
  t.same(rows.map((line) => cell(run.out, line, 'status')), ['fixed', 'fixed'])
  t.match(run.out, /Fixed 2 sequences\./)
  t.equal(await insertDefault('serial_things'), 101)
  t.equal(await insertDefault('"Odd Table"'), 51)

  // DATABASE_URL stands in for --database-url; -s for --schema.
  const again = await cli(['sequences', '-s', schema], { DATABASE_URL: url })
  t.same(again, { code: EXIT.ok, out: 'No sequence is behind its column.\n', err: '' })
})

t.test('--fix with a table too busy to lock within --lock-timeout: the others are fixed, that one reported, exit 1', async (t) => {
  await db.exec(`
    CREATE TABLE busy (id serial PRIMARY KEY); INSERT INTO busy (id) VALUES (1), (2), (3);
    CREATE TABLE quiet (id serial PRIMARY KEY); INSERT INTO quiet (id) VALUES (1), (2);
  `)
  const holder = await pool.connect()
  t.teardown(() => { holder.release() })
  await holder.query('BEGIN; LOCK TABLE busy IN ROW EXCLUSIVE MODE') // as an insert in progress does

  const run = await cli([...inSchema, '--fix', '--lock-timeout', '50'])
  await holder.query('ROLLBACK')
  t.equal(run.code, EXIT.behind)
  const rows = run.out.split('\n').filter((line) => line.startsWith(`${schema}.`))
  t.same(rows.map((line) => [line.split(' ')[0], cell(run.out, line, 'status')]), [[`${schema}.busy.id`, 'NOT FIXED'], [`${schema}.quiet.id`, 'fixed']])
  t.match(run.out, /Fixed 1 sequence\./)
  t.match(run.err, new RegExp(`could not fix ${schema}\\.busy\\.id: canceling statement due to lock timeout\\n1 sequence still behind\\.\\n$`))
  t.equal(await insertDefault('quiet'), 3)
  t.equal(await insertDefault('busy'), '23505', 'busy is still behind')
  t.equal((await cli([...inSchema, '--fix'])).code, EXIT.ok, 'once the table is free, a run fixes it')
  t.equal(await insertDefault('busy'), 4)
})

t.test('usage errors exit 2 with the problem in one line, and where the usage is, on stderr', async (t) => {
  const cases: Array<[string[], MainContext['env'], string]> = [
    [[], {}, 'no command given (the command is "sequences")'],
    [['sequence'], {}, 'unknown command "sequence"'],
    [['sequences', 'now'], {}, 'unexpected argument "now"'],
    [['sequences', '--fxi'], { DATABASE_URL: url }, "Unknown option '--fxi'"],
    [['--versoin'], {}, "Unknown option '--versoin'"],
    [['sequences', '--database-url'], {}, "Option '--database-url <value>' argument missing"],
    [['sequences'], {}, 'no database: pass --database-url <url> or set DATABASE_URL'],
    [['sequences'], { DATABASE_URL: '' }, 'no database'],
    [['sequences', '--schema', ''], { DATABASE_URL: url }, '--schema needs a schema name'],
    [['sequences', '--fix', '--lock-timeout', 'soon'], { DATABASE_URL: url }, '--lock-timeout needs a whole number of milliseconds']
  ]
  for (const [argv, env, message] of cases) {
    const run = await cli(argv, env)
    t.equal(run.code, EXIT.usage, argv.join(' '))
    t.equal(run.code, 2)
    t.equal(run.out, '')
    t.ok(run.err.startsWith('fastify-pg-conflict: ') && run.err.includes(message), `${argv.join(' ')}: ${message}`)
    t.equal(run.err.split('\n').length, 3, 'one line, then the hint')
    t.ok(run.err.endsWith(`\n${HELP_HINT}\n`), 'followed by where the usage is, not the usage')
    t.notOk(run.err.includes('Exit codes'), 'the usage only with --help')
  }
  t.equal((await cli(['sequences', '--fxi'], { DATABASE_URL: url })).err, `fastify-pg-conflict: Unknown option '--fxi'\n${HELP_HINT}\n`, "without Node's advice on '--'")
})

t.test('a schema that does not exist: exit 2, naming it with the nearest schemas, and nothing checked (a typo must not pass a deploy check)', async (t) => {
  const run = await cli(['sequences', '--database-url', url, '--schema', `${schema}x`, '-s', 'no_such_schema_anywhere', '-s', schema])
  t.equal(run.code, EXIT.usage)
  t.equal(run.out, '', 'nothing listed, nothing fixed')
  t.equal(run.err, [
    `fastify-pg-conflict: no schema "${schema}x" in the database; did you mean "${schema}"?`,
    'fastify-pg-conflict: no schema "no_such_schema_anywhere" in the database',
    ''
  ].join('\n'))
  const fixing = await cli(['sequences', '--database-url', url, '--schema', 'nosuch', '--fix'])
  t.equal(fixing.code, EXIT.usage, 'with --fix too')
})

t.test('without --schema, every schema but the system ones is checked (a database of its own here, so as to know all it holds)', async (t) => {
  const name = `fpc_usability_cli_${process.pid}`
  await pool.query(`DROP DATABASE IF EXISTS ${name}`)
  await pool.query(`CREATE DATABASE ${name} TEMPLATE template0`) // template0: nobody can be connected to it, which would fail the copy
  t.teardown(async () => { await pool.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) })
  const own = new URL(url)
  own.pathname = `/${name}`
  const empty = await cli(['sequences', '--database-url', own.href])
  t.same(empty, { code: EXIT.ok, out: 'No sequence is behind its column.\n', err: '' }, 'nothing behind')
  const client = new pg.Client({ connectionString: own.href })
  await client.connect()
  await client.query(`CREATE SCHEMA one; CREATE SCHEMA two;
    CREATE TABLE one.things (id serial PRIMARY KEY); INSERT INTO one.things (id) VALUES (1), (2);
    CREATE TABLE two.things (id serial PRIMARY KEY); INSERT INTO two.things (id) VALUES (1), (2), (3)`)
  await client.end()
  const both = await cli(['sequences', '--database-url', own.href])
  t.equal(both.code, EXIT.behind)
  t.match(both.out, /^one\.things\.id .*SELECT setval\('one\.things_id_seq', 2\);$/m)
  t.match(both.out, /^two\.things\.id .*SELECT setval\('two\.things_id_seq', 3\);$/m)
})

t.test('--version prints the version of the package, and exits 0', async (t) => {
  const manifest = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
  t.same(await cli(['--version']), { code: EXIT.ok, out: `${manifest.version}\n`, err: '' })
  t.same(await cli(['sequences', '--version']), { code: EXIT.ok, out: `${VERSION}\n`, err: '' })
  t.equal(VERSION, manifest.version)
})

t.test('--help and -h print the usage and exit 0', async (t) => {
  for (const argv of [['--help'], ['-h'], ['sequences', '--help']]) {
    t.same(await cli(argv), { code: EXIT.ok, out: USAGE, err: '' }, argv.join(' '))
  }
  t.match(USAGE, /--database-url <url>[\s\S]*--schema <name>[\s\S]*--fix[\s\S]*Exit codes: 0 nothing behind/)
})

t.test('without the pg package: a message saying to install it, exit 3', async (t) => {
  const missing = async (): Promise<never> => {
    throw Object.assign(new Error("Cannot find package 'pg' imported from /app/node_modules/fastify-pg-conflict/dist/esm/cli.js"), { code: 'ERR_MODULE_NOT_FOUND' })
  }
  const run = await cli(inSchema, {}, missing)
  t.equal(run.code, EXIT.failed)
  t.equal(run.code, 3)
  t.equal(run.out, '')
  t.match(run.err, /needs the "pg" package \(node-postgres\).*`npm install pg` \(Cannot find package 'pg' imported from/)
})

t.test('a database it cannot reach: the reason, without the password, exit 3', async (t) => {
  const run = await cli(['sequences', '--database-url', 'postgres://someone:s3cret@127.0.0.1:1/nowhere'])
  t.equal(run.code, EXIT.failed)
  t.match(run.err, /^fastify-pg-conflict: .*ECONNREFUSED/)
  t.notMatch(run.err, /s3cret/)
})

t.test('a connection lost mid-run: reported, exit 3, no crash', async (t) => {
  await db.exec('CREATE TABLE held (id serial PRIMARY KEY); INSERT INTO held (id) VALUES (1)')
  const holder = await pool.connect()
  t.teardown(() => { holder.release() })
  await holder.query('BEGIN; LOCK TABLE held IN ROW EXCLUSIVE MODE')
  const running = cli([...inSchema, '--fix', '--lock-timeout', '60000'])
  let settled = false
  void running.then(() => { settled = true })
  let pid: number | undefined
  while (pid === undefined && !settled) { // the command waits for the lock: its connection is then cut
    const { rows } = await pool.query<{ pid: number }>(`SELECT l.pid FROM pg_locks l WHERE l.relation = '${schema}.held'::regclass AND NOT l.granted`)
    pid = rows[0]?.pid
  }
  t.equal(settled, false, 'the command waited for the lock')
  await pool.query('SELECT pg_terminate_backend($1)', [pid])
  const run = await running
  await holder.query('ROLLBACK')
  t.equal(run.code, EXIT.failed)
  t.match(run.err, /^fastify-pg-conflict: .*terminat/)
})

t.test('the installed command: node runs it through the bin link, with its exit code', async (t) => {
  const source = fileURLToPath(new URL('../src/cli.ts', import.meta.url))
  const dir = await mkdtemp(join(tmpdir(), 'fpc-cli-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const link = join(dir, 'fastify-pg-conflict')
  await symlink(source, link) // as npm links node_modules/.bin/fastify-pg-conflict
  await db.exec('CREATE TABLE linked (id serial PRIMARY KEY); INSERT INTO linked (id) VALUES (1), (2)')

  const run = (args: string[]): Promise<Run> => new Promise((resolve) => {
    // process.execArgv: the loaders this test runs with, which let node run the TypeScript source.
    const child = spawn(process.execPath, [...process.execArgv, link, ...args], { env: { ...process.env, DATABASE_URL: url } })
    let out = ''
    let err = ''
    child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
    child.stderr.on('data', (chunk: Buffer) => { err += chunk.toString() })
    child.on('close', (code) => resolve({ code: code as number, out, err }))
  })
  const dry = await run(['sequences', '--schema', schema])
  t.equal(dry.code, 1, dry.err)
  t.match(dry.out, new RegExp(`^${schema}\\.linked\\.id .* SELECT setval\\('${schema}\\.linked_id_seq', 2\\);$`, 'm'))
  const fixed = await run(['sequences', '--schema', schema, '--fix'])
  t.equal(fixed.code, 0, fixed.err)
  t.equal(await insertDefault('linked'), 3)
  const usage = await run(['nonsense'])
  t.equal(usage.code, 2)
  t.match(usage.err, /unknown command "nonsense"/)
})

t.test('isMainModule: true only for the file node was started with, through links', async (t) => {
  const source = fileURLToPath(new URL('../src/cli.ts', import.meta.url))
  const moduleUrl = pathToFileURL(source).href
  t.equal(isMainModule(moduleUrl, source), true)
  t.equal(isMainModule(moduleUrl, fileURLToPath(import.meta.url)), false, 'another program (this test) imported it: it does not run')
  t.equal(isMainModule(moduleUrl, undefined), false, 'no program file (node -e, the REPL)')
  t.equal(isMainModule(moduleUrl, '/no/such/file'), false)
})

t.test('a sequence behind only ids planted far ahead: listed with the statement that would follow them, not fixed by --fix', async (t) => {
  const outlier = `${schema}_outlier`
  await db.exec(`DROP SCHEMA IF EXISTS ${outlier} CASCADE; CREATE SCHEMA ${outlier};
    CREATE TABLE ${outlier}.planted (id serial PRIMARY KEY);
    INSERT INTO ${outlier}.planted DEFAULT VALUES; INSERT INTO ${outlier}.planted DEFAULT VALUES;
    INSERT INTO ${outlier}.planted (id) VALUES (1000000)`)
  t.teardown(() => db.exec(`DROP SCHEMA IF EXISTS ${outlier} CASCADE`))
  const args = ['sequences', '--database-url', url, '--schema', outlier]
  const dry = await cli(args)
  t.equal(dry.code, EXIT.behind)
  const line = dry.out.split('\n').find((l) => l.startsWith(`${outlier}.planted.id `)) as string
  t.equal(cell(dry.out, line, 'fix'), `-- only ids far ahead, up to 1000000: not followed (SELECT setval('${outlier}.planted_id_seq', 1000000);)`)
  const fix = await cli([...args, '--fix'])
  t.equal(fix.code, EXIT.behind, 'not fixed: exit 1')
  t.match(fix.err, /could not fix .*planted\.id: its maximum 1000000 lies far beyond the other ids/)
  t.equal(await insertDefault(`${outlier}.planted`), 3, 'the sequence goes on from where it was')
})
