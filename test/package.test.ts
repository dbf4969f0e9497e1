// The package as npm publishes it: `npm pack`, unpacked into a throw-away consumer project, then
// used the ways an application uses it: `import` and `require()` under plain node; TypeScript 7
// (scripts/typescript-7.mjs, cached in node_modules/.cache) under moduleResolution nodenext,
// node16, bundler and CommonJS, and TypeScript 6 (the repository's) under nodenext and bundler,
// from ES modules and CommonJS files, strict and without skipLibCheck, with every TypeScript
// snippet of README.md and docs/*.md (test/helpers/snippets.ts); then the snippets run, as ES
// modules and as CommonJS, against the database. The consumer's node_modules are symlinks to this
// repository's.
import t from 'tap'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { allSnippets, moduleSource, SNIPPET_GLOBALS, SNIPPET_SCHEMA, type Snippet } from './helpers/snippets.js'
import { databaseUrl, testDatabase } from './helpers/db.js'

const repo = fileURLToPath(new URL('..', import.meta.url))
// Packing, two compilers in four settings and the snippets' run: more than tap's 120 s on a
// machine busy with other work.
t.setTimeout(300_000)
const NAME = 'fastify-pg-conflict'

interface Run { code: number | null, stdout: string, stderr: string }

/** The environment of a plain `node`/`npm` run: without tap's loaders, coverage and settings. */
function plainEnv (): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (key === 'NODE_OPTIONS' || key === 'NODE_V8_COVERAGE' || /^_?TAP/i.test(key)) continue
    env[key] = value
  }
  return env
}

/** Runs a command to its end; never rejects, so every outcome can be asserted on. */
function run (command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd,
      env: { ...plainEnv(), ...env },
      timeout: 100_000,
      shell: process.platform === 'win32' && command === 'npm'
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    child.on('error', (err) => resolve({ code: null, stdout, stderr: stderr + String(err) }))
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

const describeRun = (r: Run): string => `exit ${String(r.code)}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`

/** The last line of a child's stdout, which the fixtures below print as JSON. */
function report<T> (r: Run): T {
  const lines = r.stdout.trim().split('\n')
  return JSON.parse(lines[lines.length - 1] ?? 'null') as T
}

// ---------------------------------------------------------------------------------------------
// Pack. `npm test` builds dist/ first (pretest), as `prepack` does; built here only if missing.

if (!existsSync(join(repo, 'dist', 'esm', 'index.js')) || !existsSync(join(repo, 'dist', 'cjs', 'index.js'))) {
  const build = await run('npm', ['run', 'build'], repo)
  if (build.code !== 0) throw new Error(`npm run build failed: ${describeRun(build)}`)
}
const tmp = await mkdtemp(join(tmpdir(), 'fpc-package-'))
t.teardown(() => rm(tmp, { recursive: true, force: true }))

const pack = await run('npm', ['pack', '--pack-destination', tmp, '--ignore-scripts', '--json'], repo)
if (pack.code !== 0) throw new Error(`npm pack failed: ${describeRun(pack)}`)
const packed = (JSON.parse(pack.stdout) as Array<{ filename: string }>)[0]
if (packed === undefined) throw new Error(`npm pack reported no tarball: ${pack.stdout}`)
const tarball = join(tmp, packed.filename)

const listing = await run('tar', ['-tzf', tarball], tmp)
if (listing.code !== 0) throw new Error(`tar -t failed: ${describeRun(listing)}`)
const files = listing.stdout.split('\n').filter((line) => line !== '' && !line.endsWith('/'))
  .map((line) => line.replace(/^package\//, ''))

// ---------------------------------------------------------------------------------------------
// The consumer: node_modules/fastify-pg-conflict is the unpacked tarball; its dependencies and
// peers, TypeScript, @types/node and what the snippets import (with its @types) are symlinks to
// this repository's copies.

const consumer = join(tmp, 'consumer')
const installed = join(consumer, 'node_modules', NAME)
await mkdir(installed, { recursive: true })
const extract = await run('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1'], tmp)
if (extract.code !== 0) throw new Error(`tar -x failed: ${describeRun(extract)}`)

interface Manifest {
  main?: string
  types?: string
  bin?: Record<string, string>
  exports?: unknown
  files?: string[]
  dependencies?: Record<string, string>
  peerDependencies?: Record<string, string>
}
const manifest = JSON.parse(await readFile(join(installed, 'package.json'), 'utf8')) as Manifest
const snippets = allSnippets(repo)
/** The packages the snippets import, but this one: `pg`, `pino-http`, `@fastify/swagger`… */
const snippetPackages = snippets.flatMap((snippet) => [...snippet.code.matchAll(/\bfrom\s+'([^'.][^']*)'/g)].map((m) => m[1] as string))
  .map((specifier) => specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0] as string)
  .filter((name) => name !== NAME)
const linked = [
  ...Object.keys(manifest.dependencies ?? {}),
  ...Object.keys(manifest.peerDependencies ?? {}),
  ...snippetPackages,
  'typescript',
  '@types/node'
]
const typesOf = (name: string): string => `@types/${name.startsWith('@') ? name.slice(1).replace('/', '__') : name}`
for (const name of [...linked]) if (existsSync(join(repo, 'node_modules', typesOf(name)))) linked.push(typesOf(name))
for (const name of new Set(linked)) {
  const target = join(repo, 'node_modules', name)
  if (!existsSync(target)) throw new Error(`${name} is not installed in the repository; run npm install`)
  const link = join(consumer, 'node_modules', name)
  await mkdir(dirname(link), { recursive: true })
  await symlink(target, link, 'junction')
}
await writeFile(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, version: '1.0.0' }))

