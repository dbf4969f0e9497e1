// Migrations while requests flow: a unique index on an expression added with CREATE INDEX
// CONCURRENTLY, a partitioned table created, a partition attached. Each is read from the catalog
// once, at the first conflict that names it (never per request), and the conflicts are described
// right from the first one on: the new expression index by its field, and a partition's index as
// its partitioned table's, which only the catalog can tell (DETAIL and the error name the
// partition).
import t from 'tap'
import pg from 'pg'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { isDeepStrictEqual } from 'node:util'
import fastifyPgConflict, { snakeToCamel } from '../src/index.js'
import { databaseUrl, testDatabase } from '../test/helpers/db.js'
import { runLoad, type LoadRequest } from './helpers/http-load.js'
import { buildApp, listen, random, watchProcess } from './helpers/fixture.js'

const db = await testDatabase(t, 'load_schema')
await db.exec('CREATE TABLE signups (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL CONSTRAINT signups_email_key UNIQUE, handle text NOT NULL)')

const admin = new pg.Client({ connectionString: databaseUrl(), options: `-c search_path=${db.schema}` })
await admin.connect()
t.teardown(() => admin.end())

/** The migrations, in order; each starts once the one before is done and `AFTER` more requests went out. */
const MIGRATIONS = [
  { name: 'a unique index on lower(handle), built concurrently', sql: 'CREATE UNIQUE INDEX CONCURRENTLY signups_handle_key ON signups (lower(handle))' },
  {
    name: 'a partitioned table visits with three partitions',
    sql: `CREATE TABLE visits (site int NOT NULL, day date NOT NULL, CONSTRAINT visits_site_day_key UNIQUE (site, day)) PARTITION BY LIST (site);
          CREATE TABLE visits_1 PARTITION OF visits FOR VALUES IN (1);
          CREATE TABLE visits_2 PARTITION OF visits FOR VALUES IN (2);
          CREATE TABLE visits_3 PARTITION OF visits FOR VALUES IN (3)`
  },
  { name: 'a fourth partition', sql: 'CREATE TABLE visits_4 PARTITION OF visits FOR VALUES IN (4)' }
] as const
const AFTER = 1500
/** Pairs of each kind that must go out after the migration that allows them, before the run may end. */
const QUOTA = 600
const MAX_REQUESTS = 24_000

type Kind = 'email' | 'handle' | 'visit' | 'visit4'
interface Pair { kind: Kind, n: number, site: number, day: string }
interface Sent { pair: Pair, member: 0 | 1 }

/**
 * The workload, decided as it goes: pairs of requests sharing one unique key, their second
 * members sent a little later; a kind of pair only once the migration it needs is done.
 * Before the lower(handle) index exists every handle is unique, so that it can be built.
 */
class Workload {
  readonly sent: Sent[] = []
  readonly pairs: Pair[] = []
  private readonly pending: Sent[] = []
  private readonly next = random(42)
  /** Migrations done (0 … 3), and the request number each was started and finished at. */
  done = 0
  readonly startedAt: number[] = []
  readonly finishedAt: number[] = []
  readonly readsBefore: number[] = []
  running: Promise<void> | undefined
  readonly perKind: Record<Kind, number> = { email: 0, handle: 0, visit: 0, visit4: 0 }

  constructor (private readonly reads: () => number, private readonly onError: (error: unknown) => void) {}

  request (i: number): LoadRequest | undefined {
    this.maybeMigrate(i)
    const quotaMet = this.done === MIGRATIONS.length && this.perKind.visit4 >= QUOTA && this.perKind.handle >= QUOTA && this.perKind.visit >= QUOTA
    const room = this.sent.length + this.pending.length < MAX_REQUESTS
    let sent: Sent | undefined
    if (this.pending.length > 0 && (quotaMet || !room || this.next() < 0.5)) {
      // One of the waiting second members, not always the oldest: some go out next to their first.
      sent = this.pending.splice(Math.floor(this.next() * Math.min(this.pending.length, 200)), 1)[0] as Sent
    } else if (!quotaMet && room) {
      const pair = this.newPair()
      this.pairs.push(pair)
      this.perKind[pair.kind]++
      sent = { pair, member: 0 }
      this.pending.push({ pair, member: 1 })
    }
    if (sent === undefined) return undefined
    this.sent.push(sent)
    return this.body(sent)
  }

