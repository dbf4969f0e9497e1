import { IndexCatalog, readUniqueIndexes, type Queryable, type UniqueIndex } from './catalog.js'

export interface CatalogCacheOptions {
  /** Schemas to read; every user schema when absent. */
  schemas: readonly string[] | undefined
  /** The same unknown index name reads the catalog again at most this often, in ms. */
  minRefreshInterval: number
  /** Longest a request waits for a read of the catalog, in ms, before it answers from DETAIL alone. */
  timeout: number
  /** Told when a read fails; the catalog read before stays in use. */
  onError: (error: unknown) => void
}

/** How many unknown names to remember; past that the memory starts again (a bound, not a tuning knob). */
const MAX_UNKNOWN = 1000

/**
 * The catalog of unique indexes, read once at start-up and again when a violation names an index
 * it does not know (a migration added one). One read at a time; a name still unknown after a read
 * (an index outside the schemas read, a name made up by `RAISE`) reads again at most once per
 * `minRefreshInterval`; no query at all in the steady state.
 */
export class CatalogCache {
  catalog = new IndexCatalog()
  private reading: Promise<void> | undefined
  /** Names still unknown after a read, with the time of that read. */
  private readonly unknown = new Map<string, number>()

  constructor (private readonly db: Queryable, private readonly options: CatalogCacheOptions) {}

  /** Reads the catalog, or joins the read under way. Never rejects: a failure goes to `onError`. */
  refresh (): Promise<void> {
    this.reading ??= this.read().finally(() => { this.reading = undefined })
    return this.reading
  }

  private async read (): Promise<void> {
    try {
      this.catalog = new IndexCatalog(await readUniqueIndexes(this.db, this.options.schemas))
    } catch (error) {
      this.options.onError(error)
    }
  }

  /**
   * The index `name` in `schema`. An unknown name reads the catalog again (unless it was read
   * within `minRefreshInterval`), waiting for it at most `timeout` ms.
   */
  async find (name: string, schema: string | undefined): Promise<UniqueIndex | undefined> {
    const known = this.catalog.find(name, schema)
    if (known !== undefined) return known
    const key = `${schema ?? ''}.${name}`
    const missedAt = this.unknown.get(key)
    if (missedAt !== undefined && performance.now() - missedAt < this.options.minRefreshInterval) return undefined
    const startedAt = performance.now()
    await this.waitFor(this.refresh())
    const found = this.catalog.find(name, schema)
    if (found === undefined) {
      if (this.unknown.size >= MAX_UNKNOWN) this.unknown.clear()
      this.unknown.set(key, startedAt)
    }
    return found
  }

  /** Waits for `promise`, but no longer than `timeout` ms. */
  waitFor (promise: Promise<void>): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<void>((resolve) => { timer = setTimeout(resolve, this.options.timeout) })
    return Promise.race([promise, timeout]).finally(() => { clearTimeout(timer) })
  }
}
