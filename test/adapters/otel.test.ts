// OpenTelemetry with the real libraries: @fastify/otel makes the request's span, the SDK's
// in-memory exporters keep what the plugin reports. The span of a request the plugin answers
// carries the SQLSTATE, error.type and the constraint; answers, retries, recoveries and give-ups
// are metrics; `counters()` counts as before. The Express middleware reports its answers on the
// active span and in the same metric. Without @opentelemetry/api (made unresolvable in a
// child process, ESM and CommonJS builds), nothing is loaded and the answers are the same.
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { context, metrics, trace, type Attributes } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics'
import { FastifyOtelInstrumentation } from '@fastify/otel'
import type { FastifyInstance } from 'fastify'
import express from 'express'
import fastifyPgConflict from '../../src/index.js'
import { pgConflict } from '../../src/adapters/express.js'
import { loadTelemetry } from '../../src/adapters/otel.js'
import { buildApp } from '../helpers/app.js'
import { databaseUrl, testDatabase } from '../helpers/db.js'
import { listen, request } from '../helpers/express.js'

const db = await testDatabase(t, 'otel')
await db.exec(`
  CREATE TABLE teams (id int PRIMARY KEY);
  CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL CONSTRAINT users_email_key UNIQUE, team_id int CONSTRAINT users_team_fk REFERENCES teams (id));
  INSERT INTO users (email) VALUES ('ada@example.com');
  CREATE TABLE things (id serial PRIMARY KEY);
  INSERT INTO things (id) VALUES (1), (2);
`)
const DUPLICATE = "INSERT INTO users (email) VALUES ('ada@example.com')"

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
const spans = new InMemorySpanExporter()
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }))

/** A meter provider of the test's own, made global (the plugin takes its meter at the first answer): what it counted, by metric. */
function meterFor (t: Test): () => Promise<Record<string, Array<{ attributes: Attributes, value: number }>>> {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })
  const provider = new MeterProvider({ readers: [reader] })
  metrics.disable()
  metrics.setGlobalMeterProvider(provider)
  spans.reset()
  t.teardown(() => provider.shutdown())
  return async () => {
    await reader.forceFlush()
    const found: Record<string, Array<{ attributes: Attributes, value: number }>> = {}
    for (const { scopeMetrics } of exporter.getMetrics()) {
      for (const { scope, metrics: list } of scopeMetrics) {
        t.equal(scope.name, 'fastify-pg-conflict', 'the meter is the plugin\'s')
        for (const metric of list) found[metric.descriptor.name] = metric.dataPoints.map(({ attributes, value }) => ({ attributes, value: value as number }))
      }
    }
    exporter.reset()
    return found
  }
}

/** An app with @fastify/otel registered first, as its documentation says, then the plugin. */
async function otelApp (t: Test, options: Record<string, unknown> = {}): Promise<FastifyInstance> {
  const { app } = buildApp(t)
  await app.register(new FastifyOtelInstrumentation({ registerOnInitialization: false }).plugin())
  await app.register(fastifyPgConflict, { pool: db.pool, catalog: { schemas: [db.schema] }, ...options })
  return app
}

/** The attributes of the request span of each request, by route. */
function requestSpans (): Record<string, Attributes> {
  const byRoute: Record<string, Attributes> = {}
  for (const span of spans.getFinishedSpans()) if (span.name === 'request') byRoute[`${String(span.attributes['http.request.method'])} ${String(span.attributes['http.route'])}`] = span.attributes
  return byRoute
}

const OURS = ['db.response.status_code', 'error.type', 'pg_conflict.constraint', 'pg_conflict.kind']
function ours (attributes: Attributes | undefined): Attributes {
  return Object.fromEntries(Object.entries(attributes ?? {}).filter(([key]) => OURS.includes(key)))
}

