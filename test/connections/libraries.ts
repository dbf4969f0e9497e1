// The same unique violation raised through each PostgreSQL client and ORM the README names, in a
// Fastify app with the plugin registered (`keepConnections` on, or off: what pg-pool does
// without it), answered 409; and how many PostgreSQL connections those conflicts closed.
//
// Counted, not inferred: every library runs on a pool of ONE connection, and each request asks
// the server which backend serves it (`pg_backend_pid()`, through the library) before its
// conflicting INSERT; one more request asks after the last conflict. A conflict that closed its
// connection makes the next request's backend a new one: connections closed = how many times the
// backend changed. At the end, pg_stat_activity must show at most one backend of the library's
// (its `application_name`).
//
// Used by test/connections/libraries.test.ts (a few conflicts each, in `npm test`) and
// test-load/connections.test.ts (1 000 each, printing the table of docs/connections.md).
import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyPostgres from '@fastify/postgres'
import express from 'express'
import pg from 'pg'
import { sql } from 'drizzle-orm'
import { drizzle } from 'drizzle-orm/node-postgres'
import { pgTable, serial, text } from 'drizzle-orm/pg-core'
import { PrismaPg } from '@prisma/adapter-pg'
import { Kysely, PostgresDialect, sql as kyselySql, type Generated } from 'kysely'
import knex from 'knex'
import { DataSource, EntitySchema } from 'typeorm'
import fastifyPgConflict from '../../src/index.js'
import { pgConflict } from '../../src/express.js'
import { databaseUrl, type TestDatabase } from '../helpers/db.js'

const require = createRequire(import.meta.url)

/** The table every library collides on: one row is there, and every request inserts it again. */
export const USERS_SQL = `
  CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL CONSTRAINT users_email_key UNIQUE);
  INSERT INTO users (email) VALUES ('ada@example.com');
`
const TAKEN = 'ada@example.com'
const PID_SQL = 'SELECT pg_backend_pid() AS pid'

/** One library, set up in an app: what a request does, and how to stop. */
interface Running {
  /** The backend serving the library's (only) connection now, asked through the library. */
  pid: () => Promise<number>
  /** The conflicting INSERT, through the library. */
  conflict: () => Promise<unknown>
  /** Stops the app and the library. */
  close: () => Promise<void>
}

export interface Library {
  name: string
  /** How the library runs a statement, as the table says it. */
  how: string
  /** Whether the plugin changes anything for it (when not: why it is fine already). */
  fineAlready?: string
  /**
   * Sets the library up on `db`'s schema, over ONE connection named `applicationName`, with an
   * app around it answering `POST /conflict`: `app` for the Fastify ones (the plugin registered),
   * or a base URL for the Express one. `keep` is the plugin's keepConnections.
   */
  setUp: (db: TestDatabase, applicationName: string, keep: boolean) => Promise<Running & { app?: FastifyInstance, url?: string }>
}

function connection (db: TestDatabase, applicationName: string): pg.PoolConfig {
  return { connectionString: databaseUrl(), options: `-c search_path=${db.schema}`, application_name: applicationName, max: 1 }
}

/** A pool of one connection, for the libraries that take a pg Pool. */
function poolFor (db: TestDatabase, applicationName: string): pg.Pool {
  const pool = new pg.Pool(connection(db, applicationName))
  pool.on('error', () => {})
  return pool
}

const pidOf = (rows: unknown[]): number => Number((rows[0] as { pid: number | string }).pid)

/** An app with the plugin on `pool` (or @fastify/postgres's, or none), and `running`'s two routes. */
async function fastifyApp (running: Omit<Running, 'close'> & { close?: () => Promise<void> }, keep: boolean, options: {
  pool?: pg.Pool
  before?: (app: FastifyInstance) => Promise<void>
  routes?: (app: FastifyInstance) => void
} = {}): Promise<Running & { app: FastifyInstance }> {
  const app = Fastify()
  await options.before?.(app)
  // No catalog: a conflict's first description would read it (and check the id sequence) on the
  // pool's one connection, which a transact route holds: it would wait for catalog.timeout.
  await app.register(fastifyPgConflict, { pool: options.pool, keepConnections: keep, catalog: false })
  if (options.routes !== undefined) options.routes(app)
  else {
    app.post('/conflict', async () => { await running.conflict() })
  }
  await app.ready()
  return {
    app,
    pid: running.pid,
    conflict: running.conflict,
    close: async () => {
      await app.close()
      await running.close?.()
    }
  }
}

