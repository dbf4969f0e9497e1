// The catalog cache's limits, where the database cannot be made to misbehave on cue.
import t from 'tap'
import { CatalogCache } from '../src/catalog-cache.js'
import type { Queryable } from '../src/catalog.js'

t.test('unknown names are remembered within a bound, and each reads the catalog at most once per interval', async (t) => {
  let reads = 0
  const empty: Queryable = { query: async () => { reads++; return { rows: [] } } }
  const cache = new CatalogCache(empty, { schemas: undefined, minRefreshInterval: 60_000, timeout: 1000, onError: () => {} })
  for (let i = 0; i < 1000; i++) await cache.find(`made_up_${i}`, 'public')
  t.equal(reads, 1000, 'each new unknown name reads once')
  await cache.find('made_up_0', 'public')
  t.equal(reads, 1000, 'a remembered one does not')
  await cache.find('made_up_1000', 'public') // the 1001st: the memory starts again
  await cache.find('made_up_0', 'public')
  t.equal(reads, 1002, 'past the bound the memory starts again, so it cannot grow without end')
})
