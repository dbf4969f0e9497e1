// sqlPool: the plugin's pool over a client whose queries are `sql.unsafe(text, values)`: Bun.SQL
// (run under the real Bun by test/bun/runtime.test.ts) and postgres.js, which has the same
// `unsafe` and runs here under Node. The catalog is read through it as the application's role.
import t from 'tap'
import postgres from 'postgres'
import fastifyPgConflict, { InvalidOptionError, snakeToCamel, sqlPool } from '../../src/index.js'
import { buildApp } from '../helpers/app.js'
import { testDatabase } from '../helpers/db.js'
import { appRole } from '../helpers/roles.js'

const db = await testDatabase(t, 'sqlpool')
await db.exec(`
  CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL);
  CREATE UNIQUE INDEX users_email_lower ON users (lower(email));
  CREATE TABLE posts (id serial PRIMARY KEY, user_id int NOT NULL REFERENCES users);
`)
const role = await appRole(t, db, 'sqlpool')
const url = (role.pool as unknown as { options: { connectionString: string } }).options.connectionString
const sql = postgres(url, { max: 2, connection: { search_path: db.schema }, onnotice: () => {} })
t.teardown(() => sql.end({ timeout: 1 }))

t.test('the plugin reads the catalog through sqlPool(sql) and answers with its names', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { pool: sqlPool(sql), catalog: { schemas: [db.schema] }, fieldName: snakeToCamel })
  app.post<{ Body: { email: string } }>('/users', async (request, reply) => {
    const [user] = await sql`INSERT INTO users (email) VALUES (${request.body.email}) RETURNING id`
    return await reply.code(201).send(user)
  })
  app.post<{ Body: { userId: number } }>('/posts', async (request) => await sql`INSERT INTO posts (user_id) VALUES (${request.body.userId})`)
  t.equal((await app.inject({ method: 'POST', url: '/users', payload: { email: 'ada@example.com' } })).statusCode, 201)
  const duplicate = await app.inject({ method: 'POST', url: '/users', payload: { email: 'ADA@example.com' } })
  t.equal(duplicate.statusCode, 409)
  t.match(duplicate.json(), { code: 'PG_UNIQUE_VIOLATION', fields: ['email'] }, 'the field of an expression index: only the catalog knows it')
  const missing = await app.inject({ method: 'POST', url: '/posts', payload: { userId: 404 } })
  t.equal(missing.statusCode, 422)
  t.match(missing.json(), { fields: ['userId'] }, 'a missing referenced row names its field')
})

t.test('sqlPool gives rows as node-postgres does: one statement with values, several without', async (t) => {
  const pool = sqlPool(sql)
  t.same((await pool.query('SELECT $1::text[] AS names, $2::int8 AS big', [['a', 'b'], 5])).rows, [{ names: ['a', 'b'], big: '5' }])
  t.same((await pool.query('SELECT 1 AS one WHERE false')).rows, [], 'no rows')
  t.same(await pool.query('SET LOCAL jit = off; SELECT true AS yes'), [{ rows: [] }, { rows: [{ yes: true }] }], 'one result per statement')
})

t.test('sqlPool refuses what has no unsafe()', async (t) => {
  for (const value of [undefined, null, {}, { unsafe: 'x' }, db.pool]) {
    t.throws(() => sqlPool(value as never), InvalidOptionError, `refused: ${String(value)}`)
  }
})
