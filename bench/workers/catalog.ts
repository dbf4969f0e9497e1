/**
 * 5. Scale of the catalog, in a process of its own (pinned, run with --expose-gc): a throwaway
 * schema with many unique indexes (single-column, composite and expression keys), the time of
 * readUniqueIndexes and of app.ready() with the plugin, and the heap the catalog keeps.
 */
import Fastify from 'fastify'
import v8 from 'node:v8'
import fastifyPgConflict from '../../src/index.js'
import { CATALOG_SQL, IndexCatalog, readCatalogVersion, readUniqueIndexes } from '../../src/catalog/catalog.js'
import { databaseUrl } from '../lib/config.js'
import { benchSchema, errorOf, schemaPool } from '../lib/db.js'
import { serve } from '../lib/processes.js'
import { interleave } from '../lib/rounds.js'

const schema = `${benchSchema()}_catalog`
const pool = schemaPool(databaseUrl(), schema, 4)
const PER_TABLE = 100
/** Tables per transaction: each holds a lock per table and per index until it commits. */
const CHUNK = 5

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1)

/** One table with 100 unique indexes: its primary key, 60 single columns, 20 composite keys, 19 expressions. */
function tableSql (k: number): string {
  const t = `t${k}`
  const columns = ['id int PRIMARY KEY', ...range(60).map((i) => `c${i} int`), ...range(20).map((j) => `s${j} text`)]
  const constraints = [
    ...range(60).map((i) => `CONSTRAINT ${t}_c${i}_key UNIQUE (c${i})`),
    ...range(20).map((j) => `CONSTRAINT ${t}_c${j}_s${j}_key UNIQUE (c${j}, s${j})`)
  ]
  const expressions = range(19).map((j) => `CREATE UNIQUE INDEX ${t}_s${j}_lower_key ON ${t} (lower(s${j}));`)
  return `CREATE TABLE ${t} (${[...columns, ...constraints].join(', ')});\n${expressions.join('\n')}`
}

function tables (count: number): number[] {
  return range(Math.ceil(count / PER_TABLE))
}

function chunks<T> (items: T[], size: number): T[][] {
  return Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size))
}

async function create ({ count }: { count: number }): Promise<{ ms: number, indexes: number }> {
  const started = performance.now()
  await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`)
  for (const chunk of chunks(tables(count), CHUNK)) await pool.query(chunk.map(tableSql).join('\n'))
  const { rows } = await pool.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indisunique AND c.relnamespace = $1::regnamespace", [schema])
  return { ms: performance.now() - started, indexes: rows[0]?.n ?? 0 }
}

async function drop ({ count }: { count: number }): Promise<{ ms: number }> {
  const started = performance.now()
  for (const chunk of chunks(tables(count), CHUNK)) await pool.query(`DROP TABLE IF EXISTS ${chunk.map((k) => `t${k}`).join(', ')}`)
  await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  return { ms: performance.now() - started }
}

declare const gc: () => void
const heapUsed = (): number => v8.getHeapStatistics().used_heap_size

interface Round {
  /** ms of readUniqueIndexes over the schema. */
  read: number
  /** ms of its query alone (rows fetched and parsed by pg, not turned into indexes). */
  query: number
  /** ms from register to ready() returning, with the plugin (which reads the catalog in onReady). */
  readyPlugin: number
  /** ms of ready() of the same app without the plugin. */
  readyBare: number
  /** ms of pgConflict.describe() on a real violation right after ready(): milliseconds if the catalog was not there yet. */
  describeAfterReady: number
  /** ms of the catalog version query (what a violation the error cannot confirm costs the plugin) while nothing changed in the database, median of 20 in a row. */
  version: number
  /** ms of the same after the database changed (then the schemas' own version is scanned), median of 20. */
  versionScanned: number
}

async function timed (fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now()
  await fn()
  return performance.now() - started
}

export interface CatalogMeasure {
  rounds: Round[]
  indexes: number
  keys: number
  /** Bytes the IndexCatalog keeps (after GC), and heap growth right after the read (before GC). */
  heap: { retained: number, afterRead: number }
}

async function measure ({ rounds }: { rounds: number }): Promise<CatalogMeasure> {
  await pool.query('INSERT INTO t1 (id, c1) VALUES (1, 1)')
  const violation = await errorOf(pool, 'INSERT INTO t1 (id, c1) VALUES (2, 1)') // t1_c1_key
  const describeTimes: number[] = []
  const samples = await interleave([
    { name: 'read', run: async () => await timed(async () => await readUniqueIndexes(pool, [schema])) },
    { name: 'query', run: async () => await timed(async () => await pool.query(CATALOG_SQL, [[schema]])) },
    {
      name: 'version',
      run: async () => {
        const global = (await readCatalogVersion(pool, [schema]))?.global
        const times: number[] = []
        for (let i = 0; i < 20; i++) times.push(await timed(async () => await readCatalogVersion(pool, [schema], global)))
        return times.sort((x, y) => x - y)[10] as number
      }
    },
    {
      name: 'versionScanned',
      run: async () => {
        const times: number[] = []
        for (let i = 0; i < 20; i++) times.push(await timed(async () => await readCatalogVersion(pool, [schema])))
        return times.sort((x, y) => x - y)[10] as number
      }
    },
    {
      name: 'readyPlugin',
      run: async () => {
        const app = Fastify({ logger: false })
        const ms = await timed(async () => {
          await app.register(fastifyPgConflict, { pool, catalog: { schemas: [schema] } })
          await app.ready()
        })
        describeTimes.push(await timed(async () => await app.pgConflict.describe(violation)))
        await app.close()
        return ms
      }
    },
    {
      name: 'readyBare',
      run: async () => {
        const app = Fastify({ logger: false })
        const ms = await timed(async () => await app.ready())
        await app.close()
        return ms
      }
    }
  ], rounds, { warmup: true })
  describeTimes.shift() // the warm-up's
  const perRound = (samples.read as number[]).map((read, r): Round => ({
    read,
    query: (samples.query as number[])[r] as number,
    readyPlugin: (samples.readyPlugin as number[])[r] as number,
    readyBare: (samples.readyBare as number[])[r] as number,
    describeAfterReady: describeTimes[r] as number,
    version: (samples.version as number[])[r] as number,
    versionScanned: (samples.versionScanned as number[])[r] as number
  }))

  gc(); gc()
  const before = heapUsed()
  const indexes = await readUniqueIndexes(pool, [schema])
  const afterRead = heapUsed() - before
  const catalog = new IndexCatalog(indexes)
  const count = indexes.length
  const keys = indexes.reduce((sum, index) => sum + index.keys.length, 0)
  indexes.length = 0 // only the catalog holds them now, as in the plugin
  gc(); gc()
  const retained = heapUsed() - before
  if (catalog.find('t1_c1_key', schema) === undefined) throw new Error('the catalog misses t1_c1_key')
  return { rounds: perRound, indexes: count, keys, heap: { retained, afterRead } }
}

serve({ create, measure, drop }, async () => { await pool.end() })
