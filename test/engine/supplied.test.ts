// The values a request supplied, by column: the field mapping read backwards. Pure: what the
// all-conflicts check (and idempotent replays) rely on to know which keys a request carries.
import t from 'tap'
import { suppliedValues } from '../../src/engine/supplied.js'
import { snakeToCamel } from '../../src/index.js'

const identity = (column: string): string => column

t.test('body members by their field name, through fieldName', async (t) => {
  const body = { email: 'ada@example.com', userName: 'ada', age: 36 }
  t.same([...suppliedValues(['email', 'user_name', 'phone'], { body, params: {} }, { fieldName: snakeToCamel })],
    [['email', 'ada@example.com'], ['user_name', 'ada']], 'a column whose field the body lacks is not supplied')
})

t.test('null is a value supplied; undefined and inherited members are not', async (t) => {
  const body = Object.assign(Object.create({ inherited: 'x' }) as object, { a: null, b: undefined })
  t.same([...suppliedValues(['a', 'b', 'inherited', 'toString'], { body, params: undefined }, { fieldName: identity })], [['a', null]])
})

t.test('a body that is not an object holds no fields', async (t) => {
  for (const body of [undefined, null, 'email=ada', ['ada'], 42]) {
    t.equal(suppliedValues(['email', '0'], { body, params: undefined }, { fieldName: identity }).size, 0, JSON.stringify(body) ?? 'undefined')
  }
})

t.test('path parameters: of the route by name, or where fieldLocations puts them', async (t) => {
  const sources = { body: { name: 'Core', orgId: 'from the body' }, params: { orgId: '7', tenant: 'acme' } }
  t.same(Object.fromEntries(suppliedValues(['org_id', 'name'], sources, { fieldName: snakeToCamel, routeParameters: ['orgId'] })),
    { org_id: '7', name: 'Core' }, 'a route parameter of the field\'s name wins over a body member')
  t.same(Object.fromEntries(suppliedValues(['org_id'], sources, { fieldName: snakeToCamel })),
    { org_id: 'from the body' }, 'without one, the body')
  t.same(Object.fromEntries(suppliedValues(['tenant_id', 'name'], sources, { fieldName: snakeToCamel, fieldLocations: { tenantId: { in: 'path', name: 'tenant' }, name: 'body' } })),
    { tenant_id: 'acme', name: 'Core' }, 'fieldLocations with a name of its own')
  t.same(Object.fromEntries(suppliedValues(['org_id'], sources, { fieldName: snakeToCamel, fieldLocations: { orgId: 'body' }, routeParameters: ['orgId'] })),
    { org_id: 'from the body' }, 'fieldLocations over the route\'s parameters')
})

t.test('fields in the query string or a header are never read', async (t) => {
  const sources = { body: { tenant: 'body' }, params: { tenant: 'path' } }
  t.equal(suppliedValues(['tenant'], sources, { fieldName: identity, fieldLocations: { tenant: 'query' } }).size, 0)
  t.equal(suppliedValues(['tenant'], sources, { fieldName: identity, fieldLocations: { tenant: { in: 'header', name: 'x-tenant' } } }).size, 0)
})

t.test('a member named __proto__ is a value like any other', async (t) => {
  const body = JSON.parse('{"__proto__": "x"}') as unknown
  t.same([...suppliedValues(['__proto__'], { body, params: undefined }, { fieldName: identity })], [['__proto__', 'x']])
})