  private maybeMigrate (i: number): void {
    if (this.running !== undefined || this.done === MIGRATIONS.length) return
    if (i < (this.finishedAt[this.done - 1] ?? 0) + AFTER) return
    const migration = MIGRATIONS[this.done] as (typeof MIGRATIONS)[number]
    this.startedAt.push(i)
    this.readsBefore.push(this.reads())
    this.running = admin.query(migration.sql).then(() => {
      this.done++
      this.finishedAt.push(this.sent.length)
      this.running = undefined
    }, this.onError)
  }

  private newPair (): Pair {
    const kinds: Kind[] = ['email', 'email', ...(this.done >= 1 ? ['handle' as const] : []), ...(this.done >= 2 ? ['visit' as const] : []), ...(this.done >= 3 ? ['visit4' as const] : [])]
    const kind = kinds[Math.floor(this.next() * kinds.length)] as Kind
    const n = this.pairs.length
    const day = new Date(Date.UTC(2000, 0, 1) + n * 86_400_000).toISOString().slice(0, 10) // a day of its own per pair
    return { kind, n, site: kind === 'visit4' ? 4 : 1 + (n % 3), day }
  }

  private body ({ pair, member }: Sent): LoadRequest {
    const { kind, n } = pair
    if (kind === 'visit' || kind === 'visit4') return { url: '/visits', body: { site: pair.site, day: pair.day } }
    return {
      url: '/signups',
      body: {
        email: kind === 'email' ? `s${n}@example.com` : `s${n}-${member}@example.com`,
        // Differing in case only: the same key for lower(handle).
        handle: kind === 'handle' ? (member === 0 ? `Handle-${n}` : `hANDLE-${n}`) : `handle-${n}-${member}`
      }
    }
  }

  /** The 409 body request `i` must get. */
  expected (i: number): object {
    const { pair } = this.sent[i] as Sent
    const base = { statusCode: 409, code: 'PG_UNIQUE_VIOLATION', error: 'Conflict' }
    switch (pair.kind) {
      case 'email':
        return { ...base, message: 'A record with this email already exists.', fields: ['email'], constraint: 'signups_email_key', table: 'signups', values: { email: `s${pair.n}@example.com` } }
      case 'handle': // an expression's value is not the client's: no values
        return { ...base, message: 'A record with this handle already exists.', fields: ['handle'], constraint: 'signups_handle_key', table: 'signups' }
      default:
        return { ...base, message: 'A record with this site and day already exists.', fields: ['site', 'day'], constraint: 'visits_site_day_key', table: 'visits', values: { site: String(pair.site), day: pair.day } }
    }
  }
}

