// A small signup API: users with a unique email (case-insensitive), teams unique per organisation,
// and team members, which must be users of existing teams; accounts whose email and username are
// checked together (allConflicts, a message kept in the database), and orders a client may retry
// (replay).
// Run it with `npm run demo`, which also sends it a few requests.
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type pg from 'pg'
import fastifyPgConflict, { snakeToCamel } from '../src/index.js' // from 'fastify-pg-conflict' in your app

export const schemaSql = `
  CREATE TABLE users (
    id serial PRIMARY KEY,
    email text NOT NULL,
    display_name text NOT NULL
  );
  CREATE UNIQUE INDEX users_email_key ON users (lower(email));
  CREATE TABLE teams (
    id serial PRIMARY KEY,
    org_id int NOT NULL,
    name text NOT NULL,
    CONSTRAINT teams_org_name_key UNIQUE (org_id, name)
  );
  CREATE TABLE members (
    team_id int NOT NULL REFERENCES teams,
    user_id int NOT NULL REFERENCES users,
    PRIMARY KEY (team_id, user_id)
  );
  CREATE TABLE accounts (
    id serial PRIMARY KEY,
    email text NOT NULL CONSTRAINT accounts_email_key UNIQUE,
    username text NOT NULL CONSTRAINT accounts_username_key UNIQUE
  );
  -- The message lives with the constraint, for every application on the database (docs/comments.md).
  COMMENT ON CONSTRAINT accounts_username_key ON accounts IS '@message That username is taken: pick another.';
  CREATE TABLE orders (
    id serial PRIMARY KEY,
    ref text NOT NULL CONSTRAINT orders_ref_key UNIQUE,
    item text NOT NULL
  );
`

export async function buildSignupApp (pool: pg.Pool, logger: FastifyServerOptions['logger'] = false): Promise<FastifyInstance> {
  const app = Fastify({ logger })

  // Register before declaring routes: the plugin equips each route as it is added.
  await app.register(fastifyPgConflict, {
    pool, // to read the catalog of unique indexes (or register @fastify/postgres and omit this)
    fieldName: snakeToCamel, // org_id → orgId, as the API names it
    constraints: [
      { constraint: 'users_email_key', message: 'An account with this email exists already.' },
      { constraint: 'teams_org_name_key', message: 'Your organisation has a team of that name already.' }
    ]
  })

  app.post<{ Body: { email: string, displayName: string } }>('/users', {
    schema: {
      body: {
        type: 'object',
        required: ['email', 'displayName'],
        properties: { email: { type: 'string' }, displayName: { type: 'string' } }
      }
    }
  }, async (request, reply) => {
    // On a checked-out client: a conflict through pool.query() would cost a PostgreSQL connection.
    const user = await app.pgConflict.withTransaction(async (client: pg.PoolClient) => (await client.query(
      'INSERT INTO users (email, display_name) VALUES ($1, $2) RETURNING id, email, display_name AS "displayName"',
      [request.body.email, request.body.displayName]
    )).rows[0])
    return reply.code(201).send(user)
  })

  app.post<{ Body: { orgId: number, name: string } }>('/teams', {
    // This route also shows the conflicting values: they are the client's own input here.
    config: { conflict: { expose: { values: true } } }
  }, async (request, reply) => {
    const team = await app.pgConflict.withTransaction(async (client: pg.PoolClient) => (await client.query(
      'INSERT INTO teams (org_id, name) VALUES ($1, $2) RETURNING id, org_id AS "orgId", name',
      [request.body.orgId, request.body.name]
    )).rows[0])
    return reply.code(201).send(team)
  })

  app.post<{ Params: { teamId: number }, Body: { userId: number } }>('/teams/:teamId/members', {
    // This route answers in RFC 9457 Problem Details (application/problem+json).
    config: { conflict: { format: 'problem' } }
  }, async (request, reply) => {
    await app.pgConflict.withTransaction(async (client: pg.PoolClient) => await client.query(
      'INSERT INTO members (team_id, user_id) VALUES ($1, $2)', [request.params.teamId, request.body.userId]
    ))
    return reply.code(201).send({ teamId: Number(request.params.teamId), userId: request.body.userId })
  })

  app.post<{ Body: { email: string, username: string } }>('/accounts', {
    // Every conflicting field in one answer: email and username both taken, both named.
    config: { conflict: { allConflicts: true } }
  }, async (request, reply) => {
    const { rows } = await pool.query('INSERT INTO accounts (email, username) VALUES ($1, $2) RETURNING id, email, username', [request.body.email, request.body.username])
    return reply.code(201).send(rows[0])
  })

  app.post<{ Body: { ref: string, item: string } }>('/orders', {
    // A client that sends the same order again (its response was lost) gets its order back, not a 409.
    config: { conflict: { replay: { columns: ['id'] } } }
  }, async (request, reply) => {
    const { rows } = await pool.query('INSERT INTO orders (ref, item) VALUES ($1, $2) RETURNING id, ref, item', [request.body.ref, request.body.item])
    return reply.code(201).send(rows[0])
  })

  return app
}
