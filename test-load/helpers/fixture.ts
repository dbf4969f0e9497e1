// What the load and fault tests share: an app on real HTTP whose log lines are sifted as they
// are written, a watch on the process for unhandled rejections, a forced-GC heap measure, and the
// `accounts` workload: pairs of sign-ups that share exactly one unique key, so that whichever of
// the two PostgreSQL takes first, the other is a conflict on that key, known in advance.
import Fastify, { type FastifyInstance } from 'fastify'
import { isDeepStrictEqual } from 'node:util'
import { Writable } from 'node:stream'
import { runInNewContext } from 'node:vm'
import v8 from 'node:v8'
import type pg from 'pg'
import type { Test } from 'tap'

// ---------------------------------------------------------------------------------------------
// The app and its log

/** A log line of pino's, as JSON. */
export interface LogLine {
  level: number
  msg: string
  reqId?: string
  err?: { type?: string, message?: string, code?: string, stack?: string }
  conflict?: { constraint?: string, fields?: string[] }
  [key: string]: unknown
}

export const WARN = 40
export const ERROR = 50

/**
 * What the log said, sifted as it is written so that a long run does not keep a line per request:
 * the plugin's `unique violation` lines are counted (and their request ids kept, if asked), lines
 * at `warn` and above are kept (up to a bound).
 */
export class LogSieve {
  conflictLines = 0
  /** Request ids of the `unique violation` lines, when `keepConflictIds`. */
  readonly conflictIds = new Set<string>()
  /** Lines at warn and above, the first `keep` of them. */
  readonly problems: LogLine[] = []
  problemCount = 0

  constructor (private readonly keepConflictIds: boolean, private readonly keep = 5000) {}

  readonly stream = new Writable({
    write: (chunk: Buffer, _encoding, callback) => {
      for (const text of chunk.toString('utf8').split('\n')) this.line(text)
      callback()
    }
  })

  private line (text: string): void {
    if (text === '') return
    const conflict = text.includes('"msg":"unique violation"')
    // pino writes "level" first: a cheap test spares parsing the lines nobody looks at.
    const problem = /^\{"level":[4-6]\d/.test(text)
    if (!conflict && !problem) return
    const line = JSON.parse(text) as LogLine
    if (conflict) {
      this.conflictLines++
      if (this.keepConflictIds && line.reqId !== undefined) this.conflictIds.add(line.reqId)
    }
    if (problem) {
      this.problemCount++
      if (this.problems.length < this.keep) this.problems.push(line)
    }
  }
}

/**
 * A Fastify app as a service would run it (request logging on, at `info`), that takes the
 * client's `x-request-id` as its request id, so that a log line can be matched to an answer.
 * Closed when the test ends.
 */
export function buildApp (t: Test, options: { keepConflictIds?: boolean } = {}): { app: FastifyInstance, log: LogSieve } {
  const log = new LogSieve(options.keepConflictIds ?? false)
  const app = Fastify({ logger: { level: 'info', stream: log.stream }, requestIdHeader: 'x-request-id' })
  t.teardown(() => app.close())
  return { app, log }
}

/** Starts the app on real HTTP, on a free port of 127.0.0.1; gives the port. */
export async function listen (app: FastifyInstance): Promise<number> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no TCP address')
  return address.port
}

/** Counts the TCP connections the server accepts. */
export function countConnections (app: FastifyInstance): { count: number } {
  const counter = { count: 0 }
  app.server.on('connection', () => { counter.count++ })
  return counter
}

// ---------------------------------------------------------------------------------------------
// The process

/**
 * Records unhandled rejections, uncaught exceptions and pool 'error' events while the test runs
 * (with a listener installed, Node does not die of them: the test says what happened instead).
 */
export function watchProcess (t: Test): { unhandled: string[], uncaught: string[] } {
  const seen = { unhandled: [] as string[], uncaught: [] as string[] }
  const onRejection = (reason: unknown): void => { seen.unhandled.push(describeError(reason)) }
  const onException = (error: unknown): void => { seen.uncaught.push(describeError(error)) }
  process.on('unhandledRejection', onRejection)
  process.on('uncaughtException', onException)
  t.teardown(() => {
    process.removeListener('unhandledRejection', onRejection)
    process.removeListener('uncaughtException', onException)
  })
  return seen
}

export function describeError (error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error)
}

v8.setFlagsFromString('--expose_gc')
const gc = runInNewContext('gc') as () => void