t.test('migrations during load: each read from the catalog once, and every conflict on them described right from the first', async (t) => {
  const watched = watchProcess(t)
  const pool = db.newPool({ max: 10, application_name: `fpc-load-schema-${process.pid}` })
  pool.on('error', () => {})
  let reads = 0
  const query = pool.query.bind(pool) as (text: string, values?: unknown[]) => Promise<pg.QueryResult>
  Object.assign(pool, {
    query: async (text: string, values?: unknown[]) => {
      if (text.includes('indisunique')) reads++ // the unique indexes query: a catalog read, not a version query
      return await query(text, values)
    }
  })
  const { app, log } = buildApp(t)
  // catalog.timeout above the default 2 s: a read joins the queue of a saturated pool, and a CI
  // machine may be slow; past the timeout the plugin would answer from DETAIL alone, by design.
  await app.register(fastifyPgConflict, { pool, catalog: { schemas: [db.schema], timeout: 10_000 }, fieldName: snakeToCamel, expose: { values: true, constraint: true } })
  // On a checked-out client (no connection is killed here, so no 'error' listener is needed).
  const insert = (sql: string, values: (body: Record<string, unknown>) => unknown[]) =>
    async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
      const client = await pool.connect()
      try {
        await client.query(sql, values(request.body as Record<string, unknown>))
        return await reply.code(201).send({})
      } finally {
        client.release()
      }
    }
  app.post('/signups', insert('INSERT INTO signups (email, handle) VALUES ($1, $2)', (b) => [b.email, b.handle]))
  app.post('/visits', insert('INSERT INTO visits (site, day) VALUES ($1, $2)', (b) => [b.site, b.day]))
  const port = await listen(app)
  t.equal(reads, 1, 'the catalog is read at start-up')

  const migrationErrors: unknown[] = []
  const work = new Workload(() => reads, (error) => { migrationErrors.push(error) })
  const statuses = new Int16Array(MAX_REQUESTS)
  const wrong: string[] = []
  let wrongCount = 0
  const outcome = await runLoad({
    port,
    connections: 100,
    total: MAX_REQUESTS,
    deadlineMs: 90_000,
    idPrefix: 'schema-',
    request: (i) => work.request(i),
    onResponse: (i, _request, response) => {
      statuses[i] = response.status
      if (response.status === 409) {
        const expected = work.expected(i)
        if (!isDeepStrictEqual(response.body, expected)) {
          wrongCount++
          if (wrong.length < 10) wrong.push(`#${i} (${(work.sent[i] as Sent).pair.kind}): ${JSON.stringify(response.body)}, expected ${JSON.stringify(expected)}`)
        }
      }
    }
  })
  await work.running
  const total = work.sent.length

  t.same(migrationErrors, [], 'the migrations ran')
  t.equal(work.done, MIGRATIONS.length, `all ${MIGRATIONS.length} migrations done during the load`)
  t.ok(outcome.finished, `the load ended by itself: ${total} requests, all answered, in ${Math.round(outcome.elapsedMs)} ms`)
  t.equal(outcome.clientErrors, 0, 'every request got an answer', { samples: outcome.clientErrorSamples })
  t.ok(work.perKind.handle >= QUOTA && work.perKind.visit >= QUOTA && work.perKind.visit4 >= QUOTA,
    `pairs on each new key, after its migration: ${JSON.stringify(work.perKind)}`)
  t.comment(`migrations started at requests ${work.startedAt.join(', ')} and done by ${work.finishedAt.join(', ')}, of ${total}`)

  const count = (pick: (status: number) => boolean): number => statuses.subarray(0, total).filter(pick).length
  t.equal(count((s) => s >= 500), 0, 'no 5xx')
  t.equal(count((s) => s !== 201 && s !== 409), 0, 'no status but 201 and 409')
  t.equal(wrongCount, 0, 'every 409 names its key: fields, constraint (the partitioned table\'s, for a partition), table, values', { samples: wrong })
  // Each pair: one 201, one 409.
  const outcomes = new Map<Pair, number[]>()
  work.sent.forEach(({ pair }, i) => { outcomes.set(pair, [...(outcomes.get(pair) ?? []), statuses[i] as number]) })
  const uneven = [...outcomes].filter(([, s]) => s.slice().sort().join() !== '201,409').map(([pair, s]) => `${pair.kind} ${pair.n}: ${s.join()}`)
  t.same(uneven.slice(0, 10), [], 'in every pair, one request created the row and the other got the 409')
  const rows = async (table: string): Promise<number> => ((await db.pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0] as { n: number }).n
  const created = (table: string): number => work.sent.filter(({ pair }, i) => statuses[i] === 201 && (table === 'visits') === pair.kind.startsWith('visit')).length
  t.equal(await rows('signups'), created('signups'), 'signups: rows == 2xx')
  t.equal(await rows('visits'), created('visits'), 'visits: rows == 2xx')
  t.equal(log.conflictLines, count((s) => s === 409), "one 'unique violation' log line per 409")

  // Catalog reads: one at start-up, then one per migration, at its first conflict.
  t.equal(work.readsBefore[0], 1, `no catalog read during the ${work.startedAt[0]} requests before the first migration, despite their conflicts`)
  t.equal(reads, 1 + MIGRATIONS.length, `one catalog read per migration (${reads} in all): none per request`)
  t.equal(log.problemCount, 0, 'nothing logged at warn or above', { first: log.problems.slice(0, 3) })
  t.same(watched.unhandled, [], 'no unhandled rejection')
  t.same(watched.uncaught, [], 'no uncaught exception')
})
