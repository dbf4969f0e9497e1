// Fastify on Bun with Bun's own PostgreSQL client, Bun.SQL: `bun examples/bun.mjs` with
// DATABASE_URL set (docs/bun.md). Bun's errors carry the SQLSTATE in `errno`; the plugin reads it,
// and reads the catalog through sqlPool(sql). It makes a schema of its own (BUN_EXAMPLE_SCHEMA,
// default fastify_pg_conflict_bun), sends requests over HTTP, prints each answer as a JSON line
// and drops the schema. test/bun/runtime.test.ts runs it under the real Bun.
import { SQL } from 'bun'
import Fastify from 'fastify'
import fastifyPgConflict, { snakeToCamel, sqlPool } from '../src/index.js' // from 'fastify-pg-conflict' in your app

const schema = process.env.BUN_EXAMPLE_SCHEMA ?? 'fastify_pg_conflict_bun'
const sql = new SQL(process.env.DATABASE_URL, { max: 4, connection: { search_path: schema } })
await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema};
  CREATE TABLE ${schema}.users (id serial PRIMARY KEY, email text NOT NULL, display_name text NOT NULL);
  CREATE UNIQUE INDEX users_email_lower ON ${schema}.users (lower(email));
  CREATE TABLE ${schema}.teams (id serial PRIMARY KEY, owner_id int NOT NULL REFERENCES ${schema}.users,
    name text NOT NULL CHECK (name <> ''), UNIQUE (owner_id, name));`).simple()

const app = Fastify()
await app.register(fastifyPgConflict, { pool: sqlPool(sql), fieldName: snakeToCamel })

app.post('/users', {
  config: { conflict: { message: 'An account with this email exists already.' } }
}, async (request, reply) => {
  const { email, displayName } = request.body
  const [user] = await sql`INSERT INTO users (email, display_name) VALUES (${email}, ${displayName ?? null}) RETURNING id`
  return reply.code(201).send(user)
})

app.post('/teams', async (request, reply) => {
  const { ownerId, name } = request.body
  const [team] = await sql`INSERT INTO teams (owner_id, name) VALUES (${ownerId}, ${name}) RETURNING id`
  return reply.code(201).send(team)
})

const base = await app.listen({ port: 0, host: '127.0.0.1' })
try {
  const post = async (path, body) => {
    const response = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    console.log(JSON.stringify({ request: `POST ${path} ${JSON.stringify(body)}`, status: response.status, body: await response.json() }))
  }
  await post('/users', { email: 'ada@example.com', displayName: 'Ada' }) // 201
  await post('/users', { email: 'ADA@example.com', displayName: 'Ada again' }) // 409: the email, through the expression index
  await post('/users', { email: 'grace@example.com' }) // 422: displayName is missing (NOT NULL)
  await post('/teams', { ownerId: 1, name: 'Research' }) // 201
  await post('/teams', { ownerId: 1, name: 'Research' }) // 409: ownerId and name
  await post('/teams', { ownerId: 99, name: 'Lost' }) // 422: no user 99
  await post('/teams', { ownerId: 1, name: '' }) // 422: the CHECK
} finally {
  await app.close()
  await sql.unsafe(`DROP SCHEMA ${schema} CASCADE`)
  await sql.close()
}
