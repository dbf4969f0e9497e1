import { InvalidOptionError } from '../util/errors.js'

/**
 * Prisma's names for a table's columns, read from the data model every generated Prisma client
 * carries: a model's `dbName` is its `@@map` (the table; the model's name without one), a field's
 * `dbName` its `@map` (the column; the field's name without one). Only a plain object is read:
 * nothing here loads Prisma.
 */

interface ModelField {
  name: string
  dbName?: string | null
  kind?: string
}

interface Model {
  dbName?: string | null
  fields: ModelField[]
}

/** Taken when a column is Prisma's under two field names and which one is not known. */
const AMBIGUOUS = Symbol('ambiguous')

type Names = Map<string, string | typeof AMBIGUOUS>

/**
 * A `fieldName` giving Prisma's field names: the column `org_id` of the table `teams` is the field
 * `orgId` when the model mapped to `teams` says `orgId Int @map("org_id")`. `source` is what the
 * application has: `Prisma.dmmf` (the `prisma-client-js` generator exports it), or the
 * PrismaClient itself (the `prisma-client` generator exports no `dmmf`; the client keeps the same
 * data model, on `_runtimeDataModel`). Read once, here; a wrong `source` throws
 * `InvalidOptionError` now, not at the first conflict.
 *
 * Without the table (an error that names none and no catalog), a column gets the field name every
 * model gives it, if they agree. A column or table Prisma does not know keeps its name.
 */
export function prismaFieldNames (source: object): (column: string, table?: string) => string {
  const byTable = new Map<string, Names>()
  const anyTable: Names = new Map()
  for (const [name, model] of modelsOf(source)) {
    const table = model.dbName ?? name
    let columns = byTable.get(table)
    if (columns === undefined) byTable.set(table, columns = new Map())
    for (const field of model.fields) {
      if (field.kind === 'object') continue // a relation: no column of its own
      const column = field.dbName ?? field.name
      note(columns, column, field.name)
      note(anyTable, column, field.name)
    }
  }
  return (column, table) => {
    const columns = table === undefined ? anyTable : byTable.get(table)
    const field = columns?.get(column)
    return typeof field === 'string' ? field : column
  }
}

/** Records that `column` is the field `field`; two different fields for one column (the same table name in two schemas) are ambiguous. */
function note (names: Names, column: string, field: string): void {
  const known = names.get(column)
  names.set(column, known === undefined || known === field ? field : AMBIGUOUS)
}

/** The models, by name, of `Prisma.dmmf`, of a PrismaClient, or of the runtime data model itself. */
function modelsOf (source: object): Array<[string, Model]> {
  if (typeof source !== 'object' || source === null) throw invalid(`it is ${source === null ? 'null' : typeof source}`)
  const dmmf = (source as { datamodel?: { models?: unknown } }).datamodel
  if (dmmf !== undefined) {
    const models = dmmf?.models
    if (Array.isArray(models) && models.every((model) => isModel(model) && typeof (model as { name?: unknown }).name === 'string')) {
      return models.map((model: Model & { name: string }) => [model.name, model])
    }
    throw invalid('its datamodel.models are not models with a name and fields')
  }
  const runtime = (source as { _runtimeDataModel?: unknown })._runtimeDataModel ?? source
  const models = (runtime as { models?: unknown }).models
  if (typeof models === 'object' && models !== null && !Array.isArray(models)) {
    const entries = Object.entries(models)
    if (entries.every(([, model]) => isModel(model))) return entries as Array<[string, Model]>
  }
  throw invalid('it is neither Prisma.dmmf nor a PrismaClient')
}

function isModel (value: unknown): value is Model {
  if (typeof value !== 'object' || value === null) return false
  const { dbName, fields } = value as { dbName?: unknown, fields?: unknown }
  return (dbName === undefined || dbName === null || typeof dbName === 'string') && Array.isArray(fields) && fields.every(isField)
}

function isField (value: unknown): value is ModelField {
  if (typeof value !== 'object' || value === null) return false
  const { name, dbName } = value as { name?: unknown, dbName?: unknown }
  return typeof name === 'string' && (dbName === undefined || dbName === null || typeof dbName === 'string')
}

function invalid (why: string): Error {
  return new InvalidOptionError(`prismaFieldNames() takes Prisma.dmmf (prisma-client-js) or a PrismaClient; ${why}`)
}
