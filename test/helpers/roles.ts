// A least-privilege role, as applications really connect: the tests that must hold under real
// grants (sequence checks, repairs) run their app as one, not as the superuser the suite uses.
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import type { Test } from 'tap'
import { databaseUrl, type TestDatabase } from './db.js'

export interface AppRole {
  /** The role's name: `fpc_trust_<name>_<pid>`. */
  name: string
  /** A pool connecting as the role, with the test's schema as search_path (ended at teardown). */
  pool: pg.Pool
}

/**
 * A login role with the grants an application usually has on `db`'s schema: USAGE on the schema,
 * SELECT and INSERT on its tables, USAGE on its sequences, for those there now and those created
 * later (default privileges of the role that creates them). Nothing else: no UPDATE, DELETE or
 * TRUNCATE, no SELECT or UPDATE on sequences. Named `fpc_trust_<name>_<pid>` (the branch that
 * introduced it, and the process), and dropped at teardown with what was granted to it.
 */
export async function appRole (t: Test, db: TestDatabase, name = 'app'): Promise<AppRole> {
  const role = `fpc_trust_${name}_${process.pid}`
  const password = randomBytes(12).toString('hex') // the embedded server asks for one; a trust server ignores it
  const { schema } = db
  await db.exec(`
    CREATE ROLE ${role} LOGIN PASSWORD '${password}';
    GRANT USAGE ON SCHEMA ${schema} TO ${role};
    GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA ${schema} TO ${role};
    GRANT USAGE ON ALL SEQUENCES IN SCHEMA ${schema} TO ${role};
    ALTER DEFAULT PRIVILEGES IN SCHEMA ${schema} GRANT SELECT, INSERT ON TABLES TO ${role};
    ALTER DEFAULT PRIVILEGES IN SCHEMA ${schema} GRANT USAGE ON SEQUENCES TO ${role};
  `)
  const url = new URL(databaseUrl())
  url.username = role
  url.password = password
  const pool = new pg.Pool({ connectionString: url.toString(), options: `-c search_path=${schema}`, max: 4 })
  t.teardown(async () => {
    await pool.end()
    // Its grants and default privileges go with it; the schema itself is the db helper's (whose pool may be ended by now).
    const admin = new pg.Client({ connectionString: databaseUrl() })
    await admin.connect()
    try {
      await admin.query(`DROP OWNED BY ${role} CASCADE; DROP ROLE IF EXISTS ${role}`)
    } finally {
      await admin.end()
    }
  })
  return { name: role, pool }
}
