// Connections closed per 1 000 conflicts, through each client and ORM, with the plugin's
// keepConnections (the default) and without it: the table of docs/connections.md, printed as a
// comment and asserted. How the closed connections are counted: test/connections/libraries.ts.
// (npm test runs the same with a few conflicts each: test/connections/libraries.test.ts.)
import t from 'tap'
import pg from 'pg'
import { databaseUrl, testDatabase } from '../test/helpers/db.js'
import { countClosed, LIBRARIES, USERS_SQL, type Count } from '../test/connections/libraries.js'

const N = Number(process.env.CONNECTIONS_CONFLICTS ?? 1000)
// About two minutes: every conflict without keepConnections costs a reconnect (and Prisma's own pool both ways).
t.setTimeout(6 * 60_000)

const db = await testDatabase(t, 'load_connections')
await db.exec(USERS_SQL)
const admin = new pg.Pool({ connectionString: databaseUrl(), max: 1 })
t.teardown(() => admin.end())

const rows: string[] = []
for (const library of LIBRARIES) {
  await t.test(library.name, async (t) => {
    const started = performance.now()
    const without: Count = await countClosed(db, library, N, false, admin)
    const kept: Count = await countClosed(db, library, N, true, admin)
    const unreachable = library.name.includes('given a config')
    t.same([without.unexpected, kept.unexpected], [[], []], `all ${N} conflicts answered 409, both ways`)
    t.equal(without.closed, library.fineAlready !== undefined ? 0 : N, `keepConnections: false: ${without.closed} closed`)
    t.equal(kept.closed, unreachable ? N : 0, `keepConnections (default): ${kept.closed} closed`)
    t.ok(without.backends <= 1 && kept.backends <= 1, 'never more backends than the pool\'s one')
    rows.push(`| ${library.name} | ${library.how} | ${without.closed} | ${kept.closed} | ${library.fineAlready !== undefined ? `fine already: ${library.fineAlready}` : unreachable ? 'the plugin never sees this pool: give Prisma your pg Pool' : ''} |`)
    t.comment(`${Math.round(performance.now() - started)} ms`)
  })
}

t.comment([
  '',
  `| library | how it runs the statement | closed per ${N} conflicts, keepConnections: false (pg-pool's behaviour) | closed, keepConnections (default) | |`,
  '|---|---|--:|--:|---|',
  ...rows
].join('\n'))
