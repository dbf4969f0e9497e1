import type { FastifySchema } from 'fastify'
import type { ConflictEngine } from '../engine/engine.js'
import type { ResponseFormat } from '../core/respond.js'
import { answers, resolveSettings, type Level } from '../core/rules.js'
import { INTEGRITY_KINDS } from '../core/recognise.js'
import { errorBodySchema, problemBodySchema } from '../core/schemas.js'
import { STATUS_CODES } from 'node:http'

/**
 * The `openapi` option: a route with `config.conflict` gets the JSON Schemas of the answers it can
 * give in its `response`, so that `@fastify/swagger` documents them. A new schema object each
 * time (never one shared with another route). A status the route declares itself, or covers with
 * `4xx`/`5xx` (any case) or `default`, is left as the route has it. The schemas added are open
 * (`{ open: true }`): Fastify serializes every answer of that status with them, the route's own
 * 409s included, and these keep what they hold.
 */
export function withResponseSchemas (schema: FastifySchema | undefined, format: ResponseFormat<never> | undefined, statuses: readonly number[]): FastifySchema | undefined {
  if (typeof format === 'function') return schema // a body of the application's making: its schema is the application's
  const response = (schema?.response ?? {}) as Record<string, unknown>
  const declared = new Set(Object.keys(response).map((key) => key.toLowerCase())) // Fastify takes `4XX` for `4xx`
  const [mediaType, body] = format === 'problem' ? ['application/problem+json', problemBodySchema] : ['application/json', errorBodySchema]
  const added: Record<string, unknown> = {}
  for (const status of statuses) {
    if (declared.has(String(status)) || declared.has(`${String(status).charAt(0)}xx`) || declared.has('default')) continue
    added[status] = { description: STATUS_CODES[status] ?? 'Error', content: { [mediaType]: { schema: body({ open: true }) } } }
  }
  if (Object.keys(added).length === 0) return schema
  return { ...schema, response: { ...response, ...added } }
}

/** The statuses of the answers a route can give: each kind it answers, and each status a constraint rule sets (if it answers any). */
export function answeredStatuses (engine: ConflictEngine, route: Level): number[] {
  const statuses = new Set<number>()
  for (const kind of INTEGRITY_KINDS) {
    if (answers(kind, route, engine.plugin)) statuses.add(resolveSettings(kind, [], route, engine.plugin).status)
  }
  if (statuses.size === 0) return []
  for (const rule of [...route.rules.rules, ...engine.plugin.rules.rules]) if (rule.status !== undefined) statuses.add(rule.status)
  return [...statuses].sort((a, b) => a - b)
}
