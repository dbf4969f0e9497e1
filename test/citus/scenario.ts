// The statements whose errors test/citus/captured.ts holds, as they were captured, on the tables
// they were captured on: the shapes suite (shapes.ts) raises them again on the cluster and checks
// that Citus still sends exactly those fields.
import type pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { CitusSchema } from './cluster.js'

/**
 * A reference table `orgs`, `accounts` distributed by `org_id` with every kind of constraint a
 * Citus table can have, and `rooms` with an exclusion constraint (btree_gist, in the schema).
 */
export async function createScenario (db: CitusSchema): Promise<void> {
  await db.exec(`
    CREATE TABLE orgs (id int PRIMARY KEY, name text);
    CREATE TABLE accounts (org_id int NOT NULL REFERENCES orgs, id bigint, email text NOT NULL, age int CHECK (age >= 0),
      PRIMARY KEY (org_id, id), CONSTRAINT accounts_org_email_key UNIQUE (org_id, email));
  `)
  await db.reference('orgs')
  await db.distribute('accounts', 'org_id')
  await db.exec(`CREATE EXTENSION IF NOT EXISTS btree_gist SCHEMA ${db.schema}`)
  await db.exec('CREATE TABLE rooms (org_id int, room int, seats int4range, CONSTRAINT rooms_no_overlap EXCLUDE USING gist (org_id WITH =, room WITH =, seats WITH &&))')
  await db.distribute('rooms', 'org_id', 'accounts')
  // A constraint name of 62 bytes leaves no room for a shard id: Citus shortens it on the shards.
  await db.exec(`CREATE TABLE aliases (org_id int, alias text, CONSTRAINT ${LONG_NAME} UNIQUE (org_id, alias))`)
  await db.distribute('aliases', 'org_id', 'accounts')
  await db.exec(`INSERT INTO orgs VALUES (1, 'one'), (2, 'two'); INSERT INTO accounts VALUES (1, 1, 'ada@example.com', 36);
    INSERT INTO rooms VALUES (1, 1, '[1,10)'); INSERT INTO aliases VALUES (1, 'x')`)
}

/** The unique constraint of `aliases`, whose name Citus shortens for its shards. */
export const LONG_NAME = 'aliases_org_id_and_alias_with_a_name_long_enough_to_be_shortened'.slice(0, 62)

/** Where a statement runs: through the coordinator, or on the worker holding org 1's shard (local execution). */
export type Via = 'coordinator' | 'worker'

export interface Capture {
  via: Via
  /** The statements, in one session; the last fails. */
  sql?: string[]
  /** Rows for `COPY accounts FROM STDIN` (text format), instead of `sql`. */
  copy?: string
}

