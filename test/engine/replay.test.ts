// The replay's parts without a framework: the option check (what a route must be able to tell),
// which errors a replay looks behind, the query it builds (quoted identifiers, values as one
// parameter), and a database that cannot be reached (no replay, no throw).
import t from 'tap'
import pg from 'pg'
import { IndexCatalog, type UniqueIndex } from '../../src/catalog/catalog.js'
import { checkReplay, replayQuery, Replayer, violatedIndex } from '../../src/engine/replay.js'
import type { PgErrorFields } from '../../src/core/recognise.js'
import { Deadline } from '../../src/util/deadline.js'

const index = (keys: Array<[string, string[]]>, table = 'Odd "Table"'): UniqueIndex => ({
  schema: 'app',
  name: 'odd_key',
  table,
  keys: keys.map(([definition, columns]) => ({ definition, columns, commaFree: false })),
  definitions: keys.map(([definition]) => definition),
  commaFree: keys.map(() => false),
  columns: keys.flatMap(([, columns]) => columns),
  parent: undefined
})

t.test('checkReplay: true, false, the options, and clear errors', async (t) => {
  t.same(checkReplay(true, 'w', ['POST']), {})
  t.equal(checkReplay(false, 'w', ['POST']), undefined)
  t.equal(checkReplay(undefined, 'w', ['POST']), undefined)
  const values = (): object => ({})
  t.same(checkReplay({ key: 'k', status: 201, columns: ['id'], table: 'app.users', values }, 'w', ['GET']), { key: 'k', status: 201, columns: ['id'], table: 'app.users', values })
  const refused: Array<[unknown, RegExp, string[]?]> = [
    ['yes', /^fastify-pg-conflict: w must be true or an object/],
    [{ keys: 'k' }, /w has an unknown option "keys" \(known: key, status/],
    [{ key: '' }, /w\.key must be a column name/],
    [{ status: 204 }, /w\.status must be 200 or 201/],
    [{ columns: 'id' }, /w\.columns must be an array of column names/],
    [{ columns: [''] }, /w\.columns must be an array/],
    [{ table: 'a.b.c' }, /w\.table must be a table name/],
    [{ table: 3 }, /w\.table must be a table name/],
    [{ values: {} }, /w\.values must be a function/],
    [{ respond: 'row' }, /w\.respond must be a function/],
    [true, /w needs to know which values the route wrote: a GET, HEAD route has no body.*give values/, ['GET', 'HEAD']]
  ]
  for (const [replay, message, methods] of refused) {
    t.throws(() => checkReplay(replay, 'w', methods ?? ['POST']), { code: 'PG_CONFLICT_INVALID_OPTION', message }, String(message))
  }
})

t.test('violatedIndex: only a 23505 naming an index of the catalog, on that index\'s table', async (t) => {
  const users = { ...index([['email', ['email']]], 'users'), name: 'users_email_key' }
  const catalog = new IndexCatalog([users], [])
  const error = (fields: Partial<PgErrorFields>): PgErrorFields => ({ error: {}, code: '23505', message: '', detail: undefined, constraint: 'users_email_key', schema: 'app', table: 'users', column: undefined, ...fields })
  t.equal(violatedIndex(catalog, error({})), users)
  t.equal(violatedIndex(catalog, error({ schema: undefined })), users, 'an error naming no schema: the one index of that name')
  t.equal(violatedIndex(undefined, error({})), undefined, 'no catalog')
  t.equal(violatedIndex(catalog, error({ code: '23P01' })), undefined, 'an exclusion violation')
  t.equal(violatedIndex(catalog, error({ constraint: undefined })), undefined, 'no constraint')
  t.equal(violatedIndex(catalog, error({ constraint: 'nope' })), undefined, 'an index the catalog does not have')
  t.equal(violatedIndex(catalog, error({ table: 'other' })), undefined, 'another table')
  t.equal(violatedIndex(catalog, error({ schema: 'elsewhere' })), undefined, 'another schema')
})

t.test('replayQuery: catalog names quoted, values one JSON parameter; nothing when the row cannot be found by the key', async (t) => {
  const odd = index([['"Org ""Id"""', ['Org "Id"']], ['email', ['email']]])
  const columns = ['id', 'Org "Id"', 'email', 'name', 'secret']
  const query = replayQuery(odd, columns, new Map<string, unknown>([['Org "Id"', 7], ['email', "a'b@example.com"], ['name', null]]), ['id']) as NonNullable<ReturnType<typeof replayQuery>>
  t.same(query.selected, ['id', 'Org "Id"', 'email', 'name'], 'the supplied columns, the key\'s and those shown: never secret')
  t.same(query.values, [JSON.stringify({ 'Org "Id"': 7, email: "a'b@example.com", name: null }), '"app"."Odd ""Table"""', columns])
  t.match(query.text, 'FROM ONLY "app"."Odd ""Table""" t, jsonb_populate_record(NULL::"app"."Odd ""Table""", $1::text::jsonb) r')
  t.match(query.text, 't."Org ""Id""" = r."Org ""Id""" AND t."email" = r."email"')
  t.match(query.text, 't."name" IS NOT DISTINCT FROM r."name"')
  t.notMatch(query.text, "a'b", 'no value in the text')
  t.equal(replayQuery(index([['lower(email)', ['email']]]), columns, new Map([['email', 'a']]), []), undefined, 'an expression key')
  t.equal(replayQuery(odd, columns, new Map([['email', 'a']]), []), undefined, 'a key column not supplied')
  t.equal(replayQuery(odd, columns, new Map<string, unknown>([['email', 'a'], ['Org "Id"', null]]), []), undefined, 'a key column supplied as null')
})

t.test('a database that cannot be reached: no replay, no throw, tried again next time', async (t) => {
  const pool = new pg.Pool({ host: '127.0.0.1', port: 1, connectionTimeoutMillis: 1000 })
  t.teardown(async () => { await pool.end() })
  const replayer = new Replayer(() => pool)
  const request = { supplied: () => new Map([['email', 'a']]), fieldName: (column: string) => column }
  const warned: string[] = []
  const log = { warn: (_: object, msg: string) => { warned.push(msg) } }
  const users = index([['email', ['email']]], 'users')
  t.equal(await replayer.replay(users, {}, request, new Deadline(2000), log), undefined)
  t.equal(await replayer.replay(users, {}, request, new Deadline(2000), log), undefined)
  t.same(warned, [], 'the columns could not be read: nothing was asked, nothing to say')
})