let generated: Promise<new (options: { adapter: PrismaPg }) => PrismaLike> | undefined

interface PrismaLike {
  user: { create: (args: { data: { email: string } }) => Promise<unknown> }
  $queryRawUnsafe: (query: string) => Promise<unknown[]>
  $disconnect: () => Promise<void>
}

/** `prisma generate` once per process, into node_modules/.cache (git-ignored), removed at exit. */
async function prismaClient (): Promise<new (options: { adapter: PrismaPg }) => PrismaLike> {
  generated ??= (async () => {
    const dir = fileURLToPath(new URL(`../../node_modules/.cache/fastify-pg-conflict/connections-prisma-${process.pid}/`, import.meta.url))
    process.once('exit', () => { require('node:fs').rmSync(dir, { recursive: true, force: true }) })
    await rm(dir, { recursive: true, force: true })
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, 'schema.prisma'), `
generator client {
  provider = "prisma-client-js"
  output   = "./client"
}
datasource db {
  provider = "postgresql"
}
model User {
  id    Int    @id @default(autoincrement())
  email String @unique(map: "users_email_key")
  @@map("users")
}
`)
    // As in test/clients/prisma.test.ts: `generate` needs no schema engine; a stand-in spares its download.
    const standIn = join(dir, 'schema-engine-not-used')
    await writeFile(standIn, '')
    await promisify(execFile)(process.execPath, [require.resolve('prisma/build/index.js'), 'generate', '--schema', join(dir, 'schema.prisma')], {
      env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: standIn, CHECKPOINT_DISABLE: '1', PRISMA_HIDE_UPDATE_MESSAGE: '1' },
      timeout: 60_000
    })
    return (require(join(dir, 'client', 'index.js')) as { PrismaClient: new (options: { adapter: PrismaPg }) => PrismaLike }).PrismaClient
  })()
  return await generated
}

const users = pgTable('users', { id: serial('id').primaryKey(), email: text('email').notNull() })

interface KyselyDatabase {
  users: { id: Generated<number>, email: string }
}

const UserEntity = new EntitySchema<{ id: number, email: string }>({
  name: 'User',
  tableName: 'users',
  columns: { id: { type: Number, primary: true, generated: true }, email: { type: String } }
})

