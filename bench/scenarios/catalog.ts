/**
 * 5. Scale of the catalog: start-up cost and memory with many unique indexes (10 000 by default)
 * in a throwaway schema, created in chunks and dropped at the end; and what the catalog version
 * query costs at that scale.
 */
import { config } from '../lib/config.js'
import { pinning, startWorker } from '../lib/processes.js'
import { median } from '../lib/rounds.js'
import { showNumber, type ScenarioResult } from '../lib/report.js'
import type { CatalogMeasure } from '../workers/catalog.js'

/** The plugin's default catalog.timeout: start-up waits no longer for the first read. */
const CATALOG_TIMEOUT = 2000

export async function catalog (log: (line: string) => void): Promise<ScenarioResult> {
  const worker = startWorker('catalog', { cpu: pinning.server, label: 'catalog', nodeFlags: ['--expose-gc'] })
  const count = config.catalogIndexes
  try {
    log(`creating ${count} unique indexes in a throwaway schema`)
    const created = await worker.call<{ ms: number, indexes: number }>('create', { count })
    log(`created ${created.indexes} in ${showNumber(created.ms / 1000, 1)} s; measuring`)
    const measured = await worker.call<CatalogMeasure>('measure', { rounds: config.rounds })
    const read = median(measured.rounds.map((r) => r.read))
    const query = median(measured.rounds.map((r) => r.query))
    const plugin = median(measured.rounds.map((r) => r.readyPlugin))
    const bare = median(measured.rounds.map((r) => r.readyBare))
    const cost = median(measured.rounds.map((r) => r.readyPlugin - r.readyBare))
    const describe = median(measured.rounds.map((r) => r.describeAfterReady))
    const version = median(measured.rounds.map((r) => r.version))
    const versionScanned = median(measured.rounds.map((r) => r.versionScanned))
    const scenario = `5 catalog (${showNumber(measured.indexes)} indexes, ${showNumber(measured.keys)} keys)`
    return {
      figures: [
        {
          scenario,
          measure: 'readUniqueIndexes, ms: A in all, B its catalog query alone (PostgreSQL + pg parsing the rows)',
          a: `${showNumber(read)} ms`,
          b: `${showNumber(query)} ms`,
          result: `${showNumber(read * 1e6 / measured.indexes)} ns per index`
        },
        {
          scenario,
          measure: `start-up: register + ready(), ms, A with the plugin, B without; result: A − B per round (then describe() right after ready: ${showNumber(describe, 2)} ms)`,
          a: `${showNumber(plugin)} ms`,
          b: `${showNumber(bare, 1)} ms`,
          result: `**+${showNumber(cost)} ms**`,
          target: `< ${CATALOG_TIMEOUT} ms (catalog.timeout), catalog ready`,
          met: Math.max(...measured.rounds.map((r) => r.readyPlugin)) < CATALOG_TIMEOUT && describe < 5
        },
        {
          scenario,
          measure: 'catalog version query (asked by a violation the error cannot confirm: a check, a key without DETAIL, an unknown name), ms: A while the database is unchanged (two index probes), B after a change elsewhere (the schemas scanned)',
          a: `${showNumber(version, 2)} ms`,
          b: `${showNumber(versionScanned, 2)} ms`,
          result: `a read (above) costs ${showNumber(read / version)} × A, ${showNumber(read / versionScanned)} × B`
        },
        {
          scenario,
          measure: 'heap: A kept by the IndexCatalog (after GC), B growth right after the read (before GC)',
          a: `${showNumber(measured.heap.retained / 2 ** 20, 1)} MB`,
          b: `${showNumber(measured.heap.afterRead / 2 ** 20, 1)} MB`,
          result: `${showNumber(measured.heap.retained / measured.indexes)} B per index`
        }
      ],
      raw: { created, ...measured }
    }
  } finally {
    const dropped = await worker.call<{ ms: number }>('drop', { count }).catch((error: unknown) => { log(`could not drop the catalog schema: ${String(error)}`); return undefined })
    if (dropped !== undefined) log(`dropped in ${showNumber(dropped.ms / 1000, 1)} s`)
    await worker.stop()
  }
}
