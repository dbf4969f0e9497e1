import { IndexCatalog, readCatalogVersion, readTableConstraints, readUniqueIndexes, type CatalogVersion, type Queryable } from './catalog.js'
import { Deadline } from '../util/deadline.js'

export interface CatalogCacheOptions {
  /** Schemas to read; every user schema when absent. */
  schemas: readonly string[] | undefined
  /**
   * When the server gives no catalog version: an unknown name reads the catalog again at most
   * this often, in ms, for the whole process (not per name: names are the error's to choose).
   */
  minRefreshInterval: number
  /** Longest anyone waits for a read of the catalog, in ms, when no deadline of a request's is given. */
  timeout: number
  /** Told after each successful read. */
  onRead: (catalog: IndexCatalog) => void
  /** Told when a read fails; the catalog read before stays in use. */
  onError: (error: unknown) => void
  /** Whether reads take the indexes' details the `allConflicts` check needs (asked at each read: a level may turn it on later). */
  keyDetails?: () => boolean
}

/**
 * The catalog of unique indexes and constraints, read once at start-up and again only when it has
 * changed. Whether it has is asked with a version query (`CATALOG_VERSION_SQL`: two index probes
 * while nothing changed in the database, a scan of the schemas' constraints and indexes otherwise)
 * when an error names something the catalog does not know, or something whose description the
 * error cannot confirm (a check constraint; a key without DETAIL); an error whose DETAIL shows
 * the keys the catalog has (the steady state of unique and foreign key violations) costs no query.
 *
 * One read at a time and one version query at a time (requests that arrive meanwhile share the
 * next one, which starts after their error arrived), each waited for at most the request's
 * deadline: a read that hangs (a saturated pool) delays nobody longer and does not stop the next
 * one. Reads for unknown names are bounded for the whole process: by the version (a read only
 * when the catalog changed), or without one by `minRefreshInterval`.
 */
export class CatalogCache {
  catalog = new IndexCatalog()
  /** Whether a read has succeeded: from then on the catalog is the source of names and columns. */
  loaded = false
  /** The version of the catalog in hand; `undefined` until a read with one, or when the server gives none. */
  private version: string | undefined
  /** The database's version when the schemas' was last found to be `version`. */
  private global: string | undefined
  private reading: Promise<void> | undefined
  /** When `reading` began. */
  private readSince = 0
  /** When the last read for an unknown name began, when there is no version to go by. */
  private missReadAt = Number.NEGATIVE_INFINITY
  /** The version query under way, and the one queued after it. */
  private asking: Promise<CatalogVersion | undefined> | undefined
  private queued: Promise<CatalogVersion | undefined> | undefined

  constructor (private readonly db: Queryable, private readonly options: CatalogCacheOptions) {}

  /** Reads the catalog (or joins the read under way) and waits for it, at most the deadline (or `timeout`). Never rejects. */
  async refresh (deadline?: Deadline): Promise<void> {
    // A read older than `timeout` is taken for stuck: the next refresh starts one of its own (a late read still updates the catalog).
    if (this.reading === undefined || performance.now() - this.readSince >= this.options.timeout) {
      const reading = this.read()
      this.reading = reading
      this.readSince = performance.now()
      void reading.then(() => { if (this.reading === reading) this.reading = undefined })
    }
    await (deadline ?? new Deadline(this.options.timeout)).within(this.reading)
  }

  private async read (): Promise<void> {
    try {
      // One after the other: `db` may be a single client. The version first: a change made during
      // the read makes the next version differ, and costs one read more, never one less.
      const version = await readCatalogVersion(this.db, this.options.schemas)
      const keyDetails = this.options.keyDetails?.() === true
      const indexes = await readUniqueIndexes(this.db, this.options.schemas, keyDetails)
      const constraints = await readTableConstraints(this.db, this.options.schemas)
      this.catalog = new IndexCatalog(indexes, constraints)
      this.catalog.keyDetails = keyDetails
      this.version = version?.version
      this.global = version?.global
      this.loaded = true
      this.options.onRead(this.catalog)
    } catch (error) {
      this.options.onError(error)
    }
  }

  /**
   * Makes sure the catalog in hand is the database's as of now: asks the version (sharing a query
   * that started after this call), and reads the catalog again if it changed. Within the deadline;
   * never rejects. Without a version to compare, does nothing.
   */
  async current (deadline: Deadline): Promise<void> {
    if (this.version === undefined) return
    const asked = await deadline.within(this.askVersion())
    if (asked === undefined) return // not in time, or not read: the catalog in hand answers
    if (asked.version === undefined || asked.version === this.version) {
      this.global = asked.global // (nothing changed in the schemas read since)
      return
    }
    await this.refresh(deadline)
  }

  /**
   * What `lookup` finds in the catalog once it is current, for a name the catalog in hand did not
   * know (or knew out of date). When the version says nothing changed and the name is still not
   * found (a rename keeps the OIDs the version counts), or without a version to go by, the
   * catalog is read again at most once per `minRefreshInterval` for the whole process, whatever
   * the names.
   */
  async findAfterRefresh<T> (lookup: (catalog: IndexCatalog) => T | undefined, deadline: Deadline): Promise<T | undefined> {
    if (this.version !== undefined) {
      const before = this.catalog
      await this.current(deadline)
      const found = lookup(this.catalog)
      if (found !== undefined || this.catalog !== before) return found // (read just now: not again)
    }
    if (performance.now() - this.missReadAt >= this.options.minRefreshInterval) {
      this.missReadAt = performance.now()
      await this.refresh(deadline)
    }
    return lookup(this.catalog)
  }

  /** The version as of a query that starts now, or right after the one under way (which may have started before the caller's error). */
  private askVersion (): Promise<CatalogVersion | undefined> {
    if (this.asking === undefined) return this.startAsking()
    this.queued ??= this.asking.then(() => {
      this.queued = undefined
      return this.startAsking()
    })
    return this.queued
  }

  private startAsking (): Promise<CatalogVersion | undefined> {
    const asking = readCatalogVersion(this.db, this.options.schemas, this.global).catch((error: unknown) => {
      this.options.onError(error)
      return undefined
    }).finally(() => { if (this.asking === asking) this.asking = undefined })
    this.asking = asking
    return asking
  }
}
