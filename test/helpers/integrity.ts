// A schema in which PostgreSQL raises every integrity error the plugin answers, for real, and the
// routes that raise them: shared by test/core/kinds.test.ts and test/core/respond.test.ts.
import type { FastifyInstance, RouteShorthandOptions } from 'fastify'
import type pg from 'pg'
import type { Test } from 'tap'
import { testDatabase, type TestDatabase } from './db.js'

export interface IntegrityDatabase extends TestDatabase {
  /** A role with INSERT on projects, members and bookings and DELETE on orgs and accounts, and no SELECT: PostgreSQL withholds the key from its errors' DETAIL. */
  role: string
}

/** The role of this process's test file (one file per process). */
export const ROLE = `fpc_withheld_${process.pid}`

export async function integrityDatabase (t: Test, name: string): Promise<IntegrityDatabase> {
  const db = await testDatabase(t, name)
  const role = ROLE
  await db.exec(`
    CREATE TABLE bookings (id int PRIMARY KEY, during tstzrange NOT NULL, EXCLUDE USING gist (during WITH &&));
    CREATE TABLE orgs (id int PRIMARY KEY);
    CREATE TABLE projects (id int PRIMARY KEY, org_id int REFERENCES orgs);
    CREATE TABLE regions (country text, code text, PRIMARY KEY (country, code));
    CREATE TABLE offices (id int PRIMARY KEY, office_country text, office_region text,
      CONSTRAINT offices_region_fk FOREIGN KEY (office_country, office_region) REFERENCES regions);
    CREATE TABLE categories (id int PRIMARY KEY, parent_id int REFERENCES categories);
    -- The same column name on both sides: DETAIL's key columns cannot tell the sides apart.
    CREATE TABLE accounts (org_id int PRIMARY KEY);
    CREATE TABLE members (id int PRIMARY KEY, org_id int REFERENCES accounts (org_id));
    CREATE TABLE readings (tenant int, id int, org_id int REFERENCES orgs, val int CHECK (val >= 0), PRIMARY KEY (tenant, id)) PARTITION BY LIST (tenant);
    CREATE TABLE readings_1 PARTITION OF readings FOR VALUES IN (1);
    CREATE TABLE readings_2 PARTITION OF readings (CONSTRAINT readings_2_small CHECK (val < 100)) FOR VALUES IN (2);
    CREATE TABLE reading_notes (id int PRIMARY KEY, tenant int, reading_id int,
      CONSTRAINT reading_notes_reading_fk FOREIGN KEY (tenant, reading_id) REFERENCES readings (tenant, id));
    CREATE TABLE people (id int PRIMARY KEY, first_name text NOT NULL, "a/b~c d" text NOT NULL DEFAULT 'x', age int CHECK (age >= 0));
    CREATE TABLE periods (starts_on date, ends_on date, CONSTRAINT periods_order CHECK (starts_on < ends_on));
    CREATE DOMAIN positive_int AS int CHECK (VALUE > 0);
    CREATE TABLE stock (id int PRIMARY KEY, quantity positive_int);
    CREATE DOMAIN required_text AS text NOT NULL;
    CREATE TABLE tags (id int PRIMARY KEY, name required_text);
    CREATE TABLE counters (id int PRIMARY KEY, n int NOT NULL);
    CREATE TABLE items (id int PRIMARY KEY, label text);

    INSERT INTO bookings VALUES (1, '[2026-01-01 10:00, 2026-01-01 11:00)');
    INSERT INTO orgs VALUES (1), (2);
    INSERT INTO projects VALUES (1, 1);
    INSERT INTO regions VALUES ('DE', 'BY');
    INSERT INTO offices VALUES (1, 'DE', 'BY');
    INSERT INTO categories VALUES (1, NULL), (2, 1);
    INSERT INTO accounts VALUES (1);
    INSERT INTO members VALUES (1, 1);
    INSERT INTO readings VALUES (1, 1, 2, 5);
    INSERT INTO reading_notes VALUES (1, 1, 1);
    INSERT INTO counters VALUES (1, 0), (2, 0);
    INSERT INTO items VALUES (1, 'one');

    DROP ROLE IF EXISTS ${role};
    CREATE ROLE ${role};
    GRANT USAGE ON SCHEMA ${db.schema} TO ${role};
    GRANT INSERT ON projects, members, bookings TO ${role};
    GRANT DELETE ON orgs, accounts TO ${role};
  `)
  t.teardown(async () => {
    await db.exec(`DROP SCHEMA IF EXISTS ${db.schema} CASCADE; DROP ROLE IF EXISTS ${role}`)
  })
  return { ...db, role }
}

/** Runs statements in one session, the way an application's transaction would, and cleans the session up. */
export async function runSession (pool: pg.Pool, statements: readonly string[]): Promise<void> {
  const client = await pool.connect()
  try {
    for (const sql of statements) await client.query(sql)
  } finally {
    await client.query('ROLLBACK; RESET ALL; RESET ROLE').catch(() => {})
    client.release()
  }
}

