import { IndexCatalog, readTableConstraints, readUniqueIndexes, type Queryable } from './catalog.js'
import { within } from '../util/within.js'

export interface CatalogCacheOptions {
  /** Schemas to read; every user schema when absent. */
  schemas: readonly string[] | undefined
  /** The same unknown index name reads the catalog again at most this often, in ms. */
  minRefreshInterval: number
  /** Longest anyone waits for a read of the catalog, in ms; a request then answers from DETAIL alone. */
  timeout: number
  /** Told after each successful read. */
  onRead: (catalog: IndexCatalog) => void
  /** Told when a read fails; the catalog read before stays in use. */
  onError: (error: unknown) => void
}

/** How many unknown names to remember; past that the memory starts again (a bound, not a tuning knob). */
const MAX_UNKNOWN = 1000

/**
 * The catalog of unique indexes, read once at start-up and again when a violation names an index
 * it does not know (a migration added one) or whose keys no longer match DETAIL (a migration
 * replaced it). One read at a time, waited for at most `timeout`: a read that hangs (a saturated
 * pool) delays nobody longer and does not stop the next one. A name still unknown after a read (an
 * index outside the schemas read, a name made up by `RAISE`) reads again at most once per
 * `minRefreshInterval`. No query at all in the steady state.
 */
export class CatalogCache {
  catalog = new IndexCatalog()
  private reading: Promise<void> | undefined
  /** Names still unknown after a read, with the time that read began. */
  private readonly unknown = new Map<string, number>()

  constructor (private readonly db: Queryable, private readonly options: CatalogCacheOptions) {}

  /** Reads the catalog (or joins the read under way) and waits for it, at most `timeout`. Never rejects. */
  async refresh (): Promise<void> {
    if (this.reading === undefined) {
      const reading = this.read()
      this.reading = reading
      // Past the timeout the next refresh starts a read of its own; a late read still updates the catalog.
      void within(reading, this.options.timeout).then(() => { if (this.reading === reading) this.reading = undefined })
    }
    await within(this.reading, this.options.timeout)
  }

  private async read (): Promise<void> {
    try {
      // One after the other: `db` may be a single client.
      const indexes = await readUniqueIndexes(this.db, this.options.schemas)
      const constraints = await readTableConstraints(this.db, this.options.schemas)
      this.catalog = new IndexCatalog(indexes, constraints)
      this.options.onRead(this.catalog)
    } catch (error) {
      this.options.onError(error)
    }
  }

  /**
   * What `lookup` finds in the catalog after reading it again, for a name the catalog read before
   * did not know (or knew out of date): unless `key` (the name) already read it within
   * `minRefreshInterval`. The cached catalog is for the caller to try first, without waiting.
   */
  async findAfterRefresh<T> (key: string, lookup: (catalog: IndexCatalog) => T | undefined): Promise<T | undefined> {
    const missedAt = this.unknown.get(key)
    if (missedAt !== undefined && performance.now() - missedAt < this.options.minRefreshInterval) return undefined
    const startedAt = performance.now()
    await this.refresh()
    const found = lookup(this.catalog)
    if (found !== undefined) return found
    if (this.unknown.size >= MAX_UNKNOWN) this.unknown.clear()
    this.unknown.set(key, startedAt)
    return undefined
  }
}
