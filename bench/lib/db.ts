/**
 * The database side of the benchmarks: one throwaway schema for the run (created by bench/run.ts,
 * dropped at the end), pools working in it, and real unique-violation errors captured from it.
 */
import pg from 'pg'

/** The run's schema; every worker gets it in BENCH_SCHEMA. */
export function benchSchema (): string {
  const schema = process.env.BENCH_SCHEMA
  if (schema === undefined || schema === '') throw new Error('BENCH_SCHEMA is not set (workers are started by bench/run.ts)')
  return schema
}

/** A pool whose connections work in `schema`. */
export function schemaPool (url: string, schema: string, max: number): pg.Pool {
  return new pg.Pool({ connectionString: url, options: `-c search_path=${schema}`, max })
}

/** The unique violations of the resolution benchmark, one per kind of key. */
export const CASES = [
  {
    name: 'single',
    table: 'people',
    setup: 'CREATE TABLE people (id serial PRIMARY KEY, email text NOT NULL CONSTRAINT people_email_key UNIQUE)',
    insert: "INSERT INTO people (email) VALUES ('ada@example.com')"
  },
  {
    name: 'composite',
    table: 'teams',
    setup: 'CREATE TABLE teams (id serial PRIMARY KEY, org_id int NOT NULL, name text NOT NULL, CONSTRAINT teams_org_id_name_key UNIQUE (org_id, name))',
    insert: "INSERT INTO teams (org_id, name) VALUES (7, 'Core')"
  },
  {
    name: 'quoted',
    table: '"Org Members"',
    setup: 'CREATE TABLE "Org Members" ("Org Id" int NOT NULL, "User Name" text NOT NULL, CONSTRAINT "Org Members_key" UNIQUE ("Org Id", "User Name"))',
    insert: 'INSERT INTO "Org Members" ("Org Id", "User Name") VALUES (7, \'ada\')'
  },
  {
    name: 'expression',
    table: 'logins',
    setup: 'CREATE TABLE logins (id serial PRIMARY KEY, email text NOT NULL); CREATE UNIQUE INDEX logins_email_ci_key ON logins (lower(email))',
    insert: "INSERT INTO logins (email) VALUES ('Ada@Example.com')"
  }
] as const

/** Tables of the HTTP scenarios; `items` holds the row every conflicting request collides with. */
const HTTP_SQL = `
  CREATE TABLE items (id bigserial PRIMARY KEY, email text NOT NULL CONSTRAINT items_email_key UNIQUE);
  INSERT INTO items (email) VALUES ('taken@example.com');
  CREATE TABLE accounts (id serial PRIMARY KEY, email text NOT NULL CONSTRAINT accounts_email_key UNIQUE);
  CREATE TABLE ranges (id serial PRIMARY KEY, low int CONSTRAINT ranges_low_check CHECK (low >= 0));
  CREATE TABLE parents (id int PRIMARY KEY);
  CREATE TABLE children (id serial PRIMARY KEY, parent_id int CONSTRAINT children_parent_id_fkey REFERENCES parents (id));
  CREATE TABLE signups (id bigserial PRIMARY KEY, email text NOT NULL CONSTRAINT signups_email_key UNIQUE, user_name text NOT NULL CONSTRAINT signups_user_name_key UNIQUE);
  INSERT INTO signups (email, user_name) VALUES ('taken@example.com', 'taken');
  CREATE TABLE orders (id bigserial PRIMARY KEY, ref text NOT NULL CONSTRAINT orders_ref_key UNIQUE, note text, created_at timestamptz NOT NULL DEFAULT now());
  INSERT INTO orders (ref, note) VALUES ('taken', 'first');
`

/** The statement every conflicting request runs. */
export const CONFLICTING_INSERT = "INSERT INTO items (email) VALUES ('taken@example.com') RETURNING id"

export async function createSchema (url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}; SET search_path = ${schema}`)
    await client.query(HTTP_SQL)
    for (const c of CASES) await client.query(`${c.setup}; ${c.insert}`)
  } finally {
    await client.end()
  }
}

export async function dropSchema (url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  } finally {
    await client.end()
  }
}

/** Runs `sql`, which must fail, and gives back the error node-postgres threw. */
export async function errorOf (db: pg.Pool | pg.Client, sql: string): Promise<pg.DatabaseError> {
  try {
    await db.query(sql)
  } catch (error) {
    return error as pg.DatabaseError
  }
  throw new Error(`expected an error from: ${sql}`)
}

/**
 * A fresh `DatabaseError` with the fields of `original` (severity, code, detail, schema, table,
 * constraint, internalQuery…): what node-postgres would throw for the same violation, made
 * without a database.
 */
export function copyError (original: pg.DatabaseError): pg.DatabaseError {
  return Object.assign(new pg.DatabaseError(original.message, original.length, 'error'), original)
}
