// MikroORM (`@mikro-orm/postgresql`): a UniqueConstraintViolationException (a DriverException)
// carrying a copy of the driver's fields (code, detail, constraint, table, schema, …) itself.
import t from 'tap'
import { EntitySchema, MikroORM, UniqueConstraintViolationException } from '@mikro-orm/postgresql'
import { databaseUrl } from '../helpers/db.js'
import { checkClient, clientDatabase } from './helpers.js'

interface User { id: number, email: string }
interface Team { id: number, orgId: number, name: string }

const db = await clientDatabase(t, 'mikro_orm')

// Entity schemas rather than decorators: the project's TypeScript has no experimentalDecorators.
const UserEntity = new EntitySchema<User>({
  name: 'User',
  tableName: 'users',
  properties: { id: { type: 'number', primary: true }, email: { type: 'string' } }
})
const TeamEntity = new EntitySchema<Team>({
  name: 'Team',
  tableName: 'teams',
  properties: { id: { type: 'number', primary: true }, orgId: { type: 'number', fieldName: 'org_id' }, name: { type: 'string' } }
})

// `schema` makes MikroORM qualify every table with the test file's schema.
const orm = await MikroORM.init({ clientUrl: databaseUrl(), schema: db.schema, entities: [UserEntity, TeamEntity], pool: { min: 0, max: 2 } })
t.teardown(() => orm.close(true))

// Each insert in an entity manager of its own, flushed as an application's unit of work would be.
await checkClient(t, db, {
  insertUser: async (email) => {
    const em = orm.em.fork()
    em.create(UserEntity, { email })
    await em.flush()
  },
  insertTeam: async (orgId, name) => {
    const em = orm.em.fork()
    em.create(TeamEntity, { orgId, name })
    await em.flush()
  }
}, {
  thrown (t, error) {
    t.type(error, UniqueConstraintViolationException, 'a UniqueConstraintViolationException')
    t.equal((error as { code?: unknown }).code, '23505', 'with the code on top')
  }
})