t.test('the request span of an answered request carries the SQLSTATE, error.type and the constraint; answers are counted', async (t) => {
  const collect = meterFor(t)
  const app = await otelApp(t)
  app.post('/users', async () => { await db.pool.query(DUPLICATE) })
  app.post('/fk', async () => { await db.pool.query("INSERT INTO users (email, team_id) VALUES ('fk@example.com', 99)") })
  app.post('/syntax', async () => { await db.pool.query('INSERT INTO') })
  app.get('/ok', async () => ({ ok: true }))
  // The id sequence is behind its table (ids inserted by hand): the server's fault, a 500.
  app.post('/things', async () => { await db.pool.query('INSERT INTO things DEFAULT VALUES') })

  const first = await app.inject({ method: 'POST', url: '/users' })
  t.equal(first.statusCode, 409)
  t.same(first.json(), { statusCode: 409, code: 'PG_UNIQUE_VIOLATION', error: 'Conflict', message: 'A record with this email already exists.', fields: ['email'] }, 'the answer is as without OpenTelemetry')
  t.equal((await app.inject({ method: 'POST', url: '/users' })).statusCode, 409)
  t.equal((await app.inject({ method: 'POST', url: '/fk' })).statusCode, 422)
  t.equal((await app.inject({ method: 'POST', url: '/syntax' })).statusCode, 500)
  t.equal((await app.inject({ method: 'GET', url: '/ok' })).statusCode, 200)
  t.equal((await app.inject({ method: 'POST', url: '/things' })).statusCode, 500)

  const byRoute = requestSpans()
  t.same(ours(byRoute['POST /users']), {
    'db.response.status_code': '23505', 'error.type': '23505', 'pg_conflict.constraint': 'users_email_key', 'pg_conflict.kind': 'unique'
  }, 'a unique violation: on the request span @fastify/otel made')
  t.equal(byRoute['POST /users']?.['http.response.status_code'], 409, '(beside @fastify/otel\'s own attributes)')
  t.same(ours(byRoute['POST /fk']), {
    'db.response.status_code': '23503', 'error.type': '23503', 'pg_conflict.constraint': 'users_team_fk', 'pg_conflict.kind': 'foreignKey'
  }, 'a foreign key violation')
  t.same(ours(byRoute['POST /things']), {
    'db.response.status_code': '23505', 'error.type': '23505', 'pg_conflict.constraint': 'things_pkey', 'pg_conflict.kind': 'unique'
  }, 'a sequence behind its table, answered 500')
  t.same(ours(byRoute['POST /syntax']), {}, 'an error the plugin does not answer: nothing of ours')
  t.same(ours(byRoute['GET /ok']), {}, 'a success: nothing of ours')
  t.notOk(spans.getFinishedSpans().some((span) => span.name !== 'request' && Object.keys(ours(span.attributes)).length > 0), 'only the request span')

  const counted = await collect()
  t.same(Object.keys(counted), ['pg_conflict.answers'], 'no retries here: only answers')
  t.same(counted['pg_conflict.answers'], [
    { attributes: { 'pg_conflict.kind': 'unique', 'db.response.status_code': '23505', 'pg_conflict.constraint': 'users_email_key', 'http.response.status_code': 409 }, value: 2 },
    { attributes: { 'pg_conflict.kind': 'foreignKey', 'db.response.status_code': '23503', 'pg_conflict.constraint': 'users_team_fk', 'http.response.status_code': 422 }, value: 1 },
    { attributes: { 'pg_conflict.kind': 'unique', 'db.response.status_code': '23505', 'pg_conflict.constraint': 'things_pkey', 'http.response.status_code': 500 }, value: 1 }
  ], 'by kind, constraint, SQLSTATE and HTTP status')
})

