import { CONFLICT_CODE } from './respond.js'

/**
 * JSON Schemas of the answers, for routes that declare their responses (and for OpenAPI). Each
 * call of the `…Schema()` functions gives a new object: a schema object shared between routes is
 * one that a later change to one route would change for all.
 */

const exposed = {
  constraint: { type: 'string' },
  table: { type: 'string' },
  values: { type: 'object', additionalProperties: { type: 'string' } }
} as const

/** The default body, any status. */
export function errorBodySchema (): Record<string, unknown> {
  return {
    type: 'object',
    required: ['statusCode', 'code', 'error', 'message', 'fields'],
    properties: {
      statusCode: { type: 'integer' },
      code: { type: 'string' },
      error: { type: 'string' },
      message: { type: 'string' },
      fields: { type: 'array', items: { type: 'string' } },
      ...structuredClone(exposed)
    }
  }
}

/** The RFC 9457 Problem Details body. */
export function problemBodySchema (): Record<string, unknown> {
  return {
    type: 'object',
    required: ['type', 'title', 'status', 'detail', 'code', 'errors'],
    properties: {
      type: { type: 'string' },
      title: { type: 'string' },
      status: { type: 'integer' },
      detail: { type: 'string' },
      instance: { type: 'string' },
      code: { type: 'string' },
      errors: {
        type: 'array',
        items: {
          type: 'object',
          required: ['detail', 'pointer', 'field'],
          properties: { detail: { type: 'string' }, pointer: { type: 'string' }, field: { type: 'string' } }
        }
      },
      ...structuredClone(exposed)
    }
  }
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
    ...exposed
  }
} as const

/** JSON Schema of the Problem Details body, to add once with `app.addSchema` and refer to as `fastify-pg-conflict-problem#`. */
export const problemResponseSchema = { $id: 'fastify-pg-conflict-problem', ...problemBodySchema() } as const
