import type { Conflict } from '../core/describe.js'
import type { RetriedKind, RetryCounting } from '../races/counters.js'
import type { Log } from '../engine/engine.js'

/**
 * OpenTelemetry, when the application has `@opentelemetry/api` (an optional peer dependency): the
 * span active while the plugin answers (the request's span) gets the attributes an operator filters
 * on, and answers, retries, recoveries and give-ups are counted as metrics. The API is imported
 * once, at registration: without the package nothing is loaded and nothing changes. With the
 * package but no SDK registered, its no-op span and meter cost next to nothing. Either way only
 * the error path and the retry loops call in here. See docs/opentelemetry.md.
 */

/** What this module uses of `@opentelemetry/api`, typed here: the peer is optional, so its types stay out of the package's. */
export interface OtelApi {
  trace: { getActiveSpan: () => OtelSpan | undefined }
  metrics: { getMeter: (name: string) => OtelMeter }
}
interface OtelSpan {
  setAttributes: (attributes: Attributes) => unknown
}
interface OtelMeter {
  createCounter: (name: string, options: { description: string, unit: string }) => OtelCounter
}
interface OtelCounter {
  add: (value: number, attributes?: Attributes) => void
}
type Attributes = Record<string, string | number>

/**
 * The attributes. `db.response.status_code` and `error.type` are stable semantic conventions; for
 * PostgreSQL both are the SQLSTATE (semconv: `error.type` SHOULD match the status code the database
 * returned). No convention names a constraint, so it is ours: `pg_conflict.constraint`, as is
 * `pg_conflict.kind` (the plugin's kind: `unique`, `foreignKey`, …).
 */
export const ATTRIBUTES = {
  statusCode: 'db.response.status_code',
  errorType: 'error.type',
  httpStatus: 'http.response.status_code',
  constraint: 'pg_conflict.constraint',
  kind: 'pg_conflict.kind'
} as const

/** The meter's name (the instrumentation scope). */
export const METER_NAME = 'fastify-pg-conflict'

/** The counters: names in the plugin's namespace, units as UCUM annotations (semconv's metric guidelines). */
export const METRICS = {
  answers: { name: 'pg_conflict.answers', unit: '{answer}', description: 'Integrity errors answered by fastify-pg-conflict, by kind, constraint, SQLSTATE and HTTP status' },
  retries: { name: 'pg_conflict.retries', unit: '{retry}', description: 'Attempts started again after a conflict, by constraint and kind' },
  recoveries: { name: 'pg_conflict.recoveries', unit: '{recovery}', description: 'Conflicts after which a later attempt succeeded, by constraint and kind' },
  giveUps: { name: 'pg_conflict.give_ups', unit: '{give_up}', description: 'Conflicts still there after the last attempt allowed, by constraint and kind' }
} as const

type Instruments = Record<keyof typeof METRICS, OtelCounter>

/** The plugin's link to OpenTelemetry, for one registration. */
export class Telemetry {
  private instruments: Instruments | undefined

  constructor (private readonly api: OtelApi) {}

  /**
   * The counters, made at their first use rather than at registration: the API hands out a no-op
   * meter for good when no SDK is registered yet, and applications often start theirs later.
   */
  private get counters (): Instruments {
    if (this.instruments === undefined) {
      const meter = this.api.metrics.getMeter(METER_NAME)
      const make = ({ name, unit, description }: { name: string, unit: string, description: string }): OtelCounter => meter.createCounter(name, { unit, description })
      this.instruments = { answers: make(METRICS.answers), retries: make(METRICS.retries), recoveries: make(METRICS.recoveries), giveUps: make(METRICS.giveUps) }
    }
    return this.instruments
  }

  /** The plugin answered `conflict` with `status`: the active span says so, and the answer is counted. */
  answered (conflict: Conflict, status: number): void {
    const attributes: Attributes = {
      [ATTRIBUTES.kind]: conflict.kind,
      [ATTRIBUTES.statusCode]: conflict.error.code
    }
    if (conflict.constraint !== undefined) attributes[ATTRIBUTES.constraint] = conflict.constraint
    this.api.trace.getActiveSpan()?.setAttributes({ ...attributes, [ATTRIBUTES.errorType]: conflict.error.code })
    this.counters.answers.add(1, { ...attributes, [ATTRIBUTES.httpStatus]: status })
  }

  /** `counting`, which the retry loops count into, with each count also a metric. */
  counting (counting: RetryCounting): RetryCounting {
    const attributes = (constraint: string | undefined, kind: RetriedKind): Attributes =>
      constraint === undefined ? { [ATTRIBUTES.kind]: kind } : { [ATTRIBUTES.kind]: kind, [ATTRIBUTES.constraint]: constraint }
    return {
      retried: (constraint, kind) => {
        counting.retried(constraint, kind)
        this.counters.retries.add(1, attributes(constraint, kind))
      },
      recovered: (constraint, kind) => {
        counting.recovered(constraint, kind)
        this.counters.recoveries.add(1, attributes(constraint, kind))
      },
      gaveUp: (constraint, kind) => {
        counting.gaveUp(constraint, kind)
        this.counters.giveUps.add(1, attributes(constraint, kind))
      }
    }
  }
}

/** The one import of `@opentelemetry/api`, shared by every registration in the process. */
let imported: Promise<OtelApi> | undefined
const importApi = async (): Promise<OtelApi> => await (imported ??= import('@opentelemetry/api'))

/** Node's codes for a module that cannot be found: ESM's `import()`, CommonJS's `require()`. */
const NOT_FOUND = new Set(['ERR_MODULE_NOT_FOUND', 'MODULE_NOT_FOUND'])

/**
 * `@opentelemetry/api` if the application has it and `enabled` (the `telemetry` option), else
 * `undefined`. A package that is there but fails to load is said in a warning, and telemetry is off:
 * the plugin's answers do not depend on it.
 */
export async function loadTelemetry (enabled: boolean, log: Pick<Log, 'warn'>, load: () => Promise<OtelApi> = importApi): Promise<Telemetry | undefined> {
  if (!enabled) return undefined
  try {
    return new Telemetry(await load())
  } catch (err) {
    if (!NOT_FOUND.has((err as { code?: unknown } | null)?.code as string)) {
      log.warn({ err }, 'fastify-pg-conflict: @opentelemetry/api is installed but could not be loaded; telemetry is off (the option telemetry: false turns it off without this warning)')
    }
    return undefined
  }
}
