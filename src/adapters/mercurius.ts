import type { FastifyBaseLogger, FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { findPgError, integrityKind, type PgErrorFields } from '../core/recognise.js'
import { defaultBody, type ConflictBody } from '../core/respond.js'
import type { Conflict } from '../core/describe.js'
import { isPromise, type Understood } from '../engine/engine.js'
import { checkKeys, fail } from '../engine/options.js'
import { INTERNALS, type PluginInternals } from './fastify.js'

/**
 * `fastify-pg-conflict/mercurius`: integrity errors raised in mercurius resolvers become GraphQL
 * errors whose `extensions` say what the plugin's HTTP answer says (code, status, fields; the
 * constraint, table and values only as `expose` allows), with the error's message, path and
 * locations as GraphQL gives them.
 *
 * mercurius's `errorFormatter` is synchronous, and an answer may have to wait for the catalog (a
 * check constraint's version query, a name read again, a sequence check): so the translation
 * happens where the error is thrown, by wrapping the schema's resolvers once the app is ready (as
 * mercurius-cache does). graphql-js then makes the GraphQL error, with its path, and takes the
 * `extensions` of the error thrown. Nothing of mercurius or graphql is imported: the schema is
 * reached through `app.graphql`.
 */

/** What a GraphQL client reads in `errors[].extensions` for an integrity error. */
export interface ConflictExtensions {
  /** `PG_UNIQUE_VIOLATION`, `PG_FOREIGN_KEY_VIOLATION`… or a constraint's own. */
  code: string
  /** The HTTP answer's message (the GraphQL error's `message` too). */
  message: string
  /** The status the HTTP answer would have (409, 422…); the HTTP status of the GraphQL response is mercurius's. */
  status: number
  fields: string[]
  /** With `expose: { constraint: true }`. */
  constraint?: string
  table?: string
  /** With `expose: { values: true }`. */
  values?: Record<string, string>
}

/** `pgConflictMercurius` has no options of its own: every setting is the plugin's, or the GraphQL route's `config.conflict`. */
export type PgConflictMercuriusOptions = Record<never, never>

/**
 * The error thrown in place of the driver's, which graphql-js turns into the GraphQL error.
 * No `statusCode`: mercurius would make a lone error's the response's HTTP status, and the
 * GraphQL response keeps mercurius's (200). The description and the driver's error are not
 * enumerable, so that a logged error does not carry the values.
 */
class GraphQLIntegrityError extends Error {
  readonly extensions: ConflictExtensions | { code: string, message: string, status: number }
  declare readonly conflict: Conflict | undefined

  constructor (message: string, extensions: GraphQLIntegrityError['extensions'], cause: unknown, conflict?: Conflict) {
    super(message)
    this.name = 'GraphQLIntegrityError'
    this.extensions = extensions
    Object.defineProperty(this, 'cause', { value: cause, configurable: true, writable: true })
    Object.defineProperty(this, 'conflict', { value: conflict })
  }
}

/** The extensions of an answered error: the default body's code, message, status and fields, and what it exposes. */
function extensionsOf (body: ConflictBody): ConflictExtensions {
  const extensions: ConflictExtensions = { code: body.code, message: body.message, status: body.statusCode, fields: body.fields }
  if (body.constraint !== undefined) extensions.constraint = body.constraint
  if (body.table !== undefined) extensions.table = body.table
  if (body.values !== undefined) extensions.values = body.values
  return extensions
}

// The little of graphql-js's schema this needs, written out so as not to import graphql.
type Resolver = (source: unknown, args: unknown, context: unknown, info: unknown) => unknown
interface SchemaLike { getTypeMap: () => Record<string, { name: string, getFields?: () => Record<string, { resolve?: Resolver }> }> }

/** On the resolvers this plugin installed: the one each wraps, so that no resolver is wrapped twice. */
const WRAPPED = Symbol('fastify-pg-conflict.resolver')

/** Options Fastify's `register` itself takes, which reach the plugin too (Fastify refuses options that are not an object). */
const REGISTER_KEYS = ['prefix', 'logLevel', 'logSerializers'] as const

function internalsOf (fastify: FastifyInstance): PluginInternals {
  const internals = (fastify.pgConflict as unknown as Record<symbol, PluginInternals | undefined> | undefined)?.[INTERNALS]
  if (internals === undefined) fail('fastify-pg-conflict/mercurius', 'needs the fastify-pg-conflict plugin registered first, in this scope or a parent')
  return internals
}

const plugin: FastifyPluginAsync<PgConflictMercuriusOptions> = async function pgConflictMercurius (fastify, options) {
  checkKeys(options, REGISTER_KEYS, 'fastify-pg-conflict/mercurius options')
  const { engine, levelOf, deadlineOf, sequenceFault, answered } = internalsOf(fastify)
  const graphql = (fastify as { graphql?: { schema: SchemaLike } }).graphql
  if (graphql === undefined) fail('fastify-pg-conflict/mercurius', 'needs mercurius registered first, in this scope or a parent')

  /**
   * What a resolver threw, as the GraphQL error it becomes: thrown again as it was (synchronously)
   * unless it is an integrity error the request's route answers, which is answered with a promise.
   * An error carrying `extensions` of its own (mercurius's `ErrorWithProps`, a GraphQLError) is the
   * application's answer already, and stays.
   */
  function translate (thrown: unknown, context: unknown): Promise<never> {
    const pgError = hasExtensions(thrown) ? undefined : findPgError(thrown)
    const kind = pgError === undefined ? undefined : integrityKind(pgError)
    if (kind === undefined) throw thrown
    // mercurius's context has the reply; `app.graphql()` called directly, none (the plugin's settings then).
    const request = (context as { reply?: FastifyReply }).reply?.request
    const level = request === undefined ? undefined : levelOf(request)
    if (level === false || !engine.mayAnswer(kind, level)) throw thrown
    const log = request?.log ?? fastify.log
    const understood = engine.resolve(pgError as PgErrorFields, kind, level, log, request === undefined ? engine.deadline() : deadlineOf(request))
    return isPromise(understood)
      ? understood.then((found) => answer(found, thrown, request, log))
      : answer(understood, thrown, request, log)
  }

  async function answer (understood: Understood | undefined, thrown: unknown, request: FastifyRequest | undefined, log: FastifyBaseLogger): Promise<never> {
    if (understood === undefined) throw thrown // its refined kind (a row still referenced) is not answered here
    if (understood.fault !== undefined) {
      // The server's fault (an id sequence behind its table): as over HTTP, a 500 that names nothing, and the fix in the log.
      answered(understood.conflict, 500)
      await sequenceFault(understood.fault, request, log, 'answered as an internal error')
      throw new GraphQLIntegrityError('Internal Server Error', { code: 'INTERNAL_SERVER_ERROR', message: 'Internal Server Error', status: 500 }, thrown)
    }
    engine.logAnswer(understood, log)
    const body = defaultBody(understood.conflict, understood.settings)
    answered(understood.conflict, body.statusCode)
    throw new GraphQLIntegrityError(body.message, extensionsOf(body), thrown, understood.conflict)
  }

  /** The resolver, answering the integrity errors it throws; what it returns is untouched (no promise added to a value returned synchronously). */
  function wrap (resolve: Resolver): Resolver {
    const wrapped: Resolver = (source, args, context, info) => {
      let result: unknown
      try {
        result = resolve(source, args, context, info)
      } catch (error) {
        return translate(error, context)
      }
      // graphql-js's own test of a promise.
      return typeof (result as { then?: unknown } | null)?.then === 'function'
        ? (result as Promise<unknown>).then(undefined, (error: unknown) => translate(error, context))
        : result
    }
    return Object.assign(wrapped, { [WRAPPED]: resolve })
  }

  /** Every field resolver of the schema, wrapped (once). Fields without one read a property: they throw nothing of the database's. */
  function wrapSchema (schema: SchemaLike): void {
    for (const type of Object.values(schema.getTypeMap())) {
      if (type.name.startsWith('__') || typeof type.getFields !== 'function') continue
      for (const field of Object.values(type.getFields())) {
        if (typeof field.resolve === 'function' && !(WRAPPED in field.resolve)) field.resolve = wrap(field.resolve)
      }
    }
  }

  // When every plugin has defined its resolvers and loaders, before the first request (and before graphql-jit compiles any query).
  fastify.addHook('onReady', async () => { wrapSchema(graphql.schema) })
}

function hasExtensions (thrown: unknown): boolean {
  const extensions = (thrown as { extensions?: unknown } | null | undefined)?.extensions
  return typeof extensions === 'object' && extensions !== null
}

// The two plugins it needs are checked above rather than as fastify-plugin `dependencies`, to say how to fix it.
export const pgConflictMercurius = fp(plugin, { fastify: '5.x', name: 'fastify-pg-conflict-mercurius' })
