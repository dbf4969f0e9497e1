// Conflicts through each client and ORM, answered 409 by the plugin, and the PostgreSQL
// connections they closed, counted (test/connections/libraries.ts says how): with
// keepConnections (the default), none; without, one per conflict for every library that runs
// its statements through pool.query(). test-load/connections.test.ts runs the same with 1 000
// conflicts each and prints the table of docs/connections.md.
import t from 'tap'
import pg from 'pg'
import { databaseUrl, testDatabase } from '../helpers/db.js'
import { countClosed, LIBRARIES, USERS_SQL } from './libraries.js'

const N = 8

const db = await testDatabase(t, 'connections_libraries')
await db.exec(USERS_SQL)
const admin = new pg.Pool({ connectionString: databaseUrl(), max: 1 })
t.teardown(() => admin.end())

/** The one setup the plugin cannot reach: a pool Prisma makes itself from a config. */
const unreachable = (name: string): boolean => name.includes('given a config')

for (const library of LIBRARIES) {
  t.test(library.name, async (t) => {
    const without = await countClosed(db, library, N, false, admin)
    const kept = await countClosed(db, library, N, true, admin)
    t.same([without.unexpected, kept.unexpected], [[], []], `every conflict answered 409 (${N} each)`)
    t.equal(without.closed, library.fineAlready !== undefined ? 0 : N,
      library.fineAlready !== undefined ? `without keepConnections: none closed (${library.fineAlready})` : 'without keepConnections: one closed per conflict')
    t.equal(kept.closed, unreachable(library.name) ? N : 0, unreachable(library.name)
      ? 'with keepConnections: still one per conflict (the plugin is not given that pool: give Prisma yours)'
      : 'with keepConnections: none closed')
    t.ok(without.backends <= 1 && kept.backends <= 1, `at most the pool's one backend in pg_stat_activity (${without.backends}, ${kept.backends})`)
  })
}
