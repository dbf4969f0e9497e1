// `npm run demo`: starts the signup API on the database in DATABASE_URL (npm run demo starts an
// embedded PostgreSQL when it is not set), sends it requests over HTTP, duplicates included,
// prints what goes and comes back, and exits (1 if any answer is not the one expected).
import { Writable } from 'node:stream'
import pg from 'pg'
import { resetSequences } from '../src/index.js' // from 'fastify-pg-conflict' in your app
import { buildSignupApp, schemaSql } from './signup.js'

const schema = 'fastify_pg_conflict_demo'
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, options: `-c search_path=${schema}`, connectionTimeoutMillis: 5000 })
try {
  await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`)
} catch (error) {
  // One line, not a pg-pool stack: the demo cannot start without its database.
  const { message, code, errors } = error as { message?: string, code?: string, errors?: Array<{ message?: string }> }
  const why = message !== undefined && message !== '' ? message : errors?.map((one) => one.message).join('; ') ?? code
  console.error(`demo: cannot use the database${process.env.DATABASE_URL === undefined ? ' (DATABASE_URL is not set: run `npm run demo`, which starts one)' : ''}: ${String(why)}`)
  await pool.end()
  process.exit(1)
}
await pool.query(schemaSql)

// The plugin's warnings and errors, printed as they come.
const logger = {
  level: 'warn',
  stream: new Writable({
    write (chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) console.log(`  [server log] ${(JSON.parse(line) as { msg: string }).msg}`)
      done()
    }
  })
}
const app = await buildSignupApp(pool, logger)
const base = await app.listen({ port: 0, host: '127.0.0.1' })

let unexpected = 0
const indent = (text: string): string => text.replaceAll('\n', '\n    ')

async function post (path: string, body: object): Promise<{ status: number, answer: unknown, replayed: string | null }> {
  const response = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return { status: response.status, answer: await response.json(), replayed: response.headers.get('idempotent-replayed') }
}

async function step (what: string, path: string, body: object, expected: number): Promise<void> {
  console.log(`\n${what}\n  POST ${path} ${JSON.stringify(body)}`)
  const { status, answer, replayed } = await post(path, body)
  console.log(`  ← ${status}${replayed === null ? '' : ` (Idempotent-Replayed: ${replayed})`} ${indent(JSON.stringify(answer, null, 2))}`)
  if (status !== expected) { unexpected++; console.log(`  !! expected ${expected}`) }
}

try {
  await step('A new user', '/users', { email: 'ada@example.com', displayName: 'Ada' }, 201)
  await step('The same email, other case (unique index on lower(email))', '/users', { email: 'ADA@Example.com', displayName: 'Ada again' }, 409)
  await step('A new team', '/teams', { orgId: 1, name: 'Research' }, 201)
  await step('The same team name in the same organisation', '/teams', { orgId: 1, name: 'Research' }, 409)
  await step('The same team name in another organisation', '/teams', { orgId: 2, name: 'Research' }, 201)

  await step('Ada joins the Research team (Problem Details on this route)', '/teams/1/members', { userId: 1 }, 201)
  await step('Ada joins it again: a duplicate, 409', '/teams/1/members', { userId: 1 }, 409)
  await step('A member for a team that does not exist: the client referred to nothing, 422', '/teams/999/members', { userId: 1 }, 422)

  await step('An account', '/accounts', { email: 'linus@example.com', username: 'linus' }, 201)
  await step('Email and username both taken: both in one answer (allConflicts), the username\'s message from its constraint\'s comment',
    '/accounts', { email: 'linus@example.com', username: 'linus' }, 409)
  await step('An order', '/orders', { ref: 'A-100', item: 'book' }, 201)
  await step('The same order again, as a client retries after a lost response: its own order back (replay)', '/orders', { ref: 'A-100', item: 'book' }, 200)
  await step('Another order under the same ref: a conflict, 409', '/orders', { ref: 'A-100', item: 'pen' }, 409)

  console.log('\nTen signups for the same email at the same moment (a race between requests)')
  const statuses = (await Promise.all(Array.from({ length: 10 }, async () =>
    (await post('/users', { email: 'grace@example.com', displayName: 'Grace' })).status))).sort()
  console.log(`  ← ${statuses.join(' ')}: one account, the others told 409; no 500`)
  if (statuses.filter((s) => s === 201).length !== 1 || statuses.some((s) => s !== 201 && s !== 409)) unexpected++

  console.log('\nAn import with explicit ids leaves the teams id sequence behind the table')
  await pool.query("INSERT INTO teams (id, org_id, name) SELECT max(id) + g, 3, 'Imported ' || g FROM teams, generate_series(1, 8) g GROUP BY g")
  await step('A new team now collides on its id: the server\'s fault, so 500 (the fix is logged)', '/teams', { orgId: 4, name: 'Design' }, 500)
  const fixed = await resetSequences(pool, { schema })
  console.log(`\nresetSequences() (or: npx fastify-pg-conflict sequences --fix) fixed ${fixed.map((f) => `${f.sequence} (max ${String(f.max)})`).join(', ')}`)
  await step('The same request again', '/teams', { orgId: 4, name: 'Design' }, 201)

  console.log(unexpected === 0 ? '\nEvery answer was the one expected.' : `\n${unexpected} answers were not the ones expected.`)
} finally {
  await app.close()
  await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  await pool.end()
}
if (unexpected > 0) process.exitCode = 1
