// Kysely (`kysely`) with its PostgresDialect over a pg Pool: the driver's DatabaseError is thrown
// as it is (Kysely adds nothing around it).
import t from 'tap'
import pg from 'pg'
import { Kysely, PostgresDialect, type Generated } from 'kysely'
import { checkClient, clientDatabase } from './helpers.js'

interface Database {
  users: { id: Generated<number>, email: string }
  teams: { id: Generated<number>, org_id: number, name: string }
}

const db = await clientDatabase(t, 'kysely')
// The pool's connections work in the test file's schema (search_path).
const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool: db.newPool({ max: 2 }) }) })
t.teardown(() => kysely.destroy())

await checkClient(t, db, {
  insertUser: (email) => kysely.insertInto('users').values({ email }).execute(),
  insertTeam: (orgId, name) => kysely.insertInto('teams').values({ org_id: orgId, name }).execute()
}, {
  thrown (t, error) {
    t.type(error, pg.DatabaseError, 'the pg DatabaseError itself')
  }
})
