// The catalog cache's limits, where the database cannot be made to misbehave on cue.
import t from 'tap'
import { CatalogCache } from '../../src/catalog/cache.js'
import type { Queryable } from '../../src/catalog/catalog.js'

t.test('unknown names are remembered within a bound, and each reads the catalog at most once per interval', async (t) => {
  let reads = 0
  const empty: Queryable = { query: async () => { reads++; return { rows: [] } } }
  const cache = new CatalogCache(empty, { schemas: undefined, minRefreshInterval: 60_000, timeout: 1000, onRead: () => {}, onError: () => {} })
  const none = (): undefined => undefined
  for (let i = 0; i < 1000; i++) await cache.findAfterRefresh(`made_up_${i}`, none)
  t.equal(reads, 2000, 'each new unknown name reads once (two queries a read)')
  await cache.findAfterRefresh('made_up_0', none)
  t.equal(reads, 2000, 'a remembered one does not')
  await cache.findAfterRefresh('made_up_1000', none) // the 1001st: the memory starts again
  await cache.findAfterRefresh('made_up_0', none)
  t.equal(reads, 2004, 'past the bound the memory starts again, so it cannot grow without end')
})

t.test('a read that never ends delays each caller at most the timeout, and does not stop the next read', async (t) => {
  let reads = 0
  const stuckOnce: Queryable = {
    query: async () => {
      reads++
      if (reads === 1) return await new Promise<never>(() => {}) // a pool that never hands out a connection
      return { rows: [] }
    }
  }
  const cache = new CatalogCache(stuckOnce, { schemas: undefined, minRefreshInterval: 0, timeout: 20, onRead: () => {}, onError: () => {} })
  await cache.refresh()
  t.equal(reads, 1, 'the first read hangs; refresh() returned after the timeout')
  await cache.refresh()
  t.equal(reads, 3, 'the next refresh reads again (both its queries) instead of waiting on the stuck one')
})