/** `heapUsed` after full collections, once the event loop has let go of what it held. */
export async function settledHeap (): Promise<number> {
  for (let i = 0; i < 4; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    gc()
  }
  return process.memoryUsage().heapUsed
}

export const MB = 1024 * 1024

// ---------------------------------------------------------------------------------------------
// The accounts workload

/**
 * Three kinds of unique key: an expression index (`lower(email)`), a single column, and a
 * composite one whose text value holds `, ` and `)=(`, PostgreSQL's own separators in DETAIL.
 */
export const ACCOUNTS_SQL = `
  CREATE TABLE accounts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL,
    handle text NOT NULL CONSTRAINT accounts_handle_key UNIQUE,
    org_id int NOT NULL,
    name text NOT NULL,
    CONSTRAINT accounts_org_id_name_key UNIQUE (org_id, name)
  );
  CREATE UNIQUE INDEX accounts_email_key ON accounts (lower(email));
`

export interface Account {
  email: string
  handle: string
  orgId: number
  name: string
}

/**
 * The routes over `accounts`, on a checked-out client as the README advises where conflicts are
 * frequent: `/accounts` with the client handled by hand, `/accounts/tx` through
 * `app.pgConflict.withTransaction`. Register the plugin first.
 */
export function accountsRoutes (app: FastifyInstance, pool: pg.Pool): void {
  const insert = 'INSERT INTO accounts (email, handle, org_id, name) VALUES ($1, $2, $3, $4) RETURNING id'
  const values = (a: Account): unknown[] => [a.email, a.handle, a.orgId, a.name]
  app.post<{ Body: Account }>('/accounts', async (request, reply) => {
    const client = await pool.connect()
    // A checked-out client has no 'error' listener of the pool's: were its connection killed now,
    // the 'error' event would crash the process. The query that meets the lost connection fails,
    // and pg-pool drops a client that is no longer queryable when it comes back.
    client.on('error', ignore)
    try {
      const { rows } = await client.query(insert, values(request.body))
      return reply.code(201).send(rows[0])
    } finally {
      client.removeListener('error', ignore)
      client.release()
    }
  })
  app.post<{ Body: Account }>('/accounts/tx', async (request, reply) => {
    const row = await app.pgConflict.withTransaction(async (client: pg.PoolClient) => (await client.query(insert, values(request.body))).rows[0])
    return reply.code(201).send(row)
  })
}

function ignore (): void {}

/** Which unique key the two requests of a pair share. */
export type PairKind = 'email' | 'handle' | 'orgName'
const KINDS: readonly PairKind[] = ['email', 'handle', 'orgName']

