// Drizzle ORM (`drizzle-orm`), over both of its PostgreSQL drivers: since 0.44 it wraps the
// driver's error in a DrizzleQueryError ("Failed query: …", `query`, `params`) and keeps the
// driver's own error (pg's DatabaseError, postgres.js's PostgresError) on `cause`.
import t from 'tap'
import pg from 'pg'
import postgres from 'postgres'
import { DrizzleQueryError } from 'drizzle-orm'
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres'
import { drizzle as drizzlePostgresJs } from 'drizzle-orm/postgres-js'
import { integer, pgTable, serial, text } from 'drizzle-orm/pg-core'
import { databaseUrl } from '../helpers/db.js'
import { checkClient, clientDatabase, type ClientInserts } from './helpers.js'

const db = await clientDatabase(t, 'drizzle')

// The tables are found through the connection's search_path (the test file's schema).
const users = pgTable('users', { id: serial('id').primaryKey(), email: text('email').notNull() })
const teams = pgTable('teams', { id: serial('id').primaryKey(), orgId: integer('org_id').notNull(), name: text('name').notNull() })

function inserts (orm: ReturnType<typeof drizzlePg> | ReturnType<typeof drizzlePostgresJs>): ClientInserts {
  return {
    insertUser: async (email) => await orm.insert(users).values({ email }),
    insertTeam: async (orgId, name) => await orm.insert(teams).values({ orgId, name })
  }
}

await t.test('drizzle-orm/node-postgres', async (t) => {
  const orm = drizzlePg({ client: db.newPool({ max: 2 }) }) // ended by the db helper
  await checkClient(t, db, inserts(orm), {
    thrown (t, error, table) {
      t.type(error, DrizzleQueryError, 'a DrizzleQueryError')
      t.match((error as DrizzleQueryError).message, `Failed query: insert into "${table}"`)
      t.type((error as DrizzleQueryError).cause, pg.DatabaseError, 'with the pg DatabaseError on cause')
      t.notOk('code' in (error as object), 'no code of its own')
    }
  })
})

await t.test('drizzle-orm/postgres-js', async (t) => {
  const sql = postgres(databaseUrl(), { max: 2, connection: { search_path: db.schema }, onnotice: () => {} })
  t.teardown(() => sql.end({ timeout: 1 }))
  await checkClient(t, db, inserts(drizzlePostgresJs({ client: sql })), {
    thrown (t, error) {
      t.type(error, DrizzleQueryError, 'a DrizzleQueryError')
      t.type((error as DrizzleQueryError).cause, postgres.PostgresError, 'with the PostgresError on cause')
    }
  })
})
