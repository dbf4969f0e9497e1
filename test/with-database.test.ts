// scripts/with-database.ts, which npm test, the demo and the benchmarks run through: a DATABASE_URL
// that cannot be used stops the run at once with one line saying why (its password hidden), and
// the command never runs; a usable one is handed to the command, whose exit code is the run's.
// (`--check`, which npm test runs before building, passing on a usable one: every npm test run.)
import t from 'tap'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { databaseUrl } from './helpers/db.js'

const repo = fileURLToPath(new URL('..', import.meta.url))

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

t.test('a DATABASE_URL that cannot be used: one line, exit 2, the command never runs', async (t) => {
  const good = new URL(databaseUrl())
  // (Each case starts tsx afresh, a second or so: the cases are the distinct failures, each once.)
  const cases: Array<[string, string[], RegExp]> = [
    ['postgres://someone:s3cret@127.0.0.1:1/test', COMMAND, /^cannot use DATABASE_URL=postgres:\/\/someone:\*\*\*@127\.0\.0\.1:1\/test: connect ECONNREFUSED 127\.0\.0\.1:1 \(unset DATABASE_URL to run on an embedded PostgreSQL\)\n$/],
    [`postgres://${good.username}@${good.host}/fpc_no_such_database_${process.pid}`, ['--check'], /^cannot use DATABASE_URL=.*: database "fpc_no_such_database_\d+" does not exist \(unset DATABASE_URL/]
  ]
  for (const [url, args, line] of cases) {
    const run = await withDatabase(url, args)
    t.equal(run.code, 2, `${url} ${args[0] as string}`)
    t.match(run.stderr, line)
    t.equal(run.stderr.split('\n').length, 2, 'one line')
    t.notMatch(run.stderr, /s3cret/)
    t.equal(run.stdout, '', 'the command did not run')
  }
})

t.test('a usable DATABASE_URL: the command runs with it, and its exit code is the run\'s', async (t) => {
  const run = await withDatabase(databaseUrl(), COMMAND)
  t.equal(run.code, 7)
  t.equal(run.stdout, `ran with ${databaseUrl()}\n`)
})
