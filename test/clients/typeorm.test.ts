// TypeORM (`typeorm`) with its postgres driver: a QueryFailedError that keeps the driver's
// DatabaseError on `driverError` and copies its fields (code, detail, constraint, …) on top.
import t from 'tap'
import pg from 'pg'
import { DataSource, EntitySchema, QueryFailedError } from 'typeorm'
import { databaseUrl } from '../helpers/db.js'
import { checkClient, clientDatabase } from './helpers.js'

interface User { id: number, email: string }
interface Team { id: number, orgId: number, name: string }

const db = await clientDatabase(t, 'typeorm')

// Entity schemas rather than decorators: the project's TypeScript has no experimentalDecorators.
const UserEntity = new EntitySchema<User>({
  name: 'User',
  tableName: 'users',
  columns: { id: { type: Number, primary: true, generated: true }, email: { type: String } }
})
const TeamEntity = new EntitySchema<Team>({
  name: 'Team',
  tableName: 'teams',
  columns: { id: { type: Number, primary: true, generated: true }, orgId: { type: Number, name: 'org_id' }, name: { type: String } }
})

// `schema` makes TypeORM qualify every table with the test file's schema.
const dataSource = new DataSource({ type: 'postgres', url: databaseUrl(), schema: db.schema, entities: [UserEntity, TeamEntity], poolSize: 2 })
await dataSource.initialize()
t.teardown(() => dataSource.destroy())

await checkClient(t, db, {
  insertUser: (email) => dataSource.getRepository(UserEntity).insert({ email }),
  insertTeam: (orgId, name) => dataSource.getRepository(TeamEntity).save({ orgId, name })
}, {
  thrown (t, error) {
    t.type(error, QueryFailedError, 'a QueryFailedError')
    const driverError = (error as QueryFailedError).driverError as unknown
    t.type(driverError, pg.DatabaseError, 'with the pg DatabaseError on driverError')
    t.equal((error as { code?: unknown }).code, '23505', 'and a copy of its code on top')
  }
})
