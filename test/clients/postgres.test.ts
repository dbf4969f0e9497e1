// postgres.js (`postgres`): the error is its PostgresError, with PostgreSQL's fields under their
// protocol names (`constraint_name`, `table_name`, `schema_name`).
import t from 'tap'
import postgres from 'postgres'
import { databaseUrl } from '../helpers/db.js'
import { checkClient, clientDatabase } from './helpers.js'

const db = await clientDatabase(t, 'postgres')
const sql = postgres(databaseUrl(), { max: 2, connection: { search_path: db.schema }, onnotice: () => {} })
t.teardown(() => sql.end({ timeout: 1 }))

await checkClient(t, db, {
  insertUser: async (email) => await sql`INSERT INTO users (email) VALUES (${email})`,
  insertTeam: async (orgId, name) => await sql`INSERT INTO teams (org_id, name) VALUES (${orgId}, ${name})`
}, {
  thrown (t, error) {
    t.type(error, postgres.PostgresError, 'a postgres.js PostgresError')
    t.match(error, { code: '23505', constraint_name: String, table_name: String, schema_name: db.schema })
  }
})
