// Where a field is in the request, in Problem Details' `errors`: a body member gets a JSON Pointer
// into the body; a path or query parameter or a header is named, with where it is. Real
// PostgreSQL errors through real Fastify and Express apps, and the pure pieces at their edges.
import t from 'tap'
import express, { type Request, type Response } from 'express'
import Fastify from 'fastify'
import fastifyPgConflict, { InvalidOptionError, snakeToCamel } from '../../src/index.js'
import { conflictConfig, pgConflict } from '../../src/adapters/express.js'
import { fieldProblem, mergeLocations, pathParameters } from '../../src/core/locations.js'
import { buildApp } from '../helpers/app.js'
import { testDatabase } from '../helpers/db.js'
import { listen, request } from '../helpers/express.js'

const db = await testDatabase(t, 'locations')
await db.exec(`
  CREATE TABLE orgs (id int PRIMARY KEY);
  CREATE TABLE projects (id serial PRIMARY KEY, org_id int NOT NULL REFERENCES orgs, tenant text, name text NOT NULL,
    CONSTRAINT projects_org_name_key UNIQUE (org_id, name));
  INSERT INTO orgs VALUES (1);
  INSERT INTO projects (org_id, name) VALUES (1, 'core');
`)

const catalogFor = { pool: db.pool, catalog: { schemas: [db.schema] }, format: 'problem' as const, fieldName: snakeToCamel }
const DUPLICATE = 'A record with this orgId and name already exists.'
const MISSING = 'The record referenced by orgId does not exist.'

/** `POST /orgs/:orgId/projects { name }`: the org from the path, the name from the body. */
async function createProject (orgId: string, name: unknown): Promise<void> {
  await db.pool.query('INSERT INTO projects (org_id, name) VALUES ($1, $2)', [orgId, name])
}

t.test('Fastify: a field named like a path parameter of the route is answered as that parameter, the others as body members', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, catalogFor)
  app.post<{ Params: { orgId: string }, Body: { name: string } }>('/orgs/:orgId/projects', async (request) => { await createProject(request.params.orgId, request.body.name) })
  app.register(async (orgs) => {
    orgs.post<{ Params: { orgId: string }, Body: { name: string } }>('/projects', async (request) => { await createProject(request.params.orgId, request.body.name) })
  }, { prefix: '/v2/orgs/:orgId' })

  for (const prefix of ['', '/v2']) {
    const duplicate = await app.inject({ method: 'POST', url: `${prefix}/orgs/1/projects`, payload: { name: 'core' } })
    t.equal(duplicate.statusCode, 409)
    t.same(duplicate.json().errors, [
      { detail: DUPLICATE, parameter: 'orgId', in: 'path', field: 'orgId' },
      { detail: DUPLICATE, pointer: '#/name', field: 'name' }
    ], `${prefix || 'a route'}${prefix === '' ? '' : ' under a prefix with the parameter'}: orgId in the path, name in the body`)
    t.notOk(JSON.stringify(duplicate.json()).includes('#/orgId'), 'no pointer into the body where it has no orgId')

    const missing = await app.inject({ method: 'POST', url: `${prefix}/orgs/99/projects`, payload: { name: 'x' } })
    t.equal(missing.statusCode, 422)
    t.same(missing.json().errors, [{ detail: MISSING, parameter: 'orgId', in: 'path', field: 'orgId' }], 'a foreign key violation too')
  }
})

