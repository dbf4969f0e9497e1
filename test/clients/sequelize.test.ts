// Sequelize (`sequelize`, v6, the current stable major) with pg: a UniqueConstraintError whose
// own fields are Sequelize's (`errors`, `fields`: { email: 'ada@example.com' }, `sql`), with the
// driver's DatabaseError on both `parent` and `original`.
import t from 'tap'
import pg from 'pg'
import { DataTypes, Sequelize, UniqueConstraintError } from 'sequelize'
import { databaseUrl } from '../helpers/db.js'
import { checkClient, clientDatabase } from './helpers.js'

const db = await clientDatabase(t, 'sequelize')
const sequelize = new Sequelize(databaseUrl(), { dialect: 'postgres', logging: false, pool: { min: 0, max: 2 } })
t.teardown(() => sequelize.close())

// `schema` makes Sequelize qualify the tables with the test file's schema.
const options = { schema: db.schema, timestamps: false }
const User = sequelize.define('User', { email: { type: DataTypes.TEXT, allowNull: false } }, { ...options, tableName: 'users' })
const Team = sequelize.define('Team', {
  orgId: { type: DataTypes.INTEGER, allowNull: false, field: 'org_id' },
  name: { type: DataTypes.TEXT, allowNull: false }
}, { ...options, tableName: 'teams' })

await checkClient(t, db, {
  insertUser: (email) => User.create({ email }),
  insertTeam: (orgId, name) => Team.create({ orgId, name })
}, {
  thrown (t, error, table) {
    t.type(error, UniqueConstraintError, 'a UniqueConstraintError')
    const e = error as UniqueConstraintError
    t.type(e.parent, pg.DatabaseError, 'with the pg DatabaseError on parent')
    t.equal(e.original, e.parent, 'and the same on original')
    t.notOk('code' in e, 'no code of its own')
    t.same(Object.keys(e.fields), table === 'users' ? ['email'] : ['org_id', 'name'], "Sequelize's own fields: the columns, from DETAIL")
  }
})
