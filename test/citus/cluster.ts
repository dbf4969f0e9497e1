// The Citus cluster the tests in test/citus/ run on: its coordinator's URL is CITUS_URL (CI
// starts one: .ci/run). Each suite works in a schema of its own on the coordinator, made here and
// dropped at its end. Without CITUS_URL the suites are skipped, unless CITUS_REQUIRED=1 (CI),
// which makes that a failure.
import pg from 'pg'
import type { Test } from 'tap'

/** How to run the suites, for the line printed when they are skipped. */
export const HOW_TO_RUN = 'Citus cluster tests skipped: as root, bash ../shared/citus/install.sh && bash ../shared/citus/cluster.sh start 9700 /tmp/citus, ' +
  'then CITUS_URL=postgres://postgres@127.0.0.1:9700/postgres npx tap test/citus/cluster.test.ts (docs/citus.md)'

/** The coordinator's URL; `undefined` when the suites are to be skipped. Throws when they may not be. */
export function citusUrl (): string | undefined {
  const url = process.env.CITUS_URL
  if (url !== undefined && url !== '') return url
  if (process.env.CITUS_REQUIRED === '1') throw new Error('CITUS_REQUIRED=1 but CITUS_URL is not set: the Citus cluster tests may not be skipped here')
  return undefined
}

export interface CitusSchema {
  url: string
  /** A schema of this suite's own on the coordinator, dropped at the end. */
  schema: string
  /** A pool on the coordinator whose connections work in that schema. */
  pool: pg.Pool
  /** Runs SQL (several statements allowed) in the schema. */
  exec: (sql: string) => Promise<void>
  /** Runs SQL that must fail, and gives back the error the client threw. */
  errorOf: (sql: string, values?: unknown[]) => Promise<pg.DatabaseError>
  /** A new pool in the schema, on the coordinator or on another node of the cluster (`port`). */
  newPool: (config?: pg.PoolConfig & { port?: number }) => pg.Pool
  /**
   * `create_distributed_table` with few shards (2: one on each worker), in a colocation group of
   * this schema's own (`colocateWith` a table of this schema's, or a new group), so that suites
   * running at the same time on the cluster never share one.
   */
  distribute: (table: string, column: string, colocateWith?: string) => Promise<void>
  /** `create_reference_table`. */
  reference: (table: string) => Promise<void>
  /** The port of the worker holding the shard of `table` for the distribution value `value`. */
  workerOf: (table: string, value: number) => Promise<number>
  /** Values of `table`'s distribution column from 1 up whose shards are on the first worker and on the other one. */
  spread: (table: string) => Promise<{ here: number, there: number }>
}

/** Shards per distributed table: one on each worker, which is all the tests need and keeps DDL fast. */
const SHARDS = 2

/** Creates a schema on the coordinator for one suite; it and its pools go away when the test ends. */
export async function citusSchema (t: Test, url: string, name: string): Promise<CitusSchema> {
  const schema = `fpc_citus_${name}_${process.pid}`
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  try {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await admin.query(`CREATE SCHEMA ${schema}`)
  } finally {
    await admin.end()
  }
  const pools: pg.Pool[] = []
  const newPool = ({ port, ...config }: pg.PoolConfig & { port?: number } = {}): pg.Pool => {
    const target = new URL(url)
    if (port !== undefined) target.port = String(port)
    const created = new pg.Pool({ connectionString: target.href, options: `-c search_path=${schema}`, max: 4, ...config })
    created.on('error', () => {}) // a connection Citus or a test ends while idle
    pools.push(created)
    return created
  }
  const pool = newPool()
  t.teardown(async () => {
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await Promise.all(pools.map(async (p) => { if (!p.ending) await p.end() }))
  })
  const workerOf = async (table: string, value: number): Promise<number> => {
    const { rows } = await pool.query<{ port: number }>(
      `SELECT nodeport AS port FROM pg_dist_shard_placement WHERE shardid = get_shard_id_for_distribution_column($1, $2::text)`, [`${schema}.${table}`, value])
    return (rows[0] as { port: number }).port
  }
  return {
    url,
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
    },
    distribute: async (table, column, colocateWith) => {
      // (Citus takes shard_count only for a new colocation group.)
      if (colocateWith === undefined) await pool.query(`SELECT create_distributed_table($1, $2, shard_count => ${SHARDS}, colocate_with => 'none')`, [`${schema}.${table}`, column])
      else await pool.query('SELECT create_distributed_table($1, $2, colocate_with => $3)', [`${schema}.${table}`, column, `${schema}.${colocateWith}`])
    },
    reference: async (table) => {
      await pool.query('SELECT create_reference_table($1)', [`${schema}.${table}`])
    },
    workerOf,
    spread: async (table) => {
      const first = await workerOf(table, 1)
      for (let value = 2; value < 100; value++) {
        if (await workerOf(table, value) !== first) return { here: 1, there: value }
      }
      throw new Error(`all of ${table}'s shards are on one worker`)
    }
  }
}