t.test('Fastify: fieldLocations says where fields are, per plugin, route and constraint, merged field by field', async (t) => {
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict, { ...catalogFor, fieldLocations: { orgId: 'query', tenant: { in: 'header', name: 'x-tenant' } } })
  const insert = async (orgId: unknown, name: unknown): Promise<void> => { await db.pool.query('INSERT INTO projects (org_id, name) VALUES ($1, $2)', [orgId, name]) }
  app.post<{ Querystring: { org: string }, Body: { name: string } }>('/projects', async (request) => { await insert(request.query.org, request.body.name) })
  app.post<{ Body: { orgId: number, name: string } }>('/body-projects', { config: { conflict: { fieldLocations: { orgId: 'body' } } } }, async (request) => { await insert(request.body.orgId, request.body.name) })
  app.post<{ Body: { title: string } }>('/named', {
    config: { conflict: { constraints: [{ constraint: 'projects_org_name_key', fieldLocations: { orgId: { in: 'query', name: 'org' }, name: { in: 'body', name: 'title' } } }] } }
  }, async (request) => { await insert(1, request.body.title) })
  app.post('/tenants', { config: { conflict: { fields: 'tenant' } } }, async () => { await db.pool.query("INSERT INTO projects (org_id, name) VALUES (1, 'core')") })

  const errorsOf = async (url: string, payload: object): Promise<unknown> => (await app.inject({ method: 'POST', url, payload })).json().errors
  t.same(await errorsOf('/projects?org=1', { name: 'core' }), [
    { detail: DUPLICATE, parameter: 'orgId', in: 'query', field: 'orgId' },
    { detail: DUPLICATE, pointer: '#/name', field: 'name' }
  ], "the plugin's word")
  t.same(await errorsOf('/body-projects', { orgId: 1, name: 'core' }), [
    { detail: DUPLICATE, pointer: '#/orgId', field: 'orgId' },
    { detail: DUPLICATE, pointer: '#/name', field: 'name' }
  ], "the route's word over the plugin's")
  t.same(await errorsOf('/named', { title: 'core' }), [
    { detail: DUPLICATE, parameter: 'org', in: 'query', field: 'orgId' },
    { detail: DUPLICATE, pointer: '#/title', field: 'name' }
  ], "a constraint rule's, with the names the fields have there")
  t.same(await errorsOf('/tenants', {}), [{ detail: 'A record with this tenant already exists.', parameter: 'x-tenant', in: 'header', field: 'tenant' }],
    "the plugin's entry for a field the route's settings do not mention is kept")
})

t.test('Express: the failed route\'s path parameters (from its definition), and fieldLocations, as in Fastify', async (t) => {
  const app = express()
  app.set('env', 'test')
  app.use(express.json())
  app.post('/orgs/:orgId/projects', async (req: Request<{ orgId: string }, unknown, { name: string }>, res: Response) => {
    await createProject(req.params.orgId, req.body.name)
    res.status(201).end()
  })
  app.post('/projects', conflictConfig({ fieldLocations: { orgId: 'query' } }), async (req: Request, res: Response) => {
    await createProject(String(req.query.org), (req.body as { name: string }).name)
    res.status(201).end()
  })
  app.post(['/teams/:orgId/projects', '/groups/:orgId/projects'], async (req: Request<{ orgId: string }, unknown, { name: string }>, res: Response) => {
    await createProject(req.params.orgId, req.body.name)
    res.status(201).end()
  })
  app.post(/^\/regex\/(\d+)$/, async (req: Request, res: Response) => {
    await createProject(String(req.params[0]), (req.body as { name: string }).name)
    res.status(201).end()
  })
  app.use(pgConflict(catalogFor))
  const url = await listen(t, app)

  t.same((await request(`${url}/orgs/1/projects`, 'POST', { name: 'core' })).json.errors, [
    { detail: DUPLICATE, parameter: 'orgId', in: 'path', field: 'orgId' },
    { detail: DUPLICATE, pointer: '#/name', field: 'name' }
  ], 'orgId in the path')
  t.same((await request(`${url}/projects?org=1`, 'POST', { name: 'core' })).json.errors, [
    { detail: DUPLICATE, parameter: 'orgId', in: 'query', field: 'orgId' },
    { detail: DUPLICATE, pointer: '#/name', field: 'name' }
  ], 'orgId in the query, as the route says')
  t.same((await request(`${url}/groups/1/projects`, 'POST', { name: 'core' })).json.errors[0], { detail: DUPLICATE, parameter: 'orgId', in: 'path', field: 'orgId' },
    'a route with several paths')
  t.same((await request(`${url}/regex/1`, 'POST', { name: 'core' })).json.errors[0], { detail: DUPLICATE, pointer: '#/orgId', field: 'orgId' },
    'a route by regular expression has no parameter names: a body member, unless fieldLocations says otherwise')
})

