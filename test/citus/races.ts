// Races and transactions on Citus: route retries and withTransaction on conflicts whose errors
// name a shard's constraint, savepoints (and where rolling back to one does not help), and
// Citus's distributed deadlock detection: what it raises and what the plugin makes of it.
import type { Test } from 'tap'
import type pg from 'pg'
import fastifyPgConflict from '../../src/index.js'
import { ConflictCounters } from '../../src/races/counters.js'
import { withTransaction } from '../../src/races/transaction.js'
import { buildApp } from '../helpers/app.js'
import { citusSchema } from './cluster.js'

/** A promise with its resolve, for making two sessions meet. */
function signal (): { promise: Promise<void>, resolve: () => void } {
  let resolve = (): void => {}
  const promise = new Promise<void>((r) => { resolve = r })
  return { promise, resolve }
}

/**
 * Two transactions that each update a row on one worker, wait for each other, then update the
 * other's row (on the other worker): a deadlock no single worker sees, which Citus's distributed
 * deadlock detection (on the coordinator) breaks by cancelling one. Each side's first attempt waits at the meeting point, its later attempts do not.
 */
function crossing (here: number, there: number): { sides: Array<(client: pg.ClientBase) => Promise<string>>, attempts: number[] } {
  const attempts = [0, 0]
  const met = [signal(), signal()]
  const side = (i: 0 | 1, mine: number, theirs: number) => async (client: pg.ClientBase): Promise<string> => {
    attempts[i] = (attempts[i] as number) + 1
    await client.query('UPDATE accounts SET age = age + 1 WHERE org_id = $1 AND id = 1', [mine])
    if (attempts[i] === 1) {
      met[i]?.resolve()
      await met[1 - i]?.promise
    }
    await client.query('UPDATE accounts SET age = age + 1 WHERE org_id = $1 AND id = 1', [theirs])
    return `side ${i}`
  }
  return { sides: [side(0, here, there), side(1, there, here)], attempts }
}

/** Longer than Citus takes to find a distributed deadlock, for withTransaction's maxTime. */
const DETECTION = 10_000