/**
 * A route that fails with what node-postgres throws for a unique violation, as JavaScript source:
 * an instance of a class named `DatabaseError` with pg-protocol's layout (`length`, `severity`),
 * which is what the plugin believes (these consumers do not load pg itself).
 */
const UNIQUE_VIOLATION_JS = `Object.assign(new (class DatabaseError extends Error {})('duplicate key value violates unique constraint "teams_org_id_team_name_key"'), {
  length: 180, name: 'error', code: '23505', severity: 'ERROR', detail: 'Key (org_id, team_name)=(1, Core) already exists.',
  constraint: 'teams_org_id_team_name_key', table: 'teams', schema: 'public'
})`

/** What every consumer below expects from POST /teams: a 409 naming the API's fields, with the route's message. */
const EXPECTED_BODY = {
  statusCode: 409,
  code: 'PG_UNIQUE_VIOLATION',
  error: 'Conflict',
  message: 'That team already exists',
  fields: ['orgId', 'teamName']
}

// ---------------------------------------------------------------------------------------------

t.test('the tarball holds the built package and nothing else', async (t) => {
  for (const file of [
    'package.json', 'index.cjs',
    'dist/esm/index.js', 'dist/esm/index.d.ts',
    'dist/cjs/index.js', 'dist/cjs/index.d.ts', 'dist/cjs/package.json'
  ]) {
    t.ok(files.includes(file), `${file} is packed`)
  }
  t.same(files.filter((file) => /^(src|test|scripts|examples)\//.test(file)), [], 'no sources, tests, scripts or examples')
  t.same(files.filter((file) => file.endsWith('.map')), [], 'no source maps (they would point at src/, which is not packed)')
  t.same(files.filter((file) => /\.tsx?$/.test(file) && !file.endsWith('.d.ts')), [], 'no TypeScript sources')

  const js = files.filter((file) => file.startsWith('dist/') && file.endsWith('.js'))
  t.same(js.filter((file) => !files.includes(file.replace(/\.js$/, '.d.ts'))), [], 'every module in dist has its declarations')
  t.same(
    js.filter((file) => file.startsWith('dist/esm/') && file !== 'dist/esm/cli.js').map((file) => file.slice('dist/esm/'.length)),
    js.filter((file) => file.startsWith('dist/cjs/')).map((file) => file.slice('dist/cjs/'.length)),
    'dist/esm and dist/cjs hold the same modules (but the CLI, an ES module bin)'
  )

  t.same(JSON.parse(await readFile(join(installed, 'dist', 'cjs', 'package.json'), 'utf8')), { type: 'commonjs' },
    'dist/cjs is marked CommonJS inside a "type": "module" package')

  // Every path the manifest points at is in the tarball.
  const targets: string[] = []
  const collect = (value: unknown): void => {
    if (typeof value === 'string') targets.push(value)
    else if (typeof value === 'object' && value !== null) Object.values(value).forEach(collect)
  }
  collect(manifest.exports)
  if (manifest.main !== undefined) targets.push(manifest.main)
  if (manifest.types !== undefined) targets.push(manifest.types)
  collect(manifest.bin)
  t.ok(targets.length > 0, 'the manifest names its entry points')
  for (const target of new Set(targets)) {
    t.ok(files.includes(target.replace(/^\.\//, '')), `${target} (named in package.json) is packed`)
  }
})

/**
 * The runtime exports of each entry point, exactly: each is documented in docs/api.md (which
 * test/docs.test.ts checks) and a promise to users, so adding one is a choice made here too.
 */
const EXPORTS: Record<string, string[]> = {
  [NAME]: [
    'ConflictCounters', 'FailedTransactionError', 'InvalidOptionError', 'RolledBackError',
    'checkSequence', 'conflictResponseSchema', 'default', 'errorBodySchema', 'fastifyPgConflict', 'findPgError',
    'isConflictError', 'isIntegrityError', 'keepConnections', 'prismaFieldNames', 'problemBodySchema', 'problemResponseSchema', 'repairSequence',
    'resetSequences', 'snakeToCamel', 'sqlPool', 'withTransaction'
  ],
  [`${NAME}/express`]: ['InvalidOptionError', 'conflictConfig', 'default', 'pgConflict'],
  [`${NAME}/mercurius`]: ['default', 'pgConflictMercurius']
}

/** The ESM module's export names, to compare the CommonJS plugin's with. */
let esmExports: string[] | undefined

t.test('the command-line entry (npx fastify-pg-conflict) runs from the packed package', async (t) => {
  const bin = join(installed, manifest.bin?.[NAME] ?? 'no bin in package.json')
  t.match(await readFile(bin, 'utf8'), /^#!\/usr\/bin\/env node\n/, 'it starts with a node shebang')
  const help = await run(process.execPath, [bin, '--help'], consumer)
  t.equal(help.code, 0, describeRun(help))
  t.match(help.stdout, /fastify-pg-conflict sequences/, 'it explains itself')
  const wrong = await run(process.execPath, [bin, 'sequencs'], consumer)
  t.equal(wrong.code, 2, 'a usage error exits 2')
})

t.test('ESM: import under plain node', async (t) => {
  await writeFile(join(consumer, 'esm.mjs'), `
import fastifyPgConflict, { snakeToCamel, conflictResponseSchema, fastifyPgConflict as named } from '${NAME}'
import * as namespace from '${NAME}'
import Fastify from 'fastify'

const app = Fastify()
await app.register(fastifyPgConflict, { fieldName: snakeToCamel })
app.post('/teams', {
  config: { conflict: { message: 'That team already exists' } },
  schema: { response: { 409: conflictResponseSchema } }
}, async () => { throw ${UNIQUE_VIOLATION_JS} })
await app.ready()
const response = await app.inject({ method: 'POST', url: '/teams' })
const decorated = typeof app.pgConflict?.describe
await app.close()
console.log(JSON.stringify({
  resolved: import.meta.resolve('${NAME}'),
  type: typeof fastifyPgConflict,
  namedIsDefault: named === fastifyPgConflict,
  camel: snakeToCamel('org_id'),
  schemaType: conflictResponseSchema.type,
  decorated,
  status: response.statusCode,
  body: response.json(),
  exports: Object.keys(namespace).sort()
}))
`)
  const r = await run(process.execPath, ['esm.mjs'], consumer)
  t.equal(r.code, 0, 'runs', { output: describeRun(r) })
  if (r.code !== 0) return
  const out = report<Record<string, unknown>>(r)
  t.equal(out.resolved, pathToFileURL(join(installed, 'dist', 'esm', 'index.js')).href,
    'the "import" condition resolves to the packed dist/esm/index.js')
  t.equal(out.type, 'function', 'the default export is the plugin function')
  t.equal(out.namedIsDefault, true, 'the named fastifyPgConflict export is the default export')
  t.equal(out.camel, 'orgId', 'snakeToCamel is exported and works')
  t.equal(out.schemaType, 'object', 'conflictResponseSchema is exported')
  t.equal(out.decorated, 'function', 'registered: app.pgConflict.describe is there after ready()')
  t.equal(out.status, 409, 'a unique violation thrown by a route is answered with 409')
  t.same(out.body, EXPECTED_BODY, 'with the route message and fields named by fieldName')
  t.same(out.exports, EXPORTS[NAME], 'the module namespace has exactly the documented exports')
  esmExports = out.exports as string[]
})

t.test('CommonJS: require() under plain node', async (t) => {
  await writeFile(join(consumer, 'cjs.cjs'), `
'use strict'
const plugin = require('${NAME}')
const Fastify = require('fastify')

async function main () {
  const app = Fastify()
  await app.register(plugin, { fieldName: plugin.snakeToCamel })
  app.post('/teams', {
    config: { conflict: { message: 'That team already exists' } },
    schema: { response: { 409: plugin.conflictResponseSchema } }
  }, async () => { throw ${UNIQUE_VIOLATION_JS} })
  await app.ready()
  const response = await app.inject({ method: 'POST', url: '/teams' })
  const decorated = typeof app.pgConflict?.describe
  await app.close()
  console.log(JSON.stringify({
    resolved: require.resolve('${NAME}'),
    type: typeof plugin,
    defaultIsPlugin: plugin.default === plugin,
    namedIsPlugin: plugin.fastifyPgConflict === plugin,
    camel: typeof plugin.snakeToCamel === 'function' ? plugin.snakeToCamel('org_id') : null,
    version: require('${NAME}/package.json').version,
    decorated,
    status: response.statusCode,
    body: response.json(),
    exports: Object.keys(plugin).sort()
  }))
}
main().catch((err) => { console.error(err); process.exit(1) })
`)
  const r = await run(process.execPath, ['cjs.cjs'], consumer)
  t.equal(r.code, 0, 'runs', { output: describeRun(r) })
  if (r.code !== 0) return
  const out = report<Record<string, unknown>>(r)
  t.equal(out.resolved, join(installed, 'index.cjs'), 'the "require" condition resolves to the packed index.cjs')
  t.equal(out.type, 'function', "require('fastify-pg-conflict') is the plugin function itself")
  t.equal(out.defaultIsPlugin, true, '.default is the same plugin')
  t.equal(out.namedIsPlugin, true, '.fastifyPgConflict is the same plugin')
  t.equal(out.camel, 'orgId', '.snakeToCamel is there and works')
  t.type(out.version, 'string', "require('fastify-pg-conflict/package.json') is allowed by the exports map")
  t.equal(out.decorated, 'function', 'registered: app.pgConflict.describe is there after ready()')
  t.equal(out.status, 409, 'a unique violation thrown by a route is answered with 409')
  t.same(out.body, EXPECTED_BODY, 'with the route message and fields named by fieldName')
  if (esmExports !== undefined) {
    t.same(out.exports, esmExports, 'the CommonJS plugin carries exactly the ESM module\'s exports')
  }
})

// ---------------------------------------------------------------------------------------------
// The Express entry.

t.test('the Express entry: import and require of fastify-pg-conflict/express', async (t) => {
  await writeFile(join(consumer, 'express.mjs'), `
import { pgConflict, conflictConfig } from '${NAME}/express'
import * as namespace from '${NAME}/express'
const mw = pgConflict({ catalog: false })
console.log(JSON.stringify({ resolved: import.meta.resolve('${NAME}/express'), arity: mw.length, config: typeof conflictConfig({ fields: 'email' }), exports: Object.keys(namespace).sort() }))
`)
  await writeFile(join(consumer, 'express.cjs'), `
const entry = require('${NAME}/express')
console.log(JSON.stringify({ resolved: require.resolve('${NAME}/express'), arity: entry.pgConflict({ catalog: false }).length, fastifyLoaded: Object.keys(require.cache).some((f) => f.includes('/fastify/')), exports: Object.keys(entry).filter((key) => key !== '__esModule').sort() }))
`)
  const esm = await run(process.execPath, ['express.mjs'], consumer)
  t.equal(esm.code, 0, 'imports', { output: describeRun(esm) })
  const cjs = await run(process.execPath, ['express.cjs'], consumer)
  t.equal(cjs.code, 0, 'requires', { output: describeRun(cjs) })
  if (esm.code !== 0 || cjs.code !== 0) return
  const imported = report<{ resolved: string, arity: number, config: string, exports: string[] }>(esm)
  const required = report<{ resolved: string, arity: number, fastifyLoaded: boolean, exports: string[] }>(cjs)
  t.same(imported.exports, EXPORTS[`${NAME}/express`], 'import: exactly the documented exports')
  t.same(required.exports, EXPORTS[`${NAME}/express`], 'require: the same')
  t.equal(imported.resolved, pathToFileURL(join(installed, 'dist', 'esm', 'express.js')).href, 'import resolves to dist/esm/express.js')
  t.equal(required.resolved, join(installed, 'dist', 'cjs', 'express.js'), 'require resolves to dist/cjs/express.js')
  t.equal(imported.arity, 4, 'an Express error middleware (four parameters)')
  t.equal(required.arity, 4)
  t.equal(imported.config, 'function', 'conflictConfig makes a route middleware')
  t.equal(required.fastifyLoaded, false, 'the Express entry does not load Fastify')
})

// ---------------------------------------------------------------------------------------------
// The mercurius entry.

t.test('the mercurius entry: import and require of fastify-pg-conflict/mercurius, with a real mercurius app', async (t) => {
  /** The app both consumers run: `mercurius` and `entry` are how each names them; `probe` runs before mercurius is loaded. */
  const app = (mercurius: string, entry: string, probe = 'undefined'): string => `
  const app = Fastify()
  await app.register(fastifyPgConflict, { catalog: false })
  const loadedBefore = ${probe}
  await app.register(${mercurius}, {
    schema: 'type Query { ok: Int } type Mutation { createTeam: Int }',
    resolvers: { Mutation: { createTeam: async () => { throw ${UNIQUE_VIOLATION_JS} } } }
  })
  await app.register(${entry})
  const response = await app.inject({ method: 'POST', url: '/graphql', payload: { query: 'mutation { createTeam }' } })
  await app.close()
`
  await writeFile(join(consumer, 'mercurius.mjs'), `
import Fastify from 'fastify'
import fastifyPgConflict from '${NAME}'
import * as namespace from '${NAME}/mercurius'
import pgConflictMercurius from '${NAME}/mercurius'
import mercurius from 'mercurius'
${app('mercurius', 'pgConflictMercurius')}
console.log(JSON.stringify({ resolved: import.meta.resolve('${NAME}/mercurius'), status: response.statusCode, body: response.json(), exports: Object.keys(namespace).sort() }))
`)
  await writeFile(join(consumer, 'mercurius.cjs'), `
const Fastify = require('fastify')
const fastifyPgConflict = require('${NAME}')
const entry = require('${NAME}/mercurius')
const graphqlLoaded = () => Object.keys(require.cache).some((f) => /[\\/]node_modules[\\/](mercurius|graphql)[\\/]/.test(f))
async function main () {
${app("require('mercurius')", 'entry.default', 'graphqlLoaded()')}
  console.log(JSON.stringify({ resolved: require.resolve('${NAME}/mercurius'), loadedBefore, status: response.statusCode, body: response.json(), exports: Object.keys(entry).filter((key) => key !== '__esModule').sort() }))
}
main().catch((err) => { console.error(err); process.exit(1) })
`)
  const [esm, cjs] = await Promise.all([run(process.execPath, ['mercurius.mjs'], consumer), run(process.execPath, ['mercurius.cjs'], consumer)])
  t.equal(esm.code, 0, 'imports and runs', { output: describeRun(esm) })
  t.equal(cjs.code, 0, 'requires and runs', { output: describeRun(cjs) })
  if (esm.code !== 0 || cjs.code !== 0) return
  const imported = report<{ resolved: string, status: number, body: unknown, exports: string[] }>(esm)
  const required = report<{ resolved: string, loadedBefore: boolean, status: number, body: unknown, exports: string[] }>(cjs)
  t.same(imported.exports, EXPORTS[`${NAME}/mercurius`], 'import: exactly the documented exports')
  t.same(required.exports, EXPORTS[`${NAME}/mercurius`], 'require: the same')
  t.equal(imported.resolved, pathToFileURL(join(installed, 'dist', 'esm', 'mercurius.js')).href, 'import resolves to dist/esm/mercurius.js')
  t.equal(required.resolved, join(installed, 'dist', 'cjs', 'mercurius.js'), 'require resolves to dist/cjs/mercurius.js')
  t.equal(required.loadedBefore, false, 'neither the main entry nor this one loads mercurius or graphql')
  const expected = {
    data: { createTeam: null },
    errors: [{ message: 'A record with this org_id and team_name already exists.', locations: [{ line: 1, column: 12 }], path: ['createTeam'], extensions: { code: 'PG_UNIQUE_VIOLATION', message: 'A record with this org_id and team_name already exists.', status: 409, fields: ['org_id', 'team_name'] } }]
  }
  for (const [how, out] of [['import', imported], ['require', required]] as const) {
    t.equal(out.status, 200, `${how}: mercurius's status`)
    t.same(out.body, expected, `${how}: the unique violation as a GraphQL error with the answer's extensions`)
  }
})

// ---------------------------------------------------------------------------------------------
// TypeScript: the packed declarations, fixtures and every documentation snippet, compiled by
// TypeScript 6 and 7 under each way a consumer resolves modules, strict and without skipLibCheck.

interface Setting {
  name: string
  options: Record<string, unknown>
  /** The extension of the consumer's ES module files and of its CommonJS files, where the setting has them. */
  esm?: '.mts' | '.ts'
  cjs?: '.cts' | '.ts'
}

const SETTINGS: Setting[] = [
  { name: 'nodenext', options: { module: 'nodenext', moduleResolution: 'nodenext' }, esm: '.mts', cjs: '.cts' },
  { name: 'node16', options: { module: 'node16', moduleResolution: 'node16' }, esm: '.mts', cjs: '.cts' },
  // Vite, tsup, esbuild: ES modules resolved as a bundler does.
  { name: 'bundler', options: { module: 'esnext', moduleResolution: 'bundler' }, esm: '.ts' },
  // A CommonJS project (node10 resolution is deprecated in TypeScript 6 and gone in 7).
  { name: 'commonjs', options: { module: 'commonjs', moduleResolution: 'bundler' }, cjs: '.ts' }
]

const baseOptions = {
  target: 'ES2022',
  lib: ['ES2023'],
  types: ['node'],
  strict: true,
  esModuleInterop: true,
  skipLibCheck: false,
  noEmit: true
}

/** A .ts source line that throws the unique violation above, typed. */
const UNIQUE_VIOLATION_TS = `throw ${UNIQUE_VIOLATION_JS}`

const tsFixtures: Record<string, string> = {
  // ESM: the default import, a named one, a type, route config and the decorator.
  'good.mts': `
import Fastify from 'fastify'
import fastifyPgConflict, { snakeToCamel, conflictResponseSchema, type FastifyPgConflictOptions } from '${NAME}'

export const options: FastifyPgConflictOptions = { fieldName: snakeToCamel, constraints: [{ constraint: 'users_email_key', fields: ['email'] }] }
const app = Fastify()
await app.register(fastifyPgConflict, { fieldName: snakeToCamel })
app.post('/teams', {
  config: { conflict: { message: 'That team already exists' } },
  schema: { response: { 409: conflictResponseSchema } }
}, async () => { ${UNIQUE_VIOLATION_TS} })
app.get('/untouched', { config: { conflict: false } }, async () => ({}))
await app.ready()
const describe: (error: unknown) => Promise<{ fields: string[] } | undefined> = app.pgConflict.describe
const response = await app.inject({ method: 'POST', url: '/teams' })
await app.close()
console.log(JSON.stringify({ status: response.statusCode, body: response.json(), describe: typeof describe }))
`,
  // CommonJS with esModuleInterop: the default import and named imports.
  'good-default.cts': `
import Fastify from 'fastify'
import fastifyPgConflict, { snakeToCamel, conflictResponseSchema, type FastifyPgConflictOptions } from '${NAME}'

const options: FastifyPgConflictOptions = { fieldName: snakeToCamel }
async function main (): Promise<void> {
  const app = Fastify()
  await app.register(fastifyPgConflict, options)
  app.post('/teams', {
    config: { conflict: { message: 'That team already exists' } },
    schema: { response: { 409: conflictResponseSchema } }
  }, async () => { ${UNIQUE_VIOLATION_TS} })
  await app.ready()
  const response = await app.inject({ method: 'POST', url: '/teams' })
  await app.close()
  console.log(JSON.stringify({ status: response.statusCode, body: response.json(), describe: typeof app.pgConflict.describe }))
}
main().catch((err: unknown) => { console.error(err); process.exit(1) })
`,
  // CommonJS, import = require(), through the members the declarations give the module object.
  'good-require.cts': `
import Fastify = require('fastify')
import pgConflict = require('${NAME}')

async function main (): Promise<void> {
  const app = Fastify()
  await app.register(pgConflict.fastifyPgConflict, { fieldName: pgConflict.snakeToCamel })
  app.post('/teams', {
    config: { conflict: { message: 'That team already exists' } },
    schema: { response: { 409: pgConflict.conflictResponseSchema } }
  }, async () => { ${UNIQUE_VIOLATION_TS} })
  await app.ready()
  const response = await app.inject({ method: 'POST', url: '/teams' })
  await app.close()
  console.log(JSON.stringify({ status: response.statusCode, body: response.json(), describe: typeof app.pgConflict.describe }))
}
main().catch((err: unknown) => { console.error(err); process.exit(1) })
`,
  // The types a user leans on: nothing is \`any\`, withTransaction's client is typed the same way
  // standalone and on the decorator, an onConflict hook typed for its route needs no cast.
  'types.ts': `
import Fastify, { type FastifyInstance } from 'fastify'
import pg from 'pg'
import fastifyPgConflict, {
  InvalidOptionError, RolledBackError, FailedTransactionError, ConflictCounters, withTransaction, isConflictError,
  type OnConflict, type ConflictError
} from '${NAME}'
import { pgConflict, conflictConfig, InvalidOptionError as ExpressInvalidOptionError } from '${NAME}/express'
import pgConflictMercurius, { type ConflictExtensions } from '${NAME}/mercurius'

type IsAny<T> = 0 extends 1 & T ? true : false
export const notAny: Array<IsAny<unknown>> = [
  false as IsAny<typeof fastifyPgConflict>, false as IsAny<typeof InvalidOptionError>, false as IsAny<typeof RolledBackError>,
  false as IsAny<typeof FailedTransactionError>, false as IsAny<typeof ConflictCounters>, false as IsAny<typeof pgConflict>,
  false as IsAny<typeof conflictConfig>, false as IsAny<typeof ExpressInvalidOptionError>, false as IsAny<typeof pgConflictMercurius>
]
export const extensions: ConflictExtensions = { code: 'PG_UNIQUE_VIOLATION', message: 'A record with this email already exists.', status: 409, fields: ['email'] }
export const codes: string[] = [new InvalidOptionError('x').code, new RolledBackError('x').code, new FailedTransactionError('x').code]

export async function transactions (pool: pg.Pool): Promise<number> {
  const app = Fastify()
  await app.register(fastifyPgConflict, { pool })
  const onPlugin = await app.pgConflict.withTransaction(async (client) => {
    const { rows } = await client.query<{ n: number }>('SELECT $1::int AS n', [1])
    return rows[0]?.n ?? 0
  }, { retryOn: ['tags_slug_key'], isolationLevel: 'serializable', attempts: 3, backoff: { base: 5, max: 100 }, maxTime: 1000 })
  const standalone = await withTransaction(pool, async (client) => {
    const { rows } = await client.query<{ n: number }>('SELECT $1::int AS n', [1])
    return rows[0]?.n ?? 0
  }, { retryOn: true, counters: new ConflictCounters() })
  const asPg = await app.pgConflict.withTransaction(async (client: pg.PoolClient) => (await client.query('SELECT 1')).rowCount ?? 0)
  return onPlugin + standalone + asPg
}

export const hook: OnConflict<{ Body: { email: string }, Params: { team: string } }> = async (conflict, request, reply) => {
  const email: string = request.body.email
  const team: string = request.params.team
  if (conflict.fields.includes('email')) return await reply.code(200).send({ email, team })
  return 'retry'
}
export const anyRoute: OnConflict = (conflict, request) => (conflict.constraint === request.body.constraint ? 'retry' : undefined)

export function routes (app: FastifyInstance): void {
  app.register(fastifyPgConflict, { onConflict: anyRoute })
  app.post<{ Body: { email: string }, Params: { team: string } }>('/teams/:team/members', {
    config: { conflict: { onConflict: hook, retry: { attempts: 2 } } }
  }, async (request) => request.body.email)
  app.setErrorHandler((error, _request, reply) => {
    if (isConflictError(error)) {
      const conflict: ConflictError = error
      return reply.code(conflict.statusCode).send(conflict.body)
    }
    return reply.send(error)
  })
}
`,

  // Mistakes the declarations must catch. Each bad line is marked, to check where tsc complains.
  'bad-option.mts': `
import Fastify from 'fastify'
import fastifyPgConflict from '${NAME}'
const app = Fastify()
app.register(fastifyPgConflict, { fieldName: 42 }) // BAD
`,
  'bad-route.mts': `
import Fastify from 'fastify'
import fastifyPgConflict from '${NAME}'
const app = Fastify()
app.register(fastifyPgConflict)
app.get('/', { config: { conflict: { message: 42 } } }, async () => ({})) // BAD
`,
  'bad-option.cts': `
import Fastify from 'fastify'
import fastifyPgConflict from '${NAME}'
const app = Fastify()
app.register(fastifyPgConflict, { fieldName: 42 }) // BAD
`
}

const project = async (compiler: string, setting: Setting, files: string[], emit: boolean): Promise<string> => {
  const file = join(consumer, `tsconfig.${compiler}-${setting.name}.json`)
  const compilerOptions = { ...baseOptions, ...setting.options, ...(emit ? { noEmit: false, outDir: `out-${setting.name}` } : {}) }
  await writeFile(file, JSON.stringify({ compilerOptions, files }, null, 2))
  return file
}

for (const [file, source] of Object.entries(tsFixtures)) await writeFile(join(consumer, file), source)
await writeFile(join(consumer, 'snippet-globals.d.ts'), SNIPPET_GLOBALS)

type Format = 'esm' | 'cjs'

/** The files a setting compiles: the fixtures its module kinds take, and every snippet as each of `formats`. */
function settingFiles (setting: Setting, formats: readonly Format[]): string[] {
  const files = ['snippet-globals.d.ts']
  for (const [format, ext] of [['esm', setting.esm], ['cjs', setting.cjs]] as const) {
    if (ext === undefined) continue
    files.push(`ts-${setting.name}/types-${format}${ext}`)
    if (formats.includes(format)) files.push(...snippets.map((snippet) => `ts-${setting.name}/${snippet.id}-${format}${ext}`))
  }
  if (setting.esm === '.mts') files.push('good.mts', 'good-default.cts', 'good-require.cts')
  return files
}

for (const setting of SETTINGS) {
  await mkdir(join(consumer, `ts-${setting.name}`), { recursive: true })
  for (const [format, ext] of [['esm', setting.esm], ['cjs', setting.cjs]] as const) {
    if (ext === undefined) continue
    await writeFile(join(consumer, `ts-${setting.name}/types-${format}${ext}`), tsFixtures['types.ts'] ?? '')
    for (const snippet of snippets) await writeFile(join(consumer, `ts-${setting.name}/${snippet.id}-${format}${ext}`), moduleSource(snippet, format))
  }
}

/**
 * tsc's diagnostics as `file(line,col): error TSxxxx: …` first lines. tsc runs with
 * `--pretty false`: in a terminal, or with FORCE_COLOR set (CI runs this file so once), it would
 * otherwise print its pretty format, which this does not read.
 */
const diagnostics = (r: Run): string[] => r.stdout.split('\n').filter((line) => /^\S.*\(\d+,\d+\): error TS\d+/.test(line))

/** A diagnostic in a snippet's module, with the place in the documentation it comes from. */
const located = (diagnostic: string): string => {
  const id = /^ts-[a-z0-9]+\/(.+)-(?:esm|cjs)\.[cm]?ts\(/.exec(diagnostic)?.[1]
  const snippet = snippets.find((s) => s.id === id)
  return snippet === undefined ? diagnostic : `${snippet.where} (${snippet.heading}): ${diagnostic}`
}

/** At most two compilers at a time: each takes a core, and other test files run meanwhile. */
let running = 0
const waiting: Array<() => void> = []
async function limited<T> (work: () => Promise<T>): Promise<T> {
  if (running >= 2) await new Promise<void>((resolve) => waiting.push(resolve))
  running++
  try {
    return await work()
  } finally {
    running--
    waiting.shift()?.()
  }
}

const typescript6 = join(repo, 'node_modules', 'typescript', 'bin', 'tsc')
/** TypeScript 7 checks on several threads by default: on one, it takes half the CPU time, and other test files run meanwhile. */
const flags = (compiler: string): string[] => compiler === 'ts7' ? ['--pretty', 'false', '--singleThreaded'] : ['--pretty', 'false']
// Installs TypeScript 7 into node_modules/.cache if it is not there yet (CI does so before the tests).
const typescript7 = run(process.execPath, [join(repo, 'scripts', 'typescript-7.mjs')], repo)
  .then((r) => r.code === 0 ? r.stdout.trim().split('\n').pop() ?? '' : Promise.reject(new Error(`scripts/typescript-7.mjs failed: ${describeRun(r)}`)))

/**
 * TypeScript 7 compiles everything under every setting, and its nodenext output is what runs
 * below. TypeScript 6, five times slower, compiles the fixtures (ESM and CommonJS) and the
 * snippets as ES modules under nodenext and bundler: node16 resolves as nodenext does, a CommonJS
 * project with bundler resolution reads the declarations bundler reads, and the snippets wrapped
 * for CommonJS differ only in where their statements stand (so npm test stays within its time).
 */
const jobs: Array<{ compiler: string, tsc: Promise<string>, setting: Setting, formats: Format[], emit: boolean }> = [
  ...SETTINGS.map((setting) => ({ compiler: 'ts7', tsc: typescript7, setting, formats: ['esm', 'cjs'] as Format[], emit: setting.name === 'nodenext' })),
  ...SETTINGS.filter((setting) => setting.name === 'nodenext' || setting.name === 'bundler')
    .map((setting) => ({ compiler: 'ts6', tsc: Promise.resolve(typescript6), setting, formats: ['esm'] as Format[], emit: false }))
]
const compiled = new Map<string, Promise<Run>>()
for (const job of jobs) {
  const formats = job.formats.filter((format) => job.setting[format] !== undefined)
  compiled.set(`${job.compiler} ${job.setting.name} (snippets as ${formats.map((format) => format === 'esm' ? 'ES modules' : 'CommonJS').join(' and ')})`,
    job.tsc.then(async (tsc) => {
      const config = await project(job.compiler, job.setting, settingFiles(job.setting, formats), job.emit)
      return await limited(() => run(process.execPath, [tsc, ...flags(job.compiler), '-p', config], consumer))
    }))
}
const emitted = [...compiled.entries()].find(([name]) => name.startsWith('ts7 nodenext'))?.[1]
const compilers = [{ name: 'ts6', tsc: Promise.resolve(typescript6) }, { name: 'ts7', tsc: typescript7 }]
const badFixtures = ['bad-option.mts', 'bad-route.mts', 'bad-option.cts']
const badRuns = compilers.map((compiler) => ({
  name: compiler.name,
  run: compiler.tsc.then(async (tsc) => {
    const config = await project(`${compiler.name}-bad`, SETTINGS[0] as Setting, badFixtures, false)
    return await limited(() => run(process.execPath, [tsc, ...flags(compiler.name), '-p', config], consumer))
  })
}))

t.test('TypeScript 7 is at hand (scripts/typescript-7.mjs)', async (t) => {
  const version = await run(process.execPath, [await typescript7, '--version'], consumer)
  t.match(version.stdout, /^Version 7\./, 'the consumer compiles with TypeScript 7 too', { output: describeRun(version) })
})

for (const [name, compiling] of compiled) {
  t.test(`${name}: the declarations, the fixtures and ${snippets.length} documentation snippets compile`, async (t) => {
    const r = await compiling
    const errors = diagnostics(r)
    t.same(errors.map(located), [], 'no diagnostics, in the consumer nor in the packed declarations')
    t.equal(r.code, 0, 'tsc succeeds', errors.length > 0 ? {} : { output: describeRun(r) })
  })
}

t.test('TypeScript: the compiled ESM and CommonJS consumers work', async (t) => {
  const r = await emitted
  if (r === undefined || r.code !== 0) return t.fail('the nodenext project did not compile')
  for (const compiled of ['good.mjs', 'good-default.cjs', 'good-require.cjs']) {
    const ran = await run(process.execPath, [join('out-nodenext', compiled)], consumer)
    t.equal(ran.code, 0, `the compiled ${compiled} runs`, { output: describeRun(ran) })
    if (ran.code !== 0) continue
    const out = report<Record<string, unknown>>(ran)
    t.equal(out.status, 409, `${compiled}: a unique violation is answered with 409`)
    t.same(out.body, EXPECTED_BODY, `${compiled}: with the route message and fields named by fieldName`)
    t.equal(out.describe, 'function', `${compiled}: app.pgConflict is decorated`)
  }
})

for (const bad of badRuns) {
  t.test(`${bad.name}: wrong options and route config do not typecheck`, async (t) => {
    const r = await bad.run
    t.not(r.code, 0, 'tsc fails', { output: describeRun(r) })
    const errors = diagnostics(r)
    for (const file of badFixtures) {
      const line = (tsFixtures[file] ?? '').split('\n').findIndex((text) => text.includes('// BAD')) + 1
      t.ok(errors.some((error) => error.startsWith(`${file}(${line},`)), `${file}: an error on the marked line ${line}`, { errors })
    }
    t.same(errors.filter((error) => !badFixtures.some((file) => error.startsWith(`${file}(`))), [],
      'no error anywhere else (the packed declarations are sound)')
    t.match(r.stdout, /bad-option\.mts[^\n]*\n(?:[^\n]*\n)*?[^\n]*'number' is not assignable/, 'fieldName: 42 is refused as a number')
  })
}

// ---------------------------------------------------------------------------------------------
// The snippets, run: each compiled module (ES module and CommonJS) in one node process, against
// a schema of this file's own, with the names of SNIPPET_GLOBALS set.

/** What a snippet must answer once it runs, for those that start a server. */
const REQUESTS: Record<string, Array<{ method: 'POST', url: string, body: unknown }>> = {
  'Quick start': [
    { method: 'POST', url: '/users', body: { email: 'ada-$format@example.com' } },
    { method: 'POST', url: '/users', body: { email: 'ada-$format@example.com' } }
  ],
  // docs/comments.md: the field is `email` because the constraint's comment says so (the column is email_address).
  'A runnable example': [
    { method: 'POST', url: '/readers', body: { email: 'ada-$format@example.com' } },
    { method: 'POST', url: '/readers', body: { email: 'ada-$format@example.com' } }
  ]
}

interface Ran { id: string, format: 'esm' | 'cjs', error?: string, responses?: Array<{ status: number, body: unknown }> }

const RUNNER = `
import net from 'node:net'
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import { readFileSync } from 'node:fs'
import Fastify from 'fastify'
import pg from 'pg'
import fastifyPgConflict from '${NAME}'

const require = createRequire(import.meta.url)
const list = JSON.parse(readFileSync(process.argv[2], 'utf8'))

// A server a snippet starts listens on a free port rather than the one it names.
const servers = []
const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  servers.push(this)
  if (typeof args[0] === 'object' && args[0] !== null) args[0] = { ...args[0], port: 0 }
  else if (typeof args[0] === 'number' || typeof args[0] === 'string') args[0] = 0
  return listen.apply(this, args)
}
const within = (promise, what) => Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error(what + ': no end after 10 s')), 10_000).unref())])

globalThis.pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 4 })
globalThis.handler = async () => ({ ok: true })
globalThis.userSchema = { type: 'object', properties: { email: { type: 'string' } } }
globalThis.slug = 'snippets'
// What Prisma.dmmf holds for a model Post (@@map("posts")) with authorId @map("author_id").
globalThis.Prisma = { dmmf: { datamodel: { models: [{ name: 'Post', dbName: 'posts', fields: [{ name: 'authorId', dbName: 'author_id', kind: 'scalar' }] }] } } }

const results = []
for (const snippet of list) {
  const app = globalThis.app = Fastify()
  const before = servers.length
  const result = { id: snippet.id, format: snippet.format }
  try {
    const loaded = snippet.format === 'esm' ? await within(import(pathToFileURL(snippet.file).href), 'import') : require(snippet.file)
    if (typeof loaded.snippet === 'function') await within(loaded.snippet(), 'snippet()')
    if (loaded.options !== undefined) await within(app.register(fastifyPgConflict, loaded.options), 'register')
    await within(app.ready(), 'ready')
    const started = servers.slice(before).find((server) => server.listening)
    if (snippet.requests !== undefined) {
      if (started === undefined) throw new Error('the snippet started no server')
      const { address, family, port } = started.address()
      const host = family === 'IPv6' ? '[' + address + ']' : address
      result.responses = []
      for (const request of snippet.requests) {
        const body = JSON.stringify(request.body).replaceAll('$format', snippet.format)
        const response = await fetch('http://' + host + ':' + port + request.url, { method: request.method, body, headers: { 'content-type': 'application/json' } })
        result.responses.push({ status: response.status, body: await response.json() })
      }
    }
  } catch (error) {
    result.error = error instanceof Error ? error.stack : String(error)
  } finally {
    await app.close()
  }
  results.push(result)
}
console.log('RESULT ' + JSON.stringify(results))
process.exit(0)
`

t.test(`the documentation's snippets run, as ES modules and as CommonJS`, async (t) => {
  const r = await emitted
  if (r === undefined || r.code !== 0) return t.fail('the nodenext project did not compile')
  const db = await testDatabase(t, 'package')
  await db.exec(SNIPPET_SCHEMA)
  const list = snippets.filter((snippet) => snippet.run).flatMap((snippet) => (['esm', 'cjs'] as const).map((format) => ({
    id: snippet.id,
    format,
    file: join(consumer, 'out-nodenext', 'ts-nodenext', `${snippet.id}-${format}.${format === 'esm' ? 'mjs' : 'cjs'}`),
    requests: REQUESTS[snippet.heading]
  })))
  t.ok(list.some((entry) => entry.requests !== undefined), 'the quick start is among them')
  await writeFile(join(consumer, 'snippets.json'), JSON.stringify(list))
  await writeFile(join(consumer, 'runner.mjs'), RUNNER)
  const ran = await run(process.execPath, ['runner.mjs', 'snippets.json'], consumer, {
    DATABASE_URL: databaseUrl(),
    PGOPTIONS: `-c search_path=${db.schema}`
  })
  const line = ran.stdout.split('\n').find((text) => text.startsWith('RESULT '))
  if (ran.code !== 0 || line === undefined) return t.fail('the runner ran to its end', { output: describeRun(ran) })
  const results = JSON.parse(line.slice('RESULT '.length)) as Ran[]
  t.equal(results.length, list.length, 'every snippet ran')
  for (const result of results) {
    const snippet = snippets.find((s) => s.id === result.id) as Snippet
    t.equal(result.error, undefined, `${snippet.where} (${snippet.heading}), ${result.format}: runs`)
    if (result.responses !== undefined) {
      t.same(result.responses.map((response) => response.status), [201, 409], `${snippet.where}, ${result.format}: a new email is created, the same again is a 409`)
      t.match(result.responses[1]?.body, { statusCode: 409, code: 'PG_UNIQUE_VIOLATION', fields: ['email'] }, 'naming the field')
      if (snippet.heading === 'A runnable example') t.match(result.responses[1]?.body, { message: 'An account with this email exists already.' }, 'with the comment\'s message')
    }
  }
})
