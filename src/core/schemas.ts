import { CONFLICT_CODE } from './respond.js'

/**
 * JSON Schemas of the answers, for routes that declare their responses (and for OpenAPI). Each
 * call of the `…Schema()` functions gives a new object: a schema object shared between routes is
 * one that a later change to one route would change for all.
 */

export interface BodySchemaOptions {
  /**
   * For a status the route's other answers share (what the `openapi` option adds): nothing
   * required and any other property allowed, so that a 409 the route throws or sends itself is
   * serialized as it would be without the schema. Default `false`: the plugin's body, with the
   * properties it always has required.
   */
  open?: boolean
}

const exposed = {
  constraint: { type: 'string' },
  table: { type: 'string' },
  values: { type: 'object', additionalProperties: { type: 'string' } }
} as const

/** `conflicts`, with `allConflicts`: each conflicting unique key's fields and message (and constraint, when exposed). */
function conflictsSchema (): Record<string, unknown> {
  return {
    type: 'array',
    items: { type: 'object', required: ['fields', 'message'], properties: { fields: { type: 'array', items: { type: 'string' } }, message: { type: 'string' }, constraint: { type: 'string' } } }
  }
}

function object (properties: Record<string, unknown>, required: string[], open: boolean): Record<string, unknown> {
  return open ? { type: 'object', properties, additionalProperties: true } : { type: 'object', required, properties }
}

/** The default body, any status. */
export function errorBodySchema ({ open = false }: BodySchemaOptions = {}): Record<string, unknown> {
  return object({
    statusCode: { type: 'integer' },
    code: { type: 'string' },
    error: { type: 'string' },
    message: { type: 'string' },
    fields: { type: 'array', items: { type: 'string' } },
    ...structuredClone(exposed),
    conflicts: conflictsSchema()
  }, ['statusCode', 'code', 'error', 'message', 'fields'], open)
}

/** The RFC 9457 Problem Details body (its properties in the order they are sent). */
export function problemBodySchema ({ open = false }: BodySchemaOptions = {}): Record<string, unknown> {
  // A body member's entry has `pointer`; a path or query parameter's or a header's, `parameter` and `in`.
  const error = object({
    detail: { type: 'string' },
    pointer: { type: 'string' },
    parameter: { type: 'string' },
    in: { type: 'string', enum: ['path', 'query', 'header'] },
    field: { type: 'string' }
  }, ['detail', 'field'], open)
  return object({
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string' },
    errors: { type: 'array', items: error },
    instance: { type: 'string' },
    ...structuredClone(exposed)
  }, ['type', 'title', 'status', 'detail', 'code', 'errors'], open)
}

/** JSON Schema of the 409 body of a unique violation, for a route's `response: { 409: conflictResponseSchema }`. */
export const conflictResponseSchema = {
  $id: 'fastify-pg-conflict',
  type: 'object',
  required: ['statusCode', 'code', 'error', 'message', 'fields'],
  properties: {
    statusCode: { type: 'integer', const: 409 },
    code: { type: 'string', const: CONFLICT_CODE },
    error: { type: 'string', const: 'Conflict' },
    message: { type: 'string' },
    fields: { type: 'array', items: { type: 'string' } },
    ...exposed,
    conflicts: {
      type: 'array',
      items: { type: 'object', required: ['fields', 'message'], properties: { fields: { type: 'array', items: { type: 'string' } }, message: { type: 'string' }, constraint: { type: 'string' } } }
    }
  }
} as const

/** JSON Schema of the Problem Details body, to add once with `app.addSchema` and refer to as `fastify-pg-conflict-problem#`. */
export const problemResponseSchema = { $id: 'fastify-pg-conflict-problem', ...problemBodySchema() } as const