/** The SQL of each failing route. */
export const STATEMENTS = {
  exclusion: ["INSERT INTO bookings VALUES (2, '[2026-01-01 10:30, 2026-01-01 11:30)')"],
  'fk-insert': ['INSERT INTO projects VALUES (2, 99)'],
  'fk-update': ['UPDATE projects SET org_id = 99 WHERE id = 1'],
  'fk-composite-insert': ["INSERT INTO offices VALUES (2, 'DE', 'XX')"],
  'fk-delete': ['DELETE FROM orgs WHERE id = 1'],
  'fk-update-referenced': ['UPDATE orgs SET id = 100 WHERE id = 1'],
  'fk-composite-delete': ["DELETE FROM regions WHERE country = 'DE'"],
  'fk-self-insert': ['INSERT INTO categories VALUES (3, 42)'],
  'fk-self-delete': ['DELETE FROM categories WHERE id = 1'],
  'fk-partition-insert': ['INSERT INTO readings VALUES (1, 9, 99, 1)'],
  'fk-partition-delete': ['DELETE FROM orgs WHERE id = 2'],
  'fk-to-partition-insert': ['INSERT INTO reading_notes VALUES (2, 1, 77)'],
  'fk-to-partition-delete': ['DELETE FROM readings WHERE tenant = 1 AND id = 1'],
  'not-null': ['INSERT INTO people (id, first_name) VALUES (10, NULL)'],
  'not-null-odd-name': ['INSERT INTO people (id, first_name, "a/b~c d") VALUES (11, \'Ada\', NULL)'],
  'check-column': ["INSERT INTO people (id, first_name, age) VALUES (12, 'Ada', -1)"],
  'check-table': ["INSERT INTO periods VALUES ('2026-02-01', '2026-01-01')"],
  'check-domain': ['INSERT INTO stock VALUES (1, -5)'],
  'not-null-domain': ['INSERT INTO tags VALUES (1, NULL)'],
  'exclusion-withheld': [`SET ROLE ${ROLE}`, "INSERT INTO bookings VALUES (2, '[2026-01-01 10:30, 2026-01-01 11:30)')"],
  'fk-insert-withheld': [`SET ROLE ${ROLE}`, 'INSERT INTO projects VALUES (2, 99)'],
  'check-partition': ['INSERT INTO readings VALUES (1, 9, 1, -1)'],
  'check-partition-own': ['INSERT INTO readings VALUES (2, 9, 1, 500)'],
  'on-conflict-twice': ["INSERT INTO items VALUES (1, 'a'), (1, 'b') ON CONFLICT (id) DO UPDATE SET label = excluded.label"],
  'merge-twice': ["MERGE INTO items AS t USING (VALUES (1, 'x'), (1, 'y')) AS s (id, label) ON t.id = s.id WHEN MATCHED THEN UPDATE SET label = s.label"],
  subquery: ['SELECT (SELECT x FROM (VALUES (1), (2)) AS v (x))']
} as const

export type Scenario = keyof typeof STATEMENTS | 'serialization' | 'deadlock'

/**
 * 40001 from two real SERIALIZABLE transactions: the first reads a row, the second updates it and
 * commits, then the first updates it too.
 */
export async function serializationFailure (pool: pg.Pool): Promise<void> {
  const first = await pool.connect()
  const second = await pool.connect()
  try {
    await first.query('BEGIN ISOLATION LEVEL SERIALIZABLE')
    await first.query('SELECT n FROM counters WHERE id = 1')
    await second.query('BEGIN ISOLATION LEVEL SERIALIZABLE')
    await second.query('UPDATE counters SET n = n + 1 WHERE id = 1')
    await second.query('COMMIT')
    await first.query('UPDATE counters SET n = n + 1 WHERE id = 1') // 40001
  } finally {
    await first.query('ROLLBACK').catch(() => {})
    first.release()
    second.release()
  }
}

/**
 * 40P01 from a real deadlock, made deterministic: the other session locks row 2, then waits for
 * row 1 (which this one holds) with a long deadlock_timeout; only once it is seen waiting does
 * this session ask for row 2, with a 50 ms deadlock_timeout, so that this session is the one that
 * finds the deadlock and fails.
 */
export async function deadlock (pool: pg.Pool): Promise<void> {
  const mine = await pool.connect()
  const other = await pool.connect()
  let otherWaiting: Promise<unknown> | undefined
  try {
    await mine.query("SET deadlock_timeout = '50ms'")
    await other.query("SET deadlock_timeout = '60s'")
    const { rows } = await other.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
    await mine.query('BEGIN')
    await mine.query('UPDATE counters SET n = n + 1 WHERE id = 1')
    await other.query('BEGIN')
    await other.query('UPDATE counters SET n = n + 1 WHERE id = 2')
    otherWaiting = other.query('UPDATE counters SET n = n + 1 WHERE id = 1')
    otherWaiting.catch(() => {}) // settled below
    for (let waited = 0; ; waited += 10) {
      const state = await pool.query<{ wait_event_type: string | null }>('SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1', [rows[0]?.pid])
      if (state.rows[0]?.wait_event_type === 'Lock') break
      if (waited > 10_000) throw new Error('the other session never waited for the lock')
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    await mine.query('UPDATE counters SET n = n + 1 WHERE id = 2') // 40P01
  } finally {
    await mine.query('ROLLBACK; RESET ALL').catch(() => {})
    await otherWaiting?.catch(() => {})
    await other.query('ROLLBACK; RESET ALL').catch(() => {})
    mine.release()
    other.release()
  }
}

/** The handler of a scenario's route. */
export function handlerFor (pool: pg.Pool, scenario: Scenario): () => Promise<{ ok: true }> {
  return async () => {
    if (scenario === 'serialization') await serializationFailure(pool)
    else if (scenario === 'deadlock') await deadlock(pool)
    else await runSession(pool, STATEMENTS[scenario])
    return { ok: true }
  }
}

/** Adds `POST /<scenario>` for each scenario (with `options` on each route). */
export function scenarioRoutes (app: FastifyInstance, pool: pg.Pool, scenarios: readonly Scenario[], options: RouteShorthandOptions = {}): void {
  for (const scenario of scenarios) app.post(`/${scenario}`, options, handlerFor(pool, scenario))
}

export const ALL_SCENARIOS: readonly Scenario[] = [...Object.keys(STATEMENTS) as Array<keyof typeof STATEMENTS>, 'serialization', 'deadlock']