export async function races (t: Test, url: string): Promise<void> {
  const db = await citusSchema(t, url, 'races')
  await db.exec('CREATE TABLE orgs (id int PRIMARY KEY, name text NOT NULL)')
  await db.reference('orgs')
  await db.exec(`CREATE TABLE accounts (org_id int NOT NULL REFERENCES orgs, id bigint, email text NOT NULL, age int,
    PRIMARY KEY (org_id, id), CONSTRAINT accounts_org_email_key UNIQUE (org_id, email))`)
  await db.distribute('accounts', 'org_id')
  const { here, there } = await db.spread('accounts')
  await db.exec(`INSERT INTO orgs VALUES (${here}, 'Here'), (${there}, 'There');
    INSERT INTO accounts VALUES (${here}, 1, 'ada@example.com', 36), (${there}, 1, 'bob@example.com', 41)`)
  const other = db.newPool({ max: 2 })

  t.test('a route retry on a check-then-insert race: the shard\'s constraint is retried under the distributed table\'s name', async (t) => {
    const { app } = buildApp(t)
    await app.register(fastifyPgConflict, { pool: db.pool, catalog: { schemas: [db.schema] } })
    let attempt = 0
    app.post('/accounts', { config: { conflict: { retry: { constraints: ['accounts_org_email_key'] } } } }, async (request, reply) => {
      const { email } = request.body as { email: string }
      attempt++
      const found = await db.pool.query('SELECT id FROM accounts WHERE org_id = $1 AND email = $2', [here, email])
      if (found.rows.length > 0) return { id: found.rows[0].id, attempt }
      // Another request inserts the same e-mail between this one's check and its insert.
      if (attempt === 1) await other.query('INSERT INTO accounts VALUES ($1, 20, $2, 1)', [here, email])
      await db.pool.query('INSERT INTO accounts VALUES ($1, 21, $2, 1)', [here, email])
      return reply.code(201).send({ id: 21 })
    })
    const response = await app.inject({ method: 'POST', url: '/accounts', payload: { email: 'race@example.com' } })
    t.equal(response.statusCode, 200)
    t.same(response.json(), { id: '20', attempt: 2 }, 'the second attempt found the row the other request made')
    t.same(app.pgConflict.counters(), { accounts_org_email_key: { retried: 1, recovered: 1, gaveUp: 0 } }, 'counted under the distributed table\'s constraint')
    await db.exec(`DELETE FROM accounts WHERE email = 'race@example.com'`)
  })

  t.test('a route retry on a unique violation Citus relays through COPY (XX000)', async (t) => {
    const { app } = buildApp(t)
    await app.register(fastifyPgConflict, { pool: db.pool, catalog: { schemas: [db.schema] } })
    let attempt = 0
    app.post('/copy', { config: { conflict: { retry: { constraints: ['accounts_org_email_key'] } } } }, async () => {
      attempt++
      // INSERT … SELECT with a LIMIT: Citus pulls the rows to the coordinator and copies them into the shards.
      const email = attempt === 1 ? 'ada@example.com' : 'copied@example.com'
      await db.pool.query('INSERT INTO accounts SELECT org_id, 30, $1, age FROM accounts WHERE id = 1 ORDER BY org_id LIMIT 1', [email])
      return { attempt }
    })
    const response = await app.inject({ method: 'POST', url: '/copy' })
    t.same(response.json(), { attempt: 2 }, 'retried, and the second attempt succeeded')
    t.same(app.pgConflict.counters(), { accounts_org_email_key: { retried: 1, recovered: 1, gaveUp: 0 } })
    await db.exec('DELETE FROM accounts WHERE id = 30')
  })

  t.test('withTransaction on a pool: retryOn names the distributed table\'s constraint', async (t) => {
    const counters = new ConflictCounters()
    let attempts = 0
    const id = await withTransaction(db.pool, async (client) => {
      attempts++
      const found = await client.query('SELECT id FROM accounts WHERE org_id = $1 AND email = $2', [there, 'tx@example.com'])
      if (found.rows.length > 0) return found.rows[0].id as string
      if (attempts === 1) await other.query('INSERT INTO accounts VALUES ($1, 40, $2, 1)', [there, 'tx@example.com'])
      await client.query('INSERT INTO accounts VALUES ($1, 41, $2, 1)', [there, 'tx@example.com'])
      return '41'
    }, { retryOn: ['accounts_org_email_key'], counters })
    t.equal(id, '40', 'the second attempt found the other transaction\'s row')
    t.same(counters.snapshot(), { accounts_org_email_key: { retried: 1, recovered: 1, gaveUp: 0 } })
    await db.exec('DELETE FROM accounts WHERE id = 40')
  })

  t.test('withTransaction at a savepoint, in a transaction that wrote to both workers: the retry keeps the earlier work', async (t) => {
    const client = await db.pool.connect()
    t.teardown(() => { client.release() })
    await client.query('BEGIN')
    await client.query('INSERT INTO accounts VALUES ($1, 50, $2, 1), ($3, 50, $2, 1)', [here, 'outer@example.com', there])
    let attempts = 0
    await withTransaction(client, async (c) => {
      attempts++
      // The first attempt collides on the other worker; the retry, back at the savepoint, takes another e-mail.
      await c.query('INSERT INTO accounts VALUES ($1, 51, $2, 1)', [there, attempts === 1 ? 'bob@example.com' : 'inner@example.com'])
    }, { retryOn: ['accounts_org_email_key'] })
    await client.query('COMMIT')
    t.equal(attempts, 2)
    const { rows } = await db.pool.query('SELECT org_id, id, email FROM accounts WHERE id IN (50, 51) ORDER BY id, org_id')
    t.same(rows.map((r) => r.email).sort(), ['inner@example.com', 'outer@example.com', 'outer@example.com'], 'both workers\' earlier rows and the retried one, committed together')
    await db.exec('DELETE FROM accounts WHERE id IN (50, 51)')
  })

  t.test('a savepoint\'s limit: after a parallel multi-shard write, rolling back to it does not let the transaction write a reference table', async (t) => {
    const client = await db.pool.connect()
    t.teardown(async () => {
      await client.query('ROLLBACK')
      client.release()
    })
    await client.query('BEGIN')
    const error = await withTransaction(client, async (c) => {
      await c.query('UPDATE accounts SET age = age + 1') // in parallel over the shards
      await c.query("UPDATE orgs SET name = 'Renamed' WHERE id = $1", [here])
    }).then(() => undefined, (e: unknown) => e as Record<string, unknown>)
    t.match(error, { code: 'XX000', routine: 'CheckConflictingRelationAccesses', hint: /citus\.multi_shard_modify_mode TO 'sequential'/ },
      'not an integrity error: thrown as it is (a 500 in a route)')
    const again = await client.query("UPDATE orgs SET name = 'Renamed' WHERE id = $1", [here]).then(() => undefined, (e: unknown) => e as Record<string, unknown>)
    t.match(again, { routine: 'CheckConflictingRelationAccesses' }, 'back at the savepoint, the restriction stays for the whole transaction')
  })

  t.test('with citus.multi_shard_modify_mode sequential from the start, the same transaction writes both', async (t) => {
    await withTransaction(db.pool, async (c) => {
      await c.query("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'")
      await c.query('UPDATE accounts SET age = age + 1')
      await c.query("UPDATE orgs SET name = 'Renamed' WHERE id = $1", [here])
    })
    const { rows } = await db.pool.query('SELECT name FROM orgs WHERE id = $1', [here])
    t.equal(rows[0].name, 'Renamed')
  })

  t.test('a distributed deadlock: Citus cancels one transaction with 40P01; withTransaction on a pool runs it again', async (t) => {
    const { sides, attempts } = crossing(here, there)
    const counters = new ConflictCounters()
    const started = performance.now()
    // maxTime above Citus's detection interval (citus.distributed_deadlock_detection_factor × deadlock_timeout: 2 s by default).
    const results = await Promise.all(sides.map(async (side) => await withTransaction(db.pool, side, { counters, maxTime: DETECTION })))
    t.same(results, ['side 0', 'side 1'], 'both succeed in the end')
    t.same(attempts.slice().sort(), [1, 2], 'one of them twice: the one Citus cancelled')
    t.same(counters.snapshot(), { '(none)': { retried: 1, recovered: 1, gaveUp: 0 } })
    t.ok(performance.now() - started < 20_000, 'found within Citus\'s detection interval (about a second here)')
  })

  t.test('a distributed deadlock in a route: 40P01, answered 503 with Retry-After', async (t) => {
    const { app } = buildApp(t)
    await app.register(fastifyPgConflict, { pool: db.pool, catalog: { schemas: [db.schema] } })
    const { sides } = crossing(here, there)
    let cancelled: Record<string, unknown> | undefined
    app.post('/:side', async (request) => {
      const client = await db.pool.connect()
      try {
        await client.query('BEGIN')
        const result = await (sides[Number((request.params as { side: string }).side)] as (c: pg.ClientBase) => Promise<string>)(client)
        await client.query('COMMIT')
        return { result }
      } catch (error) {
        cancelled = error as Record<string, unknown>
        throw error
      } finally {
        await client.query('ROLLBACK').catch(() => {})
        client.release()
      }
    })
    const responses = await Promise.all([0, 1].map(async (side) => await app.inject({ method: 'POST', url: `/${side}` })))
    const statuses = responses.map((r) => r.statusCode).sort()
    t.same(statuses, [200, 503], 'one committed, the other was cancelled')
    t.match(cancelled, { code: '40P01', message: 'canceling the transaction since it was involved in a distributed deadlock' }, 'Citus\'s own message, under PostgreSQL\'s deadlock code')
    const failed = responses.find((r) => r.statusCode === 503)
    t.equal(failed?.headers['retry-after'], '1')
    t.same(failed?.json(), {
      statusCode: 503, code: 'PG_SERIALIZATION_FAILURE', error: 'Service Unavailable',
      message: 'The request conflicted with another one running at the same time; try again.', fields: []
    })
  })

  t.test('a distributed deadlock inside a savepoint goes to the transaction\'s owner, whose retry wins', async (t) => {
    const { sides, attempts } = crossing(here, there)
    const nestedErrors: string[] = []
    const results = await Promise.all(sides.map(async (side) => await withTransaction(db.pool, async (client) => {
      return await withTransaction(client, side).catch((error: unknown) => {
        nestedErrors.push((error as { code: string }).code)
        throw error
      })
    }, { maxTime: DETECTION })))
    t.same(results, ['side 0', 'side 1'])
    t.same(nestedErrors, ['40P01'], 'the savepoint level did not retry it: its locks predate the savepoint')
    t.same(attempts.slice().sort(), [1, 2], 'the whole transaction ran again')
  })
}
