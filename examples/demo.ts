// `npm run demo`: starts the signup API on the database in DATABASE_URL (npm run demo starts an
// embedded PostgreSQL when it is not set), sends it requests over HTTP, duplicates included,
// prints what goes and comes back, and exits.
import pg from 'pg'
import { buildSignupApp, schemaSql } from './signup.js'

const schema = 'fastify_pg_conflict_demo'
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, options: `-c search_path=${schema}` })
await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`)
await pool.query(schemaSql)

const app = await buildSignupApp(pool)
const base = await app.listen({ port: 0, host: '127.0.0.1' })

const requests: Array<[string, string, object]> = [
  ['A new user', '/users', { email: 'ada@example.com', displayName: 'Ada' }],
  ['The same email, other case', '/users', { email: 'ADA@Example.com', displayName: 'Ada again' }],
  ['A new team', '/teams', { orgId: 1, name: 'Research' }],
  ['The same team name in the same organisation', '/teams', { orgId: 1, name: 'Research' }],
  ['The same team name in another organisation', '/teams', { orgId: 2, name: 'Research' }]
]

let conflicts = 0
try {
  for (const [what, path, body] of requests) {
    const response = await fetch(base + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body)
    })
    const answer: unknown = await response.json()
    if (response.status === 409) conflicts++
    console.log(`\n${what}\n  POST ${path} ${JSON.stringify(body)}\n  ← ${response.status} ${JSON.stringify(answer, null, 2).replaceAll('\n', '\n    ')}`)
  }
  console.log(`\n${requests.length} requests, ${conflicts} answered 409 Conflict with the fields to fix; no 500.`)
} finally {
  await app.close()
  await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  await pool.end()
}
if (conflicts !== 2) {
  console.error('expected exactly two conflicts')
  process.exitCode = 1
}
