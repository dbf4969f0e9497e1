// scripts/with-database.ts, which npm test, the demo and the benchmarks run through: a DATABASE_URL
// that cannot be used stops the run at once with one line saying why (its password hidden), and
// the command never runs; a usable one is handed to the command, whose exit code is the run's.
// (`--check`, which npm test runs before building, passing on a usable one: every npm test run.)
import t from 'tap'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { probe, reason, redacted } from '../scripts/probe-database.js'
import { databaseUrl } from './helpers/db.js'

const repo = fileURLToPath(new URL('..', import.meta.url))

t.test('the probe: why a DATABASE_URL cannot be used, in one line, without its password', async (t) => {
  const missing = new URL(databaseUrl()) // the server of the run (its password too), another database
  missing.pathname = `/fpc_no_such_database_${process.pid}`
  t.equal(await probe('postgres://someone:s3cret@127.0.0.1:1/test'), 'cannot use DATABASE_URL=postgres://someone:***@127.0.0.1:1/test: connect ECONNREFUSED 127.0.0.1:1')
  t.equal(await probe(missing.href), `cannot use DATABASE_URL=${redacted(missing.href)}: database "fpc_no_such_database_${process.pid}" does not exist`)
  t.match(await probe('postgres://postgres@no-such-host.invalid/test'), /^cannot use DATABASE_URL=postgres:\/\/postgres@no-such-host\.invalid\/test: getaddrinfo ENOTFOUND no-such-host\.invalid$/)
  t.equal(await probe(databaseUrl()), undefined, 'a usable one')
  t.equal(reason(new AggregateError([new Error('connect ECONNREFUSED ::1:5432'), new Error('connect ECONNREFUSED 127.0.0.1:5432')])),
    'connect ECONNREFUSED ::1:5432; connect ECONNREFUSED 127.0.0.1:5432', "Node's AggregateError, which has no message of its own")
  t.equal(reason(Object.assign(new Error(''), { code: 'ETIMEDOUT' })), 'ETIMEDOUT')
  t.equal(reason(new Error('two\nlines')), 'two lines')
  t.equal(redacted('not a url'), '(not a URL)')
})

interface Run { code: number | null, stdout: string, stderr: string }

function withDatabase (url: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const env: NodeJS.ProcessEnv = {}
    for (const [key, value] of Object.entries(process.env)) if (key !== 'NODE_OPTIONS' && key !== 'NODE_V8_COVERAGE' && !/^_?TAP/i.test(key)) env[key] = value
    env.DATABASE_URL = url
    const child = spawn(join(repo, 'node_modules', '.bin', 'tsx'), [join(repo, 'scripts', 'with-database.ts'), ...args], { cwd: repo, env, timeout: 30_000 })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    child.on('close', (code) => { resolve({ code, stdout, stderr }) })
  })
}

const COMMAND = [process.execPath, '-e', 'console.log("ran with " + process.env.DATABASE_URL); process.exit(7)']

t.test('the script: a DATABASE_URL that cannot be used is one line and exit 2, and the command never runs; a usable one runs it, with its exit code', async (t) => {
  const refused = await withDatabase('postgres://someone:s3cret@127.0.0.1:1/test', COMMAND)
  t.same(refused, {
    code: 2,
    stdout: '',
    stderr: 'cannot use DATABASE_URL=postgres://someone:***@127.0.0.1:1/test: connect ECONNREFUSED 127.0.0.1:1 (unset DATABASE_URL to run on an embedded PostgreSQL)\n'
  })
  const run = await withDatabase(databaseUrl(), COMMAND)
  t.equal(run.code, 7)
  t.equal(run.stdout, `ran with ${databaseUrl()}\n`)
})