/** Each captured error's statement. */
export const CAPTURES = {
  // A worker's error relayed by the coordinator (ReportResultError).
  relayedUnique: { via: 'coordinator', sql: ["INSERT INTO accounts VALUES (1, 2, 'ada@example.com', 20)"] },
  relayedForeignKey: { via: 'coordinator', sql: ["INSERT INTO accounts VALUES (3, 2, 'bob@example.com', 20)"] },
  relayedReferenced: { via: 'coordinator', sql: ['DELETE FROM orgs WHERE id = 1'] },
  relayedNotNull: { via: 'coordinator', sql: ['INSERT INTO accounts VALUES (1, 2, NULL, 20)'] },
  relayedCheck: { via: 'coordinator', sql: ["INSERT INTO accounts VALUES (1, 2, 'bob@example.com', -1)"] },
  relayedExclusion: { via: 'coordinator', sql: ["INSERT INTO rooms VALUES (1, 1, '[5,15)')"] },
  relayedShortened: { via: 'coordinator', sql: ["INSERT INTO aliases VALUES (1, 'x')"] },
  // INSERT … SELECT that Citus pulls to the coordinator (a LIMIT) goes through COPY (ReportCopyError, XX000).
  copyUnique: { via: 'coordinator', sql: ['INSERT INTO accounts SELECT org_id, id + 1, email, age FROM accounts LIMIT 1'] },
  copyForeignKey: { via: 'coordinator', sql: ["INSERT INTO accounts SELECT 3, 2, 'bob@example.com', 20 FROM accounts LIMIT 1"] },
  copyNotNull: { via: 'coordinator', sql: ['INSERT INTO accounts SELECT 1, 2, NULL, 20 FROM accounts LIMIT 1'] },
  copyCheck: { via: 'coordinator', sql: ["INSERT INTO accounts SELECT 1, 2, 'bob@example.com', -1 FROM accounts LIMIT 1"] },
  copyExclusion: { via: 'coordinator', sql: ['INSERT INTO rooms SELECT org_id, room, seats FROM rooms LIMIT 1'] },
  // Another XX000 of Citus's, not an integrity error: a reference table written after a parallel multi-shard write.
  parallelAccess: { via: 'coordinator', sql: ['BEGIN', 'UPDATE accounts SET age = age', "UPDATE orgs SET name = 'uno' WHERE id = 1"] },
  // A NULL distribution column, refused by Citus's router planner and by its COPY (22004).
  nullDistribution: { via: 'coordinator', sql: ["INSERT INTO accounts VALUES (NULL, 2, 'bob@example.com', 20)"] },
  nullDistributionCopy: { via: 'coordinator', copy: '\\N\t2\tbob@example.com\t20\n' },
  // A client connected to the worker holding the shard: PostgreSQL's own error, with the shard's names.
  localUnique: { via: 'worker', sql: ["INSERT INTO accounts VALUES (1, 2, 'ada@example.com', 20)"] },
  // (org 3 hashes to org 1's shard: the same worker.)
  localForeignKey: { via: 'worker', sql: ["INSERT INTO accounts VALUES (3, 2, 'bob@example.com', 20)"] },
  localNotNull: { via: 'worker', sql: ['INSERT INTO accounts VALUES (1, 2, NULL, 20)'] },
  localCheck: { via: 'worker', sql: ["INSERT INTO accounts VALUES (1, 2, 'bob@example.com', -1)"] }
} satisfies Record<string, Capture>

export type CaptureName = keyof typeof CAPTURES

/** Runs a capture's statements in one session of `pool` and gives back the error of the last (rolled back either way). */
export async function raise (pool: pg.Pool, capture: Capture): Promise<pg.DatabaseError> {
  const client = await pool.connect()
  try {
    if (capture.copy !== undefined) {
      await pipeline(Readable.from([capture.copy]), client.query(copyFrom('COPY accounts (org_id, id, email, age) FROM STDIN')))
    } else {
      await client.query('BEGIN')
      for (const sql of capture.sql ?? []) await client.query(sql)
    }
  } catch (error) {
    return error as pg.DatabaseError
  } finally {
    await client.query('ROLLBACK').catch(() => {})
    client.release()
  }
  throw new Error(`expected an error from: ${JSON.stringify(capture)}`)
}

/** The fields compared: every one node-postgres reads but the source line, which moves between PostgreSQL's minor releases. */
export const COMPARED = ['severity', 'code', 'message', 'detail', 'hint', 'where', 'schema', 'table', 'column', 'dataType', 'constraint', 'file', 'routine'] as const

/**
 * An error's compared fields with what differs from one cluster (and run) to another written the
 * same way: shard ids (`_102008` → `_<shard>`), a worker's address, the suite's schema.
 */
export function normalised (error: object, schema: string): Record<string, string | undefined> {
  const fields: Record<string, string | undefined> = {}
  for (const key of COMPARED) {
    const value = (error as Record<string, unknown>)[key]
    fields[key] = typeof value === 'string'
      ? key === 'schema' && value === schema
        ? '<schema>'
        : value.replace(/_\d{6,}(?!\d)/g, '_<shard>').replace(/127\.0\.0\.1:\d+/g, '<worker>').replaceAll(`${schema}.`, '<schema>.')
      : undefined
  }
  return fields
}
