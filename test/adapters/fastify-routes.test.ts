// Which routes the plugin covers, in real Fastify apps, against real PostgreSQL errors: a route
// declared after the registration is answered; one Fastify had before the plugin ran (declared
// before it, or after a registration not awaited, as CommonJS apps without top-level await do) is
// never seen by it, so it is named in a warning heard without a logger, or refused with
// uncoveredRoutes: 'error'. ES modules in-process; CommonJS as a real `require()` of the build.
import t from 'tap'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyPgConflict from '../../src/index.js'
import { WARNING_TYPE } from '../../src/engine/loud.js'
import { buildApp, WARN } from '../helpers/app.js'
import { databaseUrl, testDatabase } from '../helpers/db.js'

const db = await testDatabase(t, 'routes')
await db.exec("CREATE TABLE users (id serial PRIMARY KEY, email text CONSTRAINT users_email_key UNIQUE); INSERT INTO users (email) VALUES ('ada@example.com')")
const options = { pool: db.pool, catalog: { schemas: [db.schema] } }
const duplicate = async (): Promise<void> => { await db.pool.query("INSERT INTO users (email) VALUES ('ada@example.com')") }

/** What `POST url` answers: the status, and whether the body names the constraint. */
async function answer (app: FastifyInstance, url: string): Promise<{ status: number, leaks: boolean }> {
  const response = await app.inject({ method: 'POST', url })
  return { status: response.statusCode, leaks: response.body.includes('users_email_key') }
}

const ANSWERED = { status: 409, leaks: false }
const UNANSWERED = { status: 500, leaks: true }

/** The process warnings emitted while `run` runs. */
async function processWarnings (run: () => Promise<unknown>): Promise<Error[]> {
  const seen: Error[] = []
  const listener = (warning: Error): void => { seen.push(warning) }
  process.on('warning', listener)
  try {
    await run()
    await new Promise((resolve) => setImmediate(resolve))
  } finally {
    process.off('warning', listener)
  }
  return seen
}

t.test('awaited, then routes (in the app or in plugins): every route answered, nothing said', async (t) => {
  const { app, logs } = buildApp(t)
  await app.register(fastifyPgConflict, options)
  app.post('/after', duplicate)
  app.register(async (child) => { child.post('/child', duplicate) })
  await app.ready()
  t.same(await answer(app, '/after'), ANSWERED)
  t.same(await answer(app, '/child'), ANSWERED)
  t.same(logs.filter((line) => line.level === WARN), [])
})

t.test('not awaited, then routes declared at once (CommonJS style): not seen, so not answered, and named in a warning', async (t) => {
  const { app, logs } = buildApp(t)
  void app.register(fastifyPgConflict, options)
  app.post('/after', duplicate)
  app.get('/health', async () => 'ok')
  await app.ready()
  t.same(await answer(app, '/after'), UNANSWERED, 'Fastify gave the route its error handling before the plugin ran')
  const warnings = logs.filter((line) => line.level === WARN).map((line) => line.msg)
  t.equal(warnings.length, 1, 'one warning')
  t.equal(warnings[0], [
    'fastify-pg-conflict: these routes were declared before the plugin was registered, so it never sees them and their integrity errors are not answered ' +
      "(a duplicate gets Fastify's 500, naming the constraint):",
    '  ├── /after (POST)',
    '  └── /health (GET, HEAD)',
    'Register fastify-pg-conflict before declaring routes: `await app.register(fastifyPgConflict, …)` first; without top-level await (CommonJS), ' +
      'declare them in `app.after(() => { … })` or in a plugin registered after it.'
  ].join('\n'))
})

t.test('not awaited, with the routes in app.after() or in a plugin registered after it: answered, nothing said', async (t) => {
  const { app, logs } = buildApp(t)
  void app.register(fastifyPgConflict, options)
  void app.after(() => { app.post('/in-after', duplicate) })
  void app.register(async (routes) => { routes.post('/in-plugin', duplicate) })
  await app.ready()
  t.same(await answer(app, '/in-after'), ANSWERED)
  t.same(await answer(app, '/in-plugin'), ANSWERED)
  t.same(logs.filter((line) => line.level === WARN), [])
})

t.test('routes declared before the registration, in the app or in a plugin registered before: named; later ones answered', async (t) => {
  const { app, logs } = buildApp(t)
  app.post('/before', duplicate)
  void app.register(async (routes) => { routes.post('/plugin-before', duplicate) }, { prefix: '/v1' })
  await app.register(fastifyPgConflict, options)
  app.post('/after', duplicate)
  await app.ready()
  t.same(await answer(app, '/before'), UNANSWERED)
  t.same(await answer(app, '/v1/plugin-before'), UNANSWERED)
  t.same(await answer(app, '/after'), ANSWERED)
  const warnings = logs.filter((line) => line.level === WARN).map((line) => line.msg)
  t.equal(warnings.length, 1)
  t.match(warnings[0], /\n {2}├── \/before \(POST\)\n {2}└── \/v1\/plugin-before \(POST\)\n/, 'both named; not /after')
})