t.test('retries, recoveries and give-ups are metrics by constraint and kind; counters() counts as before', async (t) => {
  const collect = meterFor(t)
  const app = await otelApp(t)
  let attempt = 0
  app.post('/recovers', { config: { conflict: { retry: { attempts: 3, backoff: { base: 1, max: 1 } } } } }, async () => {
    attempt++
    await db.pool.query('INSERT INTO users (email) VALUES ($1)', [attempt === 1 ? 'ada@example.com' : `recovered-${process.pid}@example.com`])
    return { attempt }
  })
  app.post('/gives-up', { config: { conflict: { retry: { attempts: 2, backoff: { base: 1, max: 1 } } } } }, async () => { await db.pool.query(DUPLICATE) })

  t.same((await app.inject({ method: 'POST', url: '/recovers' })).json(), { attempt: 2 }, 'the second attempt succeeds')
  const gaveUp = await app.inject({ method: 'POST', url: '/gives-up' })
  t.equal(gaveUp.statusCode, 409)
  t.equal(requestSpans()['POST /gives-up']?.['pg_conflict.constraint'], 'users_email_key', 'the 409 after the retries: on the span too')
  // A serialization failure the server raised, then success: withTransaction retries it.
  let tries = 0
  await app.pgConflict.withTransaction(async (client) => {
    if (++tries === 1) await client.query("DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = 'serialization_failure'; END $$")
  }, { backoff: { base: 1, max: 1 } })
  t.equal(tries, 2)

  const unique = { 'pg_conflict.kind': 'unique', 'pg_conflict.constraint': 'users_email_key' }
  const serialization = { 'pg_conflict.kind': 'serialization' }
  const counted = await collect()
  t.same(counted['pg_conflict.retries'], [{ attributes: unique, value: 2 }, { attributes: serialization, value: 1 }], 'retries')
  t.same(counted['pg_conflict.recoveries'], [{ attributes: unique, value: 1 }, { attributes: serialization, value: 1 }], 'recoveries')
  t.same(counted['pg_conflict.give_ups'], [{ attributes: unique, value: 1 }], 'give-ups')
  t.same(app.pgConflict.counters(), {
    users_email_key: { retried: 2, recovered: 1, gaveUp: 1 },
    '(none)': { retried: 1, recovered: 1, gaveUp: 0 }
  }, 'the counters() decorator, unchanged')
})

t.test('telemetry: false leaves OpenTelemetry alone', async (t) => {
  const collect = meterFor(t)
  const app = await otelApp(t, { telemetry: false })
  app.post('/users', { config: { conflict: { retry: { attempts: 2, backoff: { base: 1, max: 1 } } } } }, async () => { await db.pool.query(DUPLICATE) })
  t.equal((await app.inject({ method: 'POST', url: '/users' })).statusCode, 409)
  t.same(ours(requestSpans()['POST /users']), {}, 'no attributes')
  t.same(await collect(), {}, 'no metrics')
  t.same(app.pgConflict.counters(), { users_email_key: { retried: 1, recovered: 0, gaveUp: 1 } }, 'counters() still counts')
})

t.test('Express: the span active in the error middleware gets the same attributes; answers are counted', async (t) => {
  const collect = meterFor(t)
  const tracer = trace.getTracer('test')
  const app = express()
  // As the HTTP instrumentation does: each request runs in a span of its own, made active.
  app.use((req, res, next) => {
    tracer.startActiveSpan(`${req.method} ${req.path}`, (span) => {
      res.on('finish', () => { span.end() })
      next()
    })
  })
  app.post('/users', async () => { await db.pool.query(DUPLICATE) })
  app.post('/things', async () => { await db.pool.query('INSERT INTO things DEFAULT VALUES') })
  const middleware = pgConflict({ pool: db.pool, catalog: { schemas: [db.schema] } })
  await middleware.ready()
  app.use(middleware)
  const url = await listen(t, app)
  const response = await request(`${url}/users`)
  t.equal(response.status, 409)
  t.same(response.json, { statusCode: 409, code: 'PG_UNIQUE_VIOLATION', error: 'Conflict', message: 'A record with this email already exists.', fields: ['email'] })
  t.equal((await request(`${url}/things`)).status, 500, 'a sequence behind its table: passed on as a 500')
  const byName = Object.fromEntries(spans.getFinishedSpans().map((span) => [span.name, ours(span.attributes)]))
  t.same(byName['POST /users'], { 'db.response.status_code': '23505', 'error.type': '23505', 'pg_conflict.constraint': 'users_email_key', 'pg_conflict.kind': 'unique' })
  t.same(byName['POST /things'], { 'db.response.status_code': '23505', 'error.type': '23505', 'pg_conflict.constraint': 'things_pkey', 'pg_conflict.kind': 'unique' })
  t.same((await collect())['pg_conflict.answers'], [
    { attributes: { 'pg_conflict.kind': 'unique', 'db.response.status_code': '23505', 'pg_conflict.constraint': 'users_email_key', 'http.response.status_code': 409 }, value: 1 },
    { attributes: { 'pg_conflict.kind': 'unique', 'db.response.status_code': '23505', 'pg_conflict.constraint': 'things_pkey', 'http.response.status_code': 500 }, value: 1 }
  ])
})

