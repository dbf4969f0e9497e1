import { IndexCatalog, readUniqueIndexes, type Queryable, type UniqueIndex } from './catalog.js'

export interface CatalogCacheOptions {
  /** Schemas to read; every user schema when absent. */
  schemas: readonly string[] | undefined
  /** Least time between two reads of the catalog, in ms: an unknown index name reads it again at most this often. */
  minRefreshInterval: number
  /** Longest a request waits for a read of the catalog, in ms, before it answers from DETAIL alone. */
  timeout: number
  /** Told when a read fails; the catalog read before stays in use. */
  onError: (error: unknown) => void
}

/**
 * The catalog of unique indexes, read once at start-up and again when a violation names an index
 * it does not know (a migration added one). One read at a time; at most one per
 * `minRefreshInterval`; no query at all in the steady state.
 */
export class CatalogCache {
  catalog = new IndexCatalog()
  private reading: Promise<void> | undefined
  private lastRead = Number.NEGATIVE_INFINITY

  constructor (private readonly db: Queryable, private readonly options: CatalogCacheOptions) {}

  /** Reads the catalog, or joins the read under way. Never rejects: a failure goes to `onError`. */
  refresh (): Promise<void> {
    this.reading ??= this.read().finally(() => { this.reading = undefined })
    return this.reading
  }

  private async read (): Promise<void> {
    this.lastRead = performance.now()
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
    if (this.reading === undefined && performance.now() - this.lastRead < this.options.minRefreshInterval) return undefined
    await withTimeout(this.refresh(), this.options.timeout)
    return this.catalog.find(name, schema)
  }
}

function withTimeout (promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<void>((resolve) => { timer = setTimeout(resolve, ms) })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
