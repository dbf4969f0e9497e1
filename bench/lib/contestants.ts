/**
 * The resolution benchmark's contestants, each turning the same real unique-violation errors
 * into a description, and the errors themselves, captured from the database.
 */
import dbErrors from 'db-errors'
import type pg from 'pg'
import { describeConflict, detailAgainst, type FieldNaming } from '../../src/core/describe.js'
import { findUniqueViolation, type PgErrorFields } from '../../src/core/recognise.js'
import { scanKeyDetail, type KeyScan } from '../../src/core/detail.js'
import { IndexCatalog, readUniqueIndexes } from '../../src/catalog/catalog.js'
import { CASES, errorOf } from './db.js'

export interface Case {
  name: string
  error: pg.DatabaseError
  /** The error as the plugin recognised it (findUniqueViolation), for the core without recognition. */
  fields: PgErrorFields
}

/** One real error per kind of key, and the catalog of the run's schema read by readUniqueIndexes. */
export async function captureCases (pool: pg.Pool, schema: string): Promise<{ cases: Case[], catalog: IndexCatalog }> {
  const cases: Case[] = []
  for (const c of CASES) {
    const error = await errorOf(pool, c.insert)
    const fields = findUniqueViolation(error)
    if (fields === undefined) throw new Error(`${c.name}: not a unique violation: ${error.message}`)
    cases.push({ name: c.name, error, fields })
  }
  return { cases, catalog: new IndexCatalog(await readUniqueIndexes(pool, [schema])) }
}

const naming: FieldNaming = { fields: undefined, fieldName: (column) => column }

const NAIVE = /Key \((.+)\)=\((.+)\) already exists/

export interface Contestant {
  name: string
  /** A step of the core, measured alone to show where its time and bytes go; not a contestant of its own. */
  step?: boolean
  /** Describes the case's error; what it returns is what a caller would keep. */
  describe: (c: Case) => unknown
  /** The field names it reports for the case. */
  fieldsOf: (result: unknown) => string[]
}

export function contestants (catalog: IndexCatalog, cases: readonly Case[]): Contestant[] {
  /** The plugin's core, as the engine (src/engine/engine.ts) runs it per conflict: DETAIL, catalog lookup, description. */
  const core = (pgError: PgErrorFields): ReturnType<typeof describeConflict> => {
    const index = pgError.constraint === undefined ? undefined : catalog.find(pgError.constraint, pgError.schema)
    const known = index === undefined ? null : detailAgainst(pgError, index)
    return describeConflict(pgError, index, naming, known ?? scanKeyDetail(pgError.detail))
  }
  const parsed = new Map<Case, KeyScan | number | undefined>()
  for (const c of cases) {
    const index = catalog.find(c.fields.constraint as string, c.fields.schema)
    parsed.set(c, (index === undefined ? null : detailAgainst(c.fields, index)) ?? scanKeyDetail(c.fields.detail))
  }
  const conflictFields = (result: unknown): string[] => (result as ReturnType<typeof describeConflict>).fields
  return [
    {
      name: 'core: catalog + detailAgainst + describeConflict',
      describe: (c) => core(c.fields),
      fieldsOf: conflictFields
    },
    {
      name: 'step: catalog.find + detailAgainst (DETAIL read against the index)',
      step: true,
      describe: (c) => {
        const index = catalog.find(c.fields.constraint as string, c.fields.schema)
        return index === undefined ? undefined : detailAgainst(c.fields, index)
      },
      fieldsOf: () => []
    },
    {
      name: 'step: catalog.find + describeConflict (DETAIL read)',
      step: true,
      describe: (c) => {
        const detail = parsed.get(c)
        const index = c.fields.constraint === undefined ? undefined : catalog.find(c.fields.constraint, c.fields.schema)
        return describeConflict(c.fields, index, naming, detail)
      },
      fieldsOf: conflictFields
    },
    {
      name: 'core + recognise (findUniqueViolation)',
      describe: (c) => {
        const pgError = findUniqueViolation(c.error)
        return pgError === undefined ? undefined : core(pgError)
      },
      fieldsOf: conflictFields
    },
    {
      name: 'db-errors wrapError',
      describe: (c) => dbErrors.wrapError(c.error),
      fieldsOf: (result) => (result as dbErrors.UniqueViolationError).columns ?? []
    },
    {
      name: 'naive regex',
      describe: (c) => {
        const match = NAIVE.exec(c.error.detail ?? '')
        return match === null ? undefined : { fields: (match[1] as string).split(', '), values: (match[2] as string).split(', ') }
      },
      fieldsOf: (result) => (result as { fields: string[] } | undefined)?.fields ?? []
    }
  ]
}
