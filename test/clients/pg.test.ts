// node-postgres (`pg`): the error is pg's DatabaseError itself, with PostgreSQL's fields on top.
import t from 'tap'
import pg from 'pg'
import { checkClient, clientDatabase } from './helpers.js'

const db = await clientDatabase(t, 'pg')
const pool = db.newPool({ max: 2 }) // the application's own pool (ended by the db helper)

await checkClient(t, db, {
  insertUser: (email) => pool.query('INSERT INTO users (email) VALUES ($1)', [email]),
  insertTeam: (orgId, name) => pool.query('INSERT INTO teams (org_id, name) VALUES ($1, $2)', [orgId, name])
}, {
  thrown (t, error) {
    t.type(error, pg.DatabaseError, 'a pg.DatabaseError')
  }
})
