import type { IntegrityKind } from './recognise.js'

/**
 * What each kind of integrity error is answered with by default, and why:
 * - `unique`, `exclusion`: 409, the request clashes with a row that exists (RFC 9110 §15.5.10);
 * - `foreignKey`: 422, the request refers to a row that does not exist: well-formed, not acceptable;
 * - `referenced`: 409, the row cannot go while others refer to it: the state of the server, not the request;
 * - `notNull`, `check`: 422, a value the request sent (or left out) is not acceptable;
 * - `serialization` (40001, 40P01): 503 with Retry-After, the same request can succeed a moment later;
 * - `cardinality` (21000 from ON CONFLICT or MERGE): 422, the request's batch holds one key twice.
 */
export interface KindDefaults {
  status: number
  /** The `code` of the body and of the error handed to the application's error handlers. */
  code: string
  /** The default message, naming the fields in plain words. */
  message: (fields: readonly string[]) => string
}

export const KIND_DEFAULTS: Readonly<Record<IntegrityKind, KindDefaults>> = {
  unique: {
    status: 409,
    code: 'PG_UNIQUE_VIOLATION',
    message: (fields) => fields.length === 0 ? 'A record with these values already exists.' : `A record with this ${named(fields)} already exists.`
  },
  exclusion: {
    status: 409,
    code: 'PG_EXCLUSION_VIOLATION',
    message: (fields) => fields.length === 0 ? 'These values conflict with an existing record.' : `This ${named(fields)} conflicts with an existing record.`
  },
  foreignKey: {
    status: 422,
    code: 'PG_FOREIGN_KEY_VIOLATION',
    message: (fields) => fields.length === 0 ? 'A referenced record does not exist.' : `The record referenced by ${named(fields)} does not exist.`
  },
  referenced: {
    status: 409,
    code: 'PG_STILL_REFERENCED',
    message: () => 'The record is still referenced by other records.'
  },
  notNull: {
    status: 422,
    code: 'PG_NOT_NULL_VIOLATION',
    message: (fields) => fields.length === 0 ? 'A required value is missing.' : `A value for ${named(fields)} is required.`
  },
  check: {
    status: 422,
    code: 'PG_CHECK_VIOLATION',
    message: (fields) => fields.length === 0 ? 'A value is not allowed.' : `The value of ${named(fields)} is not allowed.`
  },
  serialization: {
    status: 503,
    code: 'PG_SERIALIZATION_FAILURE',
    message: () => 'The request conflicted with another one running at the same time; try again.'
  },
  cardinality: {
    status: 422,
    code: 'PG_CARDINALITY_VIOLATION',
    message: () => 'The request holds the same record more than once.'
  }
}

/** `email`, `org_id and name`, `a, b and c`. */
function named (fields: readonly string[]): string {
  return fields.length === 1
    ? fields[0] as string
    : `${fields.slice(0, -1).join(', ')} and ${fields[fields.length - 1] as string}`
}

/** Seconds a 503 for a serialization failure or deadlock asks the client to wait (`Retry-After`). */
export const DEFAULT_RETRY_AFTER = 1