/** A seeded PRNG (mulberry32): the same run every time. */
export function random (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

/** What a request of the workload got. */
export const OUTCOME = { none: 0, created: 1, conflict: 2, serverError: 3, other: 4 } as const

/**
 * `pairs` pairs of sign-ups, 2 × `pairs` requests: the two of a pair share one unique key (by
 * turns the email, differing only in case, the handle, or the organisation and name) and nothing
 * else, so exactly one of them can be created and the other is a conflict naming that key. The
 * order is shuffled within a window, so that the two of a pair are sometimes in flight together
 * (the second waits on the first's uncommitted row) and sometimes far apart. Everything per
 * request lives in typed arrays made up front: checking 20 000 answers allocates nothing that
 * stays.
 */
export class AccountPairs {
  readonly total: number
  /** The slot (2 × pair + member) of the request with each number. */
  private readonly order: Uint32Array
  /** What each request (by number) got. */
  readonly outcomes: Uint8Array
  readonly counts = { created: 0, conflict: 0, serverError: 0, other: 0 }
  /** The first few answers that were not what they had to be. */
  readonly wrong: string[] = []
  wrongCount = 0

  constructor (readonly prefix: string, readonly pairs: number, seed = 1, window = 300) {
    this.total = pairs * 2
    this.order = new Uint32Array(this.total)
    for (let i = 0; i < this.total; i++) this.order[i] = i
    const next = random(seed)
    for (let i = 0; i < this.total - 1; i++) {
      const j = i + Math.floor(next() * Math.min(window, this.total - i))
      const swap = this.order[i] as number
      this.order[i] = this.order[j] as number
      this.order[j] = swap
    }
    this.outcomes = new Uint8Array(this.total)
  }

  /** The pair and member (0 or 1) of request `i`. */
  slot (i: number): { pair: number, member: number } {
    const slot = this.order[i] as number
    return { pair: slot >> 1, member: slot & 1 }
  }

  kind (pair: number): PairKind {
    return KINDS[pair % KINDS.length] as PairKind
  }

  /** The body of request `i`. */
  account (i: number): Account {
    const { pair, member } = this.slot(i)
    const p = this.prefix
    const kind = this.kind(pair)
    return {
      // Emails differ only in case: the key is lower(email).
      email: kind === 'email' ? (member === 0 ? `${p}-${pair}@example.com` : `${p.toUpperCase()}-${pair}@EXAMPLE.com`) : `${p}-${pair}-${member}@example.com`,
      handle: kind === 'handle' ? `${p}-h${pair}` : `${p}-h${pair}-${member}`,
      orgId: kind === 'orgName' ? 1 + (pair % 97) : 1000 + member,
      name: kind === 'orgName' ? `${p} team, ${pair} )=( "x"` : `${p} team, ${pair}-${member} )=( "x"`
    }
  }

  /**
   * The whole 409 body request `i` must get if it loses to the other of its pair (the plugin
   * registered with `snakeToCamel` and everything exposed). An expression key's value is not the
   * client's, so the email pair has no `values`.
   */
  expectedConflict (i: number): object {
    const { pair } = this.slot(i)
    const account = this.account(i)
    const base = { statusCode: 409, code: 'PG_UNIQUE_VIOLATION', error: 'Conflict', table: 'accounts' }
    switch (this.kind(pair)) {
      case 'email':
        return { ...base, message: 'A record with this email already exists.', fields: ['email'], constraint: 'accounts_email_key' }
      case 'handle':
        return { ...base, message: 'A record with this handle already exists.', fields: ['handle'], constraint: 'accounts_handle_key', values: { handle: account.handle } }
      case 'orgName':
        return {
          ...base,
          message: 'A record with this orgId and name already exists.',
          fields: ['orgId', 'name'],
          constraint: 'accounts_org_id_name_key',
          values: { orgId: String(account.orgId), name: account.name }
        }
    }
  }

  /** Checks and records the answer to request `i`; the route is `/accounts` or `/accounts/tx`. */
  record (i: number, status: number, body: unknown): void {
    if (status === 201) {
      this.outcomes[i] = OUTCOME.created
      this.counts.created++
      if (typeof body !== 'object' || body === null || !('id' in body)) this.fail(i, `201 without an id: ${JSON.stringify(body)}`)
    } else if (status === 409) {
      this.outcomes[i] = OUTCOME.conflict
      this.counts.conflict++
      const expected = this.expectedConflict(i)
      if (!isDeepStrictEqual(body, expected)) this.fail(i, `409 body ${JSON.stringify(body)}, expected ${JSON.stringify(expected)}`)
    } else if (status >= 500) {
      this.outcomes[i] = OUTCOME.serverError
      this.counts.serverError++
    } else {
      this.outcomes[i] = OUTCOME.other
      this.counts.other++
      this.fail(i, `status ${status}: ${JSON.stringify(body)}`)
    }
  }

  private fail (i: number, what: string): void {
    this.wrongCount++
    if (this.wrong.length < 10) this.wrong.push(`request #${i} (${this.kind(this.slot(i).pair)} pair ${this.slot(i).pair}): ${what}`)
  }

  /** The request numbers of each pair's two members. */
  members (): Uint32Array {
    const members = new Uint32Array(this.total)
    for (let i = 0; i < this.total; i++) members[this.order[i] as number] = i
    return members
  }

  /** Pairs whose two answers are not one 201 and one 409 (the first few, described). */
  unevenPairs (): { count: number, samples: string[] } {
    const members = this.members()
    let count = 0
    const samples: string[] = []
    for (let pair = 0; pair < this.pairs; pair++) {
      const a = this.outcomes[members[2 * pair] as number]
      const b = this.outcomes[members[2 * pair + 1] as number]
      const even = (a === OUTCOME.created && b === OUTCOME.conflict) || (a === OUTCOME.conflict && b === OUTCOME.created)
      if (!even) {
        count++
        if (samples.length < 10) samples.push(`${this.kind(pair)} pair ${pair}: outcomes ${String(a)} and ${String(b)}`)
      }
    }
    return { count, samples }
  }
}

/** Rows of `accounts` whose handle starts with the workload's prefix. */
export async function accountRows (pool: pg.Pool, prefix: string): Promise<number> {
  const { rows } = await pool.query('SELECT count(*)::int AS n FROM accounts WHERE handle LIKE $1', [`${prefix}-h%`])
  return (rows[0] as { n: number }).n
}