t.test('Express: telemetry: false leaves OpenTelemetry alone', async (t) => {
  const collect = meterFor(t)
  const app = express()
  app.use((_req, res, next) => { trace.getTracer('test').startActiveSpan('request', (span) => { res.on('finish', () => { span.end() }); next() }) })
  app.post('/users', async () => { await db.pool.query(DUPLICATE) })
  const middleware = pgConflict({ pool: db.pool, catalog: { schemas: [db.schema] }, telemetry: false })
  await middleware.ready()
  app.use(middleware)
  t.equal((await request(`${await listen(t, app)}/users`)).status, 409)
  t.same(spans.getFinishedSpans().map((span) => ours(span.attributes)), [{}], 'no attributes')
  t.same(await collect(), {}, 'no metrics')
})

t.test('the option is checked at registration (Fastify) or when the middleware is made (Express)', async (t) => {
  const { app } = buildApp(t)
  await t.rejects(async () => { await app.register(fastifyPgConflict, { telemetry: 'yes' as unknown as boolean }) }, { code: 'PG_CONFLICT_INVALID_OPTION', message: /options\.telemetry must be true or false/ })
  t.throws(() => pgConflict({ telemetry: 1 as unknown as boolean }), { code: 'PG_CONFLICT_INVALID_OPTION', message: /options\.telemetry must be true or false/ }, 'Express: the same')
})

t.test('loading the API: absent is silence; there but broken is a warning; either way no telemetry', async (t) => {
  const warnings: unknown[] = []
  const log = { warn: (obj: unknown) => { warnings.push(obj) } }
  for (const code of ['ERR_MODULE_NOT_FOUND', 'MODULE_NOT_FOUND']) {
    t.equal(await loadTelemetry(true, log, async () => { throw Object.assign(new Error('Cannot find package'), { code }) }), undefined, code)
  }
  t.same(warnings, [], 'absent: nothing said')
  const broken = new SyntaxError('Unexpected token')
  t.equal(await loadTelemetry(true, log, async () => { throw broken }), undefined)
  t.same(warnings, [{ err: broken }], 'broken: a warning')
  t.equal(await loadTelemetry(false, log, async () => { throw new Error('not called') }), undefined, 'switched off: not loaded')
})

// Without the package: a child process where @opentelemetry/api cannot be resolved, by import()
// (a module resolve hook) or require() (Node's resolver patched), which notes each attempt.
const repo = fileURLToPath(new URL('../..', import.meta.url))
const built = existsSync(join(repo, 'dist', 'cjs', 'index.js')) && existsSync(join(repo, 'dist', 'esm', 'index.js'))

const HIDE = `
import { register, createRequire } from 'node:module'
import { appendFileSync } from 'node:fs'
const hooks = \`
import { appendFileSync } from 'node:fs'
export async function resolve (specifier, context, next) {
  if (specifier === '@opentelemetry/api') {
    appendFileSync(process.env.ASKED, 'import\\\\n')
    throw Object.assign(new Error("Cannot find package '@opentelemetry/api'"), { code: 'ERR_MODULE_NOT_FOUND' })
  }
  return next(specifier, context)
}\`
register('data:text/javascript,' + encodeURIComponent(hooks))
const Module = createRequire(import.meta.url)('node:module')
const resolveFilename = Module._resolveFilename
Module._resolveFilename = function (request, ...rest) {
  if (request === '@opentelemetry/api') {
    appendFileSync(process.env.ASKED, 'require\\n')
    throw Object.assign(new Error("Cannot find module '@opentelemetry/api'"), { code: 'MODULE_NOT_FOUND' })
  }
  return resolveFilename.call(this, request, ...rest)
}
`

/** Two apps in turn, telemetry: false then the default; after each, what was asked for. */
const APPS = (load: string): string => `
import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'
const require = createRequire(process.env.REPO + '/package.json')
const Fastify = require('fastify')
const pg = require('pg')
const plugin = ${load}
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, options: '-c search_path=' + process.env.SCHEMA })
const results = []
for (const options of [{ telemetry: false }, {}]) {
  const app = Fastify()
  await app.register(plugin, { pool, catalog: { schemas: [process.env.SCHEMA] }, ...options })
  app.post('/users', async () => { await pool.query("INSERT INTO users (email) VALUES ('ada@example.com')") })
  const response = await app.inject({ method: 'POST', url: '/users' })
  results.push({ status: response.statusCode, body: response.json(), asked: readFileSync(process.env.ASKED, 'utf8') })
  await app.close()
}
await pool.end()
console.log(JSON.stringify(results))
`