t.test("uncoveredRoutes: 'error' refuses to start; checked like every option", async (t) => {
  const app = Fastify() // not closed: an app whose plugin failed to load rejects close() with the same error
  void app.register(fastifyPgConflict, { ...options, uncoveredRoutes: 'error' })
  app.post('/after', duplicate)
  await t.rejects(async () => { await app.ready() }, {
    code: 'PG_CONFLICT_INVALID_OPTION',
    message: /^fastify-pg-conflict: these routes were declared before the plugin was registered[^]*└── \/after \(POST\)[^]*\(uncoveredRoutes is 'error'\)$/
  })
  const fine = Fastify()
  t.teardown(() => fine.close())
  await fine.register(fastifyPgConflict, { ...options, uncoveredRoutes: 'error' })
  fine.post('/after', duplicate)
  await fine.ready()
  t.same(await answer(fine, '/after'), ANSWERED, 'registered first: starts')
  const bad = Fastify()
  await t.rejects(async () => { await bad.register(fastifyPgConflict, { uncoveredRoutes: true } as never) }, { code: 'PG_CONFLICT_INVALID_OPTION', message: /options\.uncoveredRoutes must be "warn" or "error"/ })
})

t.test('without a logger (Fastify\'s default): a process warning', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  const warnings = await processWarnings(async () => {
    void app.register(fastifyPgConflict, options)
    app.post('/after', duplicate)
    await app.ready()
  })
  t.equal(warnings.length, 1)
  t.equal(warnings[0]?.name, WARNING_TYPE)
  t.equal((warnings[0] as { code?: string }).code, 'PG_CONFLICT_UNCOVERED_ROUTES')
  t.match(warnings[0]?.message, /└── \/after \(POST\)/)
})

t.test('registered again in a child scope: the first registration spoke for the routes before it; the second says nothing', async (t) => {
  const { app, logs } = buildApp(t)
  await app.register(fastifyPgConflict, options)
  app.post('/root', duplicate)
  await app.register(async (child) => {
    await child.register(fastifyPgConflict, { ...options, message: 'From the child.' })
    child.post('/child', duplicate)
  })
  await app.ready()
  t.same(await answer(app, '/root'), ANSWERED)
  t.equal((await app.inject({ method: 'POST', url: '/child' })).json().message, 'From the child.')
  t.same(logs.filter((line) => line.level === WARN), [])
})

// ---- CommonJS: `require('fastify-pg-conflict')` (index.cjs and dist/cjs, as published), no top-level await.

const repo = fileURLToPath(new URL('../..', import.meta.url))

// One process, three apps, one after the other: each app is the plugin's own (by its server).
const CJS_APPS = `'use strict'
const { createRequire } = require('node:module')
const requireFromRepo = createRequire(process.env.REPO + '/package.json')
const fastify = requireFromRepo('fastify')
const pg = requireFromRepo('pg')
const fastifyPgConflict = require(process.env.REPO + '/index.cjs')

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, options: '-c search_path=' + process.env.SCHEMA })
const duplicate = async () => { await pool.query("INSERT INTO users (email) VALUES ('ada@example.com')") }
const options = { pool, catalog: { schemas: [process.env.SCHEMA] } }

function build (style) {
  const app = fastify()
  app.register(fastifyPgConflict, options)
  if (style === 'plugin') app.register(async function routes (app) { app.post('/' + style, duplicate) })
  else if (style === 'after') app.after(() => { app.post('/' + style, duplicate) })
  else app.post('/' + style, duplicate)
  return app
}

function run (style) {
  const app = build(style)
  return app.ready()
    .then(() => app.inject({ method: 'POST', url: '/' + style }))
    .then((response) => ({ style, status: response.statusCode, leaks: response.body.includes('users_email_key') }))
    .finally(() => app.close())
}

const results = []
run('direct')
  .then((result) => { results.push(result); return run('plugin') })
  .then((result) => { results.push(result); return run('after') })
  .then((result) => { results.push(result); console.log(JSON.stringify(results)) })
  .finally(() => pool.end())
`

interface Run { code: number | null, stdout: string, stderr: string }

function node (file: string, env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    const plain: NodeJS.ProcessEnv = {}
    for (const [key, value] of Object.entries(process.env)) if (key !== 'NODE_OPTIONS' && key !== 'NODE_V8_COVERAGE' && !/^_?TAP/i.test(key)) plain[key] = value
    const child = spawn(process.execPath, [file], { env: { ...plain, ...env }, timeout: 30_000 })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    child.on('close', (code) => { resolve({ code, stdout, stderr }) })
  })
}

const built = existsSync(join(repo, 'dist', 'cjs', 'index.js'))
t.test('CommonJS: registration not awaited, routes declared at once: named on stderr; routes in a plugin or app.after(): answered', {
  skip: built ? false : 'dist/ is not built: `npm test` builds it first (npm run build)'
}, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fpc-cjs-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'apps.cjs')
  await writeFile(file, CJS_APPS)
  const run = await node(file, { REPO: repo, DATABASE_URL: databaseUrl(), SCHEMA: db.schema })
  t.equal(run.code, 0, run.stderr)
  t.same(JSON.parse(run.stdout), [
    { style: 'direct', ...UNANSWERED },
    { style: 'plugin', ...ANSWERED },
    { style: 'after', ...ANSWERED }
  ], 'declared at once: not answered; in a plugin or in app.after(): answered')
  const warnings = run.stderr.match(/\[PG_CONFLICT_UNCOVERED_ROUTES\] FastifyPgConflictWarning: fastify-pg-conflict: these routes were declared before the plugin was registered[^]*?fastify-pg-conflict before declaring routes/g) ?? []
  t.equal(warnings.length, 1, 'one warning on stderr, with Fastify\'s logger off: for the app whose route was declared at once')
  t.match(warnings[0], /\n {2}└── \/direct \(POST\)\n/)
})
