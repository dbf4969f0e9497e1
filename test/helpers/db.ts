import pg from 'pg'
import type { Test } from 'tap'

/** The server the run uses: `npm test` sets DATABASE_URL (an embedded server when none was given). */
export function databaseUrl (): string {
  const url = process.env.DATABASE_URL
  if (url === undefined || url === '') {
    throw new Error('DATABASE_URL is not set: run the tests with `npm test`, which starts an embedded PostgreSQL when it is not set')
  }
  return url
}

export interface TestDatabase {
  /** A schema of this test file's own, dropped at the end. */
  schema: string
  /** A pool whose connections work in that schema. */
  pool: pg.Pool
  /** Runs SQL (several statements allowed) in the schema. */
  exec: (sql: string) => Promise<void>
  /** Runs SQL that must fail, and gives back the error the client threw. */
  errorOf: (sql: string, values?: unknown[]) => Promise<pg.DatabaseError>
  /** A new pool on the same schema (for code under test that ends its pool). */
  newPool: (config?: pg.PoolConfig) => pg.Pool
}

/** Creates a schema for one test file, with a pool in it; both go away when the test ends. */
export async function testDatabase (t: Test, name: string): Promise<TestDatabase> {
  const schema = `fpc_${name}_${process.pid}`
  const admin = new pg.Client({ connectionString: databaseUrl() })
  await admin.connect()
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`)
  await admin.end()
  const pools: pg.Pool[] = []
  const newPool = (config: pg.PoolConfig = {}): pg.Pool => {
    const created = new pg.Pool({ connectionString: databaseUrl(), options: `-c search_path=${schema}`, max: 4, ...config })
    pools.push(created)
    return created
  }
  const pool = newPool()
  t.teardown(async () => {
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await Promise.all(pools.map((p) => p.ending ? undefined : p.end()))
  })
  return {
    schema,
    pool,
    newPool,
    exec: async (sql) => { await pool.query(sql) },
    errorOf: async (sql, values) => {
      try {
        await pool.query(sql, values)
      } catch (error) {
        return error as pg.DatabaseError
      }
      throw new Error(`expected an error from: ${sql}`)
    }
  }
}