t.test('without @opentelemetry/api: nothing loaded, the same answers (ESM and CommonJS builds)', {
  skip: built ? false : 'dist/ is not built: `npm test` builds it first (npm run build)'
}, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fpc-otel-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'hide.mjs'), HIDE)
  const body = { statusCode: 409, code: 'PG_UNIQUE_VIOLATION', error: 'Conflict', message: 'A record with this email already exists.', fields: ['email'] }
  for (const [build, load, asked] of [
    ['esm', `(await import(process.env.REPO + '/dist/esm/index.js')).default`, 'import\n'],
    ['cjs', "require(process.env.REPO + '/index.cjs')", 'require\n']
  ] as const) {
    const file = join(dir, `${build}.mjs`)
    const askedFile = join(dir, `${build}.asked`)
    await writeFile(file, APPS(load))
    await writeFile(askedFile, '')
    const run = await node(['--import', join(dir, 'hide.mjs'), file], { REPO: repo, DATABASE_URL: databaseUrl(), SCHEMA: db.schema, ASKED: askedFile })
    t.equal(run.code, 0, run.stderr)
    t.same(JSON.parse(run.stdout), [
      { status: 409, body, asked: '' },
      { status: 409, body, asked }
    ], `${build}: telemetry: false asks for nothing; by default the one attempt fails quietly and the answer is the same`)
    t.equal(run.stderr, '', `${build}: nothing said`)
    t.equal(await readFile(askedFile, 'utf8'), asked, `${build}: asked once`)
  }
})

/** With the package: each build's plugin in turn, counting into one meter provider of the script's. */
const PRESENT = `
import { createRequire } from 'node:module'
const require = createRequire(process.env.REPO + '/package.json')
const Fastify = require('fastify')
const pg = require('pg')
const { metrics } = require('@opentelemetry/api')
const { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } = require('@opentelemetry/sdk-metrics')
const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3600000 })
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }))
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, options: '-c search_path=' + process.env.SCHEMA })
const results = []
for (const [build, plugin] of [['esm', (await import(process.env.REPO + '/dist/esm/index.js')).default], ['cjs', require(process.env.REPO + '/index.cjs')]]) {
  const app = Fastify()
  await app.register(plugin, { pool, catalog: { schemas: [process.env.SCHEMA] } })
  app.post('/users', async () => { await pool.query("INSERT INTO users (email) VALUES ('ada@example.com')") })
  const response = await app.inject({ method: 'POST', url: '/users' })
  await reader.forceFlush()
  const answers = exporter.getMetrics().at(-1).scopeMetrics.flatMap((scope) => scope.metrics).find((metric) => metric.descriptor.name === 'pg_conflict.answers')
  results.push({ build, status: response.statusCode, answers: answers.dataPoints.map((point) => point.value) })
  await app.close()
}
await pool.end()
console.log(JSON.stringify(results))
`

t.test('with @opentelemetry/api, the ESM and CommonJS builds both load it and count', {
  skip: built ? false : 'dist/ is not built: `npm test` builds it first (npm run build)'
}, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fpc-otel-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'present.mjs'), PRESENT)
  const run = await node([join(dir, 'present.mjs')], { REPO: repo, DATABASE_URL: databaseUrl(), SCHEMA: db.schema })
  t.equal(run.code, 0, run.stderr)
  t.same(JSON.parse(run.stdout), [
    { build: 'esm', status: 409, answers: [1] },
    { build: 'cjs', status: 409, answers: [2] }
  ], 'one answer each, into the one counter (the API is one, however it is loaded)')
})

interface Run { code: number | null, stdout: string, stderr: string }

async function node (args: string[], env: Record<string, string>): Promise<Run> {
  return await new Promise((resolve) => {
    const plain: NodeJS.ProcessEnv = {}
    for (const [key, value] of Object.entries(process.env)) if (key !== 'NODE_OPTIONS' && key !== 'NODE_V8_COVERAGE' && !/^_?TAP/i.test(key)) plain[key] = value
    const child = spawn(process.execPath, args, { env: { ...plain, ...env }, timeout: 30_000 })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    child.on('close', (code) => { resolve({ code, stdout, stderr }) })
  })
}