export const LIBRARIES: Library[] = [
  {
    name: 'pg.Pool#query',
    how: '`pool.query()`',
    async setUp (db, name, keep) {
      const pool = poolFor(db, name)
      return await fastifyApp({
        pid: async () => pidOf((await pool.query(PID_SQL)).rows),
        conflict: async () => await pool.query('INSERT INTO users (email) VALUES ($1)', [TAKEN]),
        close: async () => { await pool.end() }
      }, keep, { pool })
    }
  },
  {
    name: '@fastify/postgres, `fastify.pg.query`',
    how: '`pool.query()`, bound at registration',
    async setUp (db, name, keep) {
      let app: FastifyInstance | undefined
      const pgOf = (): { query: (text: string, values?: unknown[]) => Promise<pg.QueryResult> } => (app as unknown as { pg: { query: (text: string, values?: unknown[]) => Promise<pg.QueryResult> } }).pg
      const running = await fastifyApp({
        pid: async () => pidOf((await pgOf().query(PID_SQL)).rows),
        conflict: async () => await pgOf().query('INSERT INTO users (email) VALUES ($1)', [TAKEN])
      }, keep, {
        before: async (instance) => {
          app = instance
          await instance.register(fastifyPostgres, connection(db, name))
          ;(instance as unknown as { pg: { pool: pg.Pool } }).pg.pool.on('error', () => {})
        }
      })
      return running
    }
  },
  {
    name: '@fastify/postgres, `pg: { transact: true }` route',
    how: 'a client checked out for the request (`BEGIN` … `COMMIT`)',
    fineAlready: 'the request\'s client is released without an error after its `COMMIT` (a `ROLLBACK` for an aborted transaction)',
    async setUp (db, name, keep) {
      let app: FastifyInstance | undefined
      const pgOf = (): { query: (text: string) => Promise<pg.QueryResult> } => (app as unknown as { pg: { query: (text: string) => Promise<pg.QueryResult> } }).pg
      return await fastifyApp({
        pid: async () => pidOf((await pgOf().query(PID_SQL)).rows),
        conflict: async () => { throw new Error('through the route') }
      }, keep, {
        before: async (instance) => {
          app = instance
          await instance.register(fastifyPostgres, connection(db, name))
          ;(instance as unknown as { pg: { pool: pg.Pool } }).pg.pool.on('error', () => {})
        },
        routes: (instance) => {
          instance.post('/conflict', { pg: { transact: true } } as object, async (request) => {
            await (request as unknown as { pg: pg.PoolClient }).pg.query('INSERT INTO users (email) VALUES ($1)', [TAKEN])
          })
        }
      })
    }
  },
  {
    name: '@fastify/postgres, `fastify.pg.transact()`',
    how: 'a client checked out (`BEGIN` … `ROLLBACK`)',
    fineAlready: '`transact` releases its client without an error after the `ROLLBACK`',
    async setUp (db, name, keep) {
      let app: FastifyInstance | undefined
      type Pg = { query: (text: string) => Promise<pg.QueryResult>, transact: <T>(fn: (client: pg.PoolClient) => Promise<T>) => Promise<T> }
      const pgOf = (): Pg => (app as unknown as { pg: Pg }).pg
      return await fastifyApp({
        pid: async () => pidOf((await pgOf().query(PID_SQL)).rows),
        conflict: async () => await pgOf().transact(async (client) => await client.query('INSERT INTO users (email) VALUES ($1)', [TAKEN]))
      }, keep, {
        before: async (instance) => {
          app = instance
          await instance.register(fastifyPostgres, connection(db, name))
          ;(instance as unknown as { pg: { pool: pg.Pool } }).pg.pool.on('error', () => {})
        }
      })
    }
  },
  {
    name: 'Drizzle (`drizzle-orm/node-postgres`)',
    how: '`pool.query()`',
    async setUp (db, name, keep) {
      const pool = poolFor(db, name)
      const orm = drizzle(pool)
      return await fastifyApp({
        pid: async () => pidOf((await orm.execute(sql.raw(PID_SQL))).rows),
        conflict: async () => await orm.insert(users).values({ email: TAKEN }),
        close: async () => { await pool.end() }
      }, keep, { pool })
    }
  },
  {
    name: 'Prisma 7 (`@prisma/adapter-pg`), given the pool: `new PrismaPg(pool)`',
    how: '`pool.query()`',
    async setUp (db, name, keep) {
      const PrismaClient = await prismaClient()
      const pool = poolFor(db, name)
      const prisma = new PrismaClient({ adapter: new PrismaPg(pool, { schema: db.schema }) })
      return await fastifyApp({
        pid: async () => pidOf(await prisma.$queryRawUnsafe(PID_SQL)),
        conflict: async () => await prisma.user.create({ data: { email: TAKEN } }),
        close: async () => { await prisma.$disconnect(); await pool.end() }
      }, keep, { pool })
    }
  },
  {
    name: 'Prisma 7 (`@prisma/adapter-pg`), given a config: `new PrismaPg({ connectionString })`',
    how: '`pool.query()` on a pool Prisma makes, which the plugin never sees',
    async setUp (db, name, keep) {
      const PrismaClient = await prismaClient()
      const prisma = new PrismaClient({ adapter: new PrismaPg(connection(db, name), { schema: db.schema }) })
      return await fastifyApp({
        pid: async () => pidOf(await prisma.$queryRawUnsafe(PID_SQL)),
        conflict: async () => await prisma.user.create({ data: { email: TAKEN } }),
        close: async () => { await prisma.$disconnect() }
      }, keep)
    }
  },
  {
    name: 'Kysely (`PostgresDialect`)',
    how: 'a client checked out per query (`pool.connect()` … `release()`)',
    fineAlready: 'it checks out a client per query and releases it without an error',
    async setUp (db, name, keep) {
      const pool = poolFor(db, name)
      const kysely = new Kysely<KyselyDatabase>({ dialect: new PostgresDialect({ pool }) })
      return await fastifyApp({
        pid: async () => pidOf((await kyselySql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(kysely)).rows),
        conflict: async () => await kysely.insertInto('users').values({ email: TAKEN }).execute(),
        close: async () => { await kysely.destroy() }
      }, keep, { pool })
    }
  },
  {
    name: 'Knex (`pg`)',
    how: "knex's own pool (tarn) of `pg.Client`s",
    fineAlready: 'its pool destroys a connection only when the connection itself failed, not when a query did',
    async setUp (db, name, keep) {
      const k = knex({ client: 'pg', connection: { connectionString: databaseUrl(), application_name: name }, searchPath: [db.schema], pool: { min: 0, max: 1 } })
      return await fastifyApp({
        pid: async () => pidOf((await k.raw(PID_SQL)).rows as unknown[]),
        conflict: async () => await k('users').insert({ email: TAKEN }),
        close: async () => { await k.destroy() }
      }, keep)
    }
  },
  {
    name: 'TypeORM (`postgres`)',
    how: 'a query runner: a client checked out (`pool.connect()` … `release()`)',
    fineAlready: 'a query runner releases its client with an error only when the connection emitted one',
    async setUp (db, name, keep) {
      const dataSource = new DataSource({ type: 'postgres', url: databaseUrl(), schema: db.schema, entities: [UserEntity], poolSize: 1, applicationName: name })
      await dataSource.initialize()
      return await fastifyApp({
        pid: async () => pidOf(await dataSource.query(PID_SQL) as unknown[]),
        conflict: async () => await dataSource.getRepository(UserEntity).insert({ email: TAKEN }),
        close: async () => { await dataSource.destroy() }
      }, keep)
    }
  },
  {
    name: 'Express middleware, `pool.query()`',
    how: '`pool.query()`',
    async setUp (db, name, keep) {
      const pool = poolFor(db, name)
      const app = express()
      app.post('/conflict', async () => { await pool.query('INSERT INTO users (email) VALUES ($1)', [TAKEN]) })
      app.use(pgConflict({ pool, keepConnections: keep }))
      const server = app.listen(0, '127.0.0.1')
      await once(server, 'listening')
      return {
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        pid: async () => pidOf((await pool.query(PID_SQL)).rows),
        conflict: async () => await pool.query('INSERT INTO users (email) VALUES ($1)', [TAKEN]),
        close: async () => {
          server.closeAllConnections()
          await new Promise((resolve) => server.close(resolve))
          await pool.end()
        }
      }
    }
  }
]