t.test('fieldLocations is checked at registration, at every level', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    ['path', /options\.fieldLocations must be an object from field names to where they are in the request \("body", "path", "query", "header"\)/],
    [{ orgId: 'params' }, /options\.fieldLocations\.orgId must be one of "body", "path", "query", "header", or an object like \{ in: "header", name: "x-tenant-id" \}/],
    [{ orgId: 1 }, /options\.fieldLocations\.orgId must be one of/],
    [{ orgId: { in: 'cookie' } }, /options\.fieldLocations\.orgId\.in must be one of "body", "path", "query", "header"/],
    [{ orgId: { in: 'path', name: '' } }, /options\.fieldLocations\.orgId\.name must be a non-empty string/],
    [{ orgId: { in: 'path', as: 'org' } }, /options\.fieldLocations\.orgId has an unknown option "as" \(known: in, name\)/]
  ]
  for (const [fieldLocations, message] of cases) {
    const app = Fastify() // not closed: an app whose plugin failed to load rejects close() with the same error
    await t.rejects(async () => { await app.register(fastifyPgConflict, { fieldLocations } as never) }, { code: 'PG_CONFLICT_INVALID_OPTION', message }, JSON.stringify(fieldLocations))
    t.throws(() => pgConflict({ fieldLocations } as never), InvalidOptionError, `Express: ${JSON.stringify(fieldLocations)}`)
  }
  const { app } = buildApp(t)
  await app.register(fastifyPgConflict)
  t.throws(() => app.post('/x', { config: { conflict: { constraints: [{ constraint: 'x', fieldLocations: { a: 'body', b: 'nowhere' } as never }] } } }, async () => 'x'),
    /route POST \/x config\.conflict\.constraints\[0\]\.fieldLocations\.b must be one of/, 'on a route\'s constraint rule')
  t.throws(() => conflictConfig({ fieldLocations: { a: 'cookie' } as never }), /conflictConfig\.fieldLocations\.a must be one of/, 'Express: conflictConfig')
})

t.test('pathParameters: the names as Fastify and Express write them', async (t) => {
  t.same(pathParameters('/orgs/:orgId/projects/:id'), ['orgId', 'id'])
  t.same(pathParameters('/files/:name.:ext'), ['name', 'ext'])
  t.same(pathParameters('/items/:id(^\\d+$)'), ['id'], "Fastify's regex parameter")
  t.same(pathParameters('/users/:id?'), ['id'], "Fastify's optional parameter")
  t.same(pathParameters('/from/:from-:to'), ['from', 'to'])
  t.same(pathParameters('/files/*path'), ['path'], "Express's named wildcard")
  t.same(pathParameters('/files/*'), [], "Fastify's wildcard has no name")
  t.same(pathParameters('/a/:"with space"/b'), ['with space'], "Express's quoted name")
  t.same(pathParameters('/a/:"quote\\"d"'), ['quote"d'])
  t.same(pathParameters('/time/10::30'), [], 'a literal colon')
  t.same(pathParameters('/'), [])
})

t.test('fieldProblem and mergeLocations', async (t) => {
  t.same(fieldProblem('a/b', 'd', undefined, []), { detail: 'd', pointer: '#/a~1b', field: 'a/b' }, 'a body member by default, escaped')
  t.same(fieldProblem('id', 'd', undefined, ['id']), { detail: 'd', parameter: 'id', in: 'path', field: 'id' })
  t.same(fieldProblem('id', 'd', { id: 'body' }, ['id']), { detail: 'd', pointer: '#/id', field: 'id' }, 'what the settings say over the route\'s parameters')
  t.same(fieldProblem('toString', 'd', {}, []), { detail: 'd', pointer: '#/toString', field: 'toString' }, 'only the object\'s own entries')
  t.same(fieldProblem('tenant', 'd', { tenant: { in: 'header' } }, []), { detail: 'd', parameter: 'tenant', in: 'header', field: 'tenant' }, 'no name: the field\'s')
  t.equal(mergeLocations([undefined, undefined]), undefined)
  const only = { a: 'path' as const }
  t.equal(mergeLocations([undefined, only, undefined]), only, 'one level: as it is')
  t.same(mergeLocations([{ a: 'path', b: 'query' }, undefined, { b: 'body' }]), { a: 'path', b: 'body' })
})
