// The example app does what the README and the demo say it does.
import t from 'tap'
import { buildSignupApp, schemaSql } from '../examples/signup.js'
import { testDatabase } from './helpers/db.js'

const db = await testDatabase(t, 'example')
await db.exec(schemaSql)
const app = await buildSignupApp(db.pool)
t.teardown(() => app.close())

const post = async (url: string, payload: object): Promise<{ status: number, body: Record<string, unknown> }> => {
  const response = await app.inject({ method: 'POST', url, payload })
  return { status: response.statusCode, body: response.json() }
}

t.test('the signup API answers duplicates with 409 naming the API fields', async (t) => {
  t.equal((await post('/users', { email: 'ada@example.com', displayName: 'Ada' })).status, 201)
  t.same(await post('/users', { email: 'ADA@Example.com', displayName: 'Ada again' }), {
    status: 409,
    body: { statusCode: 409, code: 'PG_UNIQUE_VIOLATION', error: 'Conflict', message: 'An account with this email exists already.', fields: ['email'] }
  }, 'an email differing only in case conflicts, through the expression index')
  t.equal((await post('/teams', { orgId: 1, name: 'Research' })).status, 201)
  t.same((await post('/teams', { orgId: 1, name: 'Research' })).body, {
    statusCode: 409,
    code: 'PG_UNIQUE_VIOLATION',
    error: 'Conflict',
    message: 'Your organisation has a team of that name already.',
    fields: ['orgId', 'name'],
    values: { orgId: '1', name: 'Research' }
  }, 'camelCase fields and, on this route, the values')
  t.equal((await post('/teams', { orgId: 2, name: 'Research' })).status, 201)
  t.equal((await post('/users', { email: 'no-name@example.com' })).status, 400, 'validation errors are untouched')
})

t.test('team members: duplicates 409 and missing teams 422, as Problem Details', async (t) => {
  const ada = (await post('/users', { email: 'member@example.com', displayName: 'Member' })).body.id
  const team = (await post('/teams', { orgId: 9, name: 'Members' })).body.id
  t.equal((await post(`/teams/${String(team)}/members`, { userId: ada })).status, 201)
  const again = await app.inject({ method: 'POST', url: `/teams/${String(team)}/members`, payload: { userId: ada } })
  t.equal(again.statusCode, 409)
  t.equal(again.headers['content-type'], 'application/problem+json; charset=utf-8')
  t.match(again.json(), { type: 'about:blank', title: 'Conflict', status: 409, code: 'PG_UNIQUE_VIOLATION', errors: [{ parameter: 'teamId', in: 'path' }, { pointer: '#/userId' }] },
    'teamId from the path, userId from the body')
  t.same(await post('/teams/999/members', { userId: ada }), {
    status: 422,
    body: {
      type: 'about:blank',
      title: 'Unprocessable Entity',
      status: 422,
      detail: 'The record referenced by teamId does not exist.',
      instance: '/teams/999/members',
      code: 'PG_FOREIGN_KEY_VIOLATION',
      errors: [{ detail: 'The record referenced by teamId does not exist.', parameter: 'teamId', in: 'path', field: 'teamId' }]
    }
  })
})

t.test('accounts: every conflicting field at once, a message from the constraint\'s comment; orders: a retried create replayed', async (t) => {
  t.equal((await post('/accounts', { email: 'linus@example.com', username: 'linus' })).status, 201)
  const both = await post('/accounts', { email: 'linus@example.com', username: 'linus' })
  t.equal(both.status, 409)
  t.same(both.body.fields, ['email', 'username'], 'both taken, both named')
  t.match(both.body.conflicts, [{ fields: ['email'] }, { fields: ['username'], message: 'That username is taken: pick another.' }])
  const order = await post('/orders', { ref: 'A-100', item: 'book' })
  t.equal(order.status, 201)
  const again = await app.inject({ method: 'POST', url: '/orders', payload: { ref: 'A-100', item: 'book' } })
  t.equal(again.statusCode, 200)
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.same(again.json(), order.body, 'the order the first attempt wrote')
  t.equal((await post('/orders', { ref: 'A-100', item: 'pen' })).status, 409, 'another order under that ref')
})
