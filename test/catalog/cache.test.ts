// The catalog cache's limits, where the database cannot be made to misbehave on cue. (Its use
// against a real server, names reused and the version query's cost, is in catalog.test.ts.)
import t from 'tap'
import { CatalogCache } from '../../src/catalog/cache.js'
import { CATALOG_VERSION_SQL, type Queryable } from '../../src/catalog/catalog.js'
import { Deadline } from '../../src/util/deadline.js'

const none = (): undefined => undefined
const soon = (): Deadline => new Deadline(1000)

/** A database with an empty catalog whose version is `version.value` (none when undefined); counts its queries. */
function fakeDatabase (version: { value: string | undefined }): Queryable & { reads: number, versions: number } {
  const db = {
    reads: 0,
    versions: 0,
    query: async (text: string, values?: unknown[]) => {
      if (text === CATALOG_VERSION_SQL) {
        db.versions++
        // (The database's version is the schemas' here: null when it is the one the caller last saw.)
        return { rows: version.value === undefined ? [] : [{ global: version.value, version: values?.[1] === version.value ? null : version.value }] }
      }
      db.reads++
      return { rows: [] }
    }
  }
  return db
}

t.test('without a catalog version, unknown names read the catalog at most once per minRefreshInterval, for the whole process', async (t) => {
  const db = fakeDatabase({ value: undefined })
  const cache = new CatalogCache(db, { schemas: undefined, minRefreshInterval: 60_000, timeout: 1000, onRead: () => {}, onError: () => {} })
  for (let i = 0; i < 1000; i++) await cache.findAfterRefresh(none, soon())
  t.equal(db.reads, 2, 'a thousand names, each new: one read (two queries), not one per name')
  const ticking = new CatalogCache(db, { schemas: undefined, minRefreshInterval: 0, timeout: 1000, onRead: () => {}, onError: () => {} })
  await ticking.findAfterRefresh(none, soon())
  await ticking.findAfterRefresh(none, soon())
  t.equal(db.reads, 6, 'with no interval, each reads')
})

t.test('with a version, an unknown name costs one version query, and a read only when the version changed', async (t) => {
  const version = { value: '100/200' }
  const db = fakeDatabase(version)
  const cache = new CatalogCache(db, { schemas: undefined, minRefreshInterval: 60_000, timeout: 1000, onRead: () => {}, onError: () => {} })
  await cache.refresh()
  t.equal(db.reads, 2, 'the first read')
  t.ok(cache.loaded, 'loaded')
  for (let i = 0; i < 100; i++) await cache.findAfterRefresh(none, soon())
  t.equal(db.reads, 4, 'a hundred unknown names, the catalog unchanged: one read (a rename keeps the version), then none within minRefreshInterval')
  t.equal(db.versions, 102, 'one version query each (and the reads\' own)')
  version.value = '101/200'
  await cache.findAfterRefresh(none, soon())
  t.equal(db.reads, 6, 'the version changed: read again')
  await cache.findAfterRefresh(none, soon())
  t.equal(db.reads, 6, 'and not again')
})

t.test('the database changed elsewhere, the schemas read did not: no read, and the new database version remembered', async (t) => {
  const state = { global: 'g1', version: 'v1' }
  let reads = 0
  const asked: unknown[] = []
  const db: Queryable = {
    query: async (text: string, values?: unknown[]) => {
      if (text !== CATALOG_VERSION_SQL) {
        reads++
        return { rows: [] }
      }
      asked.push(values?.[1])
      return { rows: [{ global: state.global, version: values?.[1] === state.global ? null : state.version }] }
    }
  }
  const cache = new CatalogCache(db, { schemas: ['app'], minRefreshInterval: 0, timeout: 1000, onRead: () => {}, onError: () => {} })
  await cache.refresh()
  state.global = 'g2' // a table made in another schema
  await cache.current(soon())
  await cache.current(soon())
  t.equal(reads, 2, 'only the first read')
  t.same(asked, [null, 'g1', 'g2'], 'the read asks both; then the last database version seen is given, so the schemas\' is skipped while it holds')
})

t.test('without a version to compare, current() asks nothing', async (t) => {
  const db = fakeDatabase({ value: undefined })
  const cache = new CatalogCache(db, { schemas: undefined, minRefreshInterval: 0, timeout: 1000, onRead: () => {}, onError: () => {} })
  await cache.refresh()
  const before = db.versions
  await cache.current(soon())
  t.equal(db.versions, before)
})

t.test('version queries are shared: callers that arrive while one runs share the next one, never one that began before them', async (t) => {
  const db = fakeDatabase({ value: '1/1' })
  const cache = new CatalogCache(db, { schemas: undefined, minRefreshInterval: 0, timeout: 1000, onRead: () => {}, onError: () => {} })
  await cache.refresh()
  const before = db.versions
  await Promise.all(Array.from({ length: 50 }, async () => { await cache.current(soon()) }))
  t.equal(db.versions - before, 2, 'fifty at once: the first one\'s query, and one more for all the others')
})

t.test('a version query that fails is told, and leaves the catalog as it is', async (t) => {
  const errors: unknown[] = []
  let fail = false
  const db: Queryable = {
    query: async (text: string) => {
      if (text === CATALOG_VERSION_SQL) {
        if (fail) throw new Error('connection lost')
        return { rows: [{ global: '1/1', version: '1/1' }] }
      }
      return { rows: [] }
    }
  }
  const cache = new CatalogCache(db, { schemas: undefined, minRefreshInterval: 0, timeout: 1000, onRead: () => {}, onError: (error) => errors.push(error) })
  await cache.refresh()
  fail = true
  await cache.current(soon())
  t.match(errors, [{ message: 'connection lost' }])
  t.ok(cache.loaded)
})

t.test('a read that never ends delays each caller at most the deadline, and does not stop the next read', async (t) => {
  let queries = 0
  const stuckOnce: Queryable = {
    query: async () => {
      queries++
      if (queries === 1) return await new Promise<never>(() => {}) // a pool that never hands out a connection
      return { rows: [] }
    }
  }
  const cache = new CatalogCache(stuckOnce, { schemas: undefined, minRefreshInterval: 0, timeout: 20, onRead: () => {}, onError: () => {} })
  await cache.refresh()
  t.equal(queries, 1, 'the first read hangs; refresh() returned after the timeout')
  await new Promise((resolve) => setTimeout(resolve, 5)) // (timers may fire a fraction of a millisecond early)
  await cache.refresh()
  t.equal(queries, 4, 'the next refresh reads again (its three queries) instead of waiting on the stuck one')
  const started = performance.now()
  await cache.refresh(new Deadline(0))
  t.ok(performance.now() - started < 1000, 'a deadline already past: no wait')
})
