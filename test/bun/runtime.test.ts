// The plugin under the real Bun runtime (npm's `bun`, a devDependency), against the real server:
// test/bun/fixtures/runtime.mjs with Bun.SQL and with node-postgres, and the example of
// docs/bun.md (examples/bun.mjs). Each runs as a `bun` process and prints what it saw; the
// checks are here. Under Node, test/core/recognise-bun.test.ts and test/adapters/sql-pool.test.ts
// cover the same code (coverage does not see code run under Bun).
import t from 'tap'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { BUN_ERROR_LAYOUT } from '../helpers/bun-errors.js'
import { findBun } from '../helpers/bun.js'
import { databaseUrl, testDatabase } from '../helpers/db.js'

const repo = fileURLToPath(new URL('../..', import.meta.url))

/** Runs `script` under the Bun at `path`, with DATABASE_URL and `env`; its stdout, or a failure with its stderr. */
async function runBun (path: string, script: string, env: Record<string, string>): Promise<string> {
  return await new Promise((resolve, reject) => {
    execFile(path, [script], { cwd: repo, env: { ...process.env, DATABASE_URL: databaseUrl(), ...env }, timeout: 60_000 },
      (error, stdout, stderr) => { error === null ? resolve(stdout) : reject(new Error(`bun ${script} failed: ${error.message}\n${stderr}`)) })
  })
}

/** Every check, with the Bun at `path`. */
async function underBun (path: string): Promise<void> {
  const db = await testDatabase(t, 'bun')
  await db.exec(`
    CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL, display_name text NOT NULL);
    CREATE UNIQUE INDEX users_email_lower ON users (lower(email));
    CREATE TABLE teams (id serial PRIMARY KEY, owner_id int NOT NULL REFERENCES users, name text NOT NULL CHECK (name <> ''), UNIQUE (owner_id, name));
    CREATE TABLE bookings (id serial PRIMARY KEY, room int NOT NULL, during int4range NOT NULL, EXCLUDE USING gist (during WITH &&));
    INSERT INTO users (email, display_name) VALUES ('ada@example.com', 'Ada');
    INSERT INTO bookings (room, during) VALUES (1, int4range(1, 10));
  `)
  const exampleSchema = `${db.schema}_example`
  t.teardown(() => db.exec(`DROP SCHEMA IF EXISTS ${exampleSchema} CASCADE`))

  // Both at once: each is mostly Bun waiting on the server.
  const [runtime, example] = await Promise.all([
    runBun(path, 'test/bun/fixtures/runtime.mjs', { SCHEMA: db.schema }),
    runBun(path, 'examples/bun.mjs', { BUN_EXAMPLE_SCHEMA: exampleSchema })
  ])
  const seen = JSON.parse(runtime) as Record<string, any>
  t.comment(`Bun ${String(seen.bun)} (${path})`)

  t.test("Bun.SQL's errors have the layout the plugin believes, and each kind is read", async (t) => {
    const codes = { unique: '23505', foreignKey: '23503', notNull: '23502', check: '23514', exclusion: '23P01', serialization: '40001' }
    for (const [kind, code] of Object.entries(codes)) {
      const error = seen.errors[kind]
      t.same(error.classes, BUN_ERROR_LAYOUT.classes, `${kind}: PostgresError extends SQLError`)
      t.match(error, { code: 'ERR_POSTGRES_SERVER_ERROR', errno: code, isPostgresError: true }, `${kind}: Bun's code, the SQLSTATE in errno`)
      t.equal(error.found?.code, code, `${kind}: findPgError reads the SQLSTATE`)
    }
    t.same(seen.errors.unique.keys, BUN_ERROR_LAYOUT.uniqueKeys, 'the own fields test/helpers/bun-errors.ts copies')
    t.match(seen.errors.unique.found, { constraint: 'users_email_lower', table: 'users', schema: db.schema })
    t.match(seen.errors.notNull.found, { column: 'display_name', table: 'users' })
    t.match(seen.connectionError, { code: 'ERR_POSTGRES_CONNECTION_REFUSED', isPostgresError: true, found: null }, 'a connection refused is no server error')
  })

  t.test('a Fastify app on Bun with Bun.SQL answers every kind, with the catalog read through sqlPool', async (t) => {
    const { answers } = seen
    t.match(answers.unique, { status: 409, body: { code: 'PG_UNIQUE_VIOLATION', fields: ['email'] } }, 'the field of an expression index')
    t.match(answers.notNull, { status: 422, body: { code: 'PG_NOT_NULL_VIOLATION', fields: ['displayName'] } })
    t.match(answers.foreignKey, { status: 422, body: { code: 'PG_FOREIGN_KEY_VIOLATION', fields: ['ownerId'] } })
    t.match(answers.check, { status: 422, body: { code: 'PG_CHECK_VIOLATION', fields: ['name'] } })
    t.match(answers.exclusion, { status: 409, body: { code: 'PG_EXCLUSION_VIOLATION', fields: ['during'] } })
    t.match(answers.serialization, { status: 503, body: { code: 'PG_SERIALIZATION_FAILURE' } })
    t.same(answers.retried, { status: 201, body: { attempts: 2 } }, 'a route retry after a Bun.SQL unique violation in sql.begin')
    t.match(answers.forged, { status: 500, body: { code: 'ERR_POSTGRES_SERVER_ERROR', message: 'upstream failed' } }, "Bun's fields on another error: not believed")
    t.match(seen.withTransactionOnBunSql, { code: 'PG_CONFLICT_INVALID_OPTION' }, 'withTransaction refuses a Bun.SQL (docs/bun.md: sql.begin)')
  })

  t.test('node-postgres on Bun: answers, kept connections, withTransaction', async (t) => {
    t.match(seen.pg, { status: 409, body: { fields: ['email'] }, keptConnection: true, transaction: { attempts: 2 } })
    t.same(seen.pg.counters, { users_email_lower: { retried: 1, recovered: 1, gaveUp: 0 } })
  })

  t.test("docs/bun.md's example runs under Bun and answers as it says", async (t) => {
    const lines = example.trim().split('\n').map((line) => JSON.parse(line) as { status: number, body: { fields?: string[] } })
    t.same(lines.map((line) => line.status), [201, 409, 422, 201, 409, 422, 422])
    t.same(lines.map((line) => line.body.fields), [undefined, ['email'], ['displayName'], undefined, ['ownerId', 'name'], ['ownerId'], ['name']])
  })
}

const bun = findBun()
if ('missing' in bun) {
  // CI installs it with `npm ci`: there a missing Bun is a failure; elsewhere the reason is printed.
  if (process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false') t.fail(bun.missing)
  else t.plan(0, bun.missing)
} else {
  await underBun(bun.path)
}