export interface Count {
  /** Conflicts sent; each answered 409. */
  conflicts: number
  /** Connections those conflicts closed: how many times the backend serving the library changed. */
  closed: number
  /** Backends of the library's in pg_stat_activity at the end. */
  backends: number
  /** Statuses other than 409, if any (a failed run). */
  unexpected: string[]
}

/** `n` conflicts through `library` (keepConnections `keep`), each answered 409 over HTTP, and the connections they closed. */
export async function countClosed (db: TestDatabase, library: Library, n: number, keep: boolean, admin: pg.Pool): Promise<Count> {
  const name = `fpc-${library.name.replace(/[^a-z]/gi, '').slice(0, 30)}-${keep ? 'on' : 'off'}-${process.pid}`
  const running = await library.setUp(db, name, keep)
  const unexpected: string[] = []
  const pids: number[] = []
  try {
    for (let i = 0; i < n; i++) {
      pids.push(await running.pid())
      const status = running.app !== undefined
        ? (await running.app.inject({ method: 'POST', url: '/conflict' })).statusCode
        : (await fetch(`${running.url as string}/conflict`, { method: 'POST' }).then(async (response) => { await response.arrayBuffer(); return response.status }))
      if (status !== 409 && unexpected.length < 5) unexpected.push(`#${i}: ${status}`)
    }
    pids.push(await running.pid())
    // A backend whose connection was closed leaves pg_stat_activity a moment later (the server
    // ends it after the client's Terminate): counted once those have gone, or after 2 s.
    const count = async (): Promise<number> =>
      (await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [name])).rows[0]?.n as number
    let backends = await count()
    for (const until = performance.now() + 2000; backends > 1 && performance.now() < until; backends = await count()) await new Promise((resolve) => setTimeout(resolve, 20))
    let closed = 0
    for (let i = 1; i < pids.length; i++) if (pids[i] !== pids[i - 1]) closed++
    return { conflicts: n, closed, backends, unexpected }
  } finally {
    await running.close()
  }
}
