// Knex (`knex`) with the pg client: the driver's DatabaseError is thrown, its message prefixed
// with the SQL ("insert into "users" ("email") values ($1) - duplicate key value violates …").
import t from 'tap'
import pg from 'pg'
import knex from 'knex'
import { databaseUrl } from '../helpers/db.js'
import { checkClient, clientDatabase } from './helpers.js'

const db = await clientDatabase(t, 'knex')
const k = knex({ client: 'pg', connection: databaseUrl(), searchPath: [db.schema], pool: { min: 0, max: 2 } })
t.teardown(() => k.destroy())

await checkClient(t, db, {
  insertUser: async (email) => await k('users').insert({ email }),
  insertTeam: async (orgId, name) => await k('teams').insert({ org_id: orgId, name })
}, {
  thrown (t, error, table) {
    t.type(error, pg.DatabaseError, 'the pg DatabaseError')
    t.match((error as Error).message, new RegExp(`^insert into "${table}" .* - duplicate key value violates unique constraint`), 'its message prefixed with the SQL')
  }
})
