// The package as npm publishes it: `npm pack`, unpacked into a throw-away consumer project, then
// used the ways an application uses it — `import` and `require()` under plain node, and TypeScript
// (nodenext, strict) from .mts and .cts files, with the repository's own tsc. No database and no
// network: the consumer's node_modules are symlinks to this repository's.
import t from 'tap'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const repo = fileURLToPath(new URL('..', import.meta.url))
const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc')
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
function run (command: string, args: string[], cwd: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd,
      env: plainEnv(),
      timeout: 45_000,
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
// Pack. `npm test` builds dist/ first (pretest), as `prepare` does on install; built here only if missing.

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
// peers, TypeScript and @types/node are symlinks to this repository's copies.

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
const linked = [
  ...Object.keys(manifest.dependencies ?? {}),
  ...Object.keys(manifest.peerDependencies ?? {}),
  'typescript',
  '@types/node'
]
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
  t.ok(Array.isArray(out.exports) && out.exports.includes('default') && out.exports.includes('snakeToCamel'),
    'the module namespace has the default and the named exports')
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
// TypeScript. Consumers compile with module/moduleResolution nodenext, strict, and without
// skipLibCheck, so the packed declarations are checked too.

t.test('the Express entry: import and require of fastify-pg-conflict/express', async (t) => {
  await writeFile(join(consumer, 'express.mjs'), `
import { pgConflict, conflictConfig } from '${NAME}/express'
const mw = pgConflict({ catalog: false })
console.log(JSON.stringify({ resolved: import.meta.resolve('${NAME}/express'), arity: mw.length, config: typeof conflictConfig({ fields: 'email' }) }))
`)
  await writeFile(join(consumer, 'express.cjs'), `
const { pgConflict } = require('${NAME}/express')
console.log(JSON.stringify({ resolved: require.resolve('${NAME}/express'), arity: pgConflict({ catalog: false }).length, fastifyLoaded: Object.keys(require.cache).some((f) => f.includes('/fastify/')) }))
`)
  const esm = await run(process.execPath, ['express.mjs'], consumer)
  t.equal(esm.code, 0, 'imports', { output: describeRun(esm) })
  const cjs = await run(process.execPath, ['express.cjs'], consumer)
  t.equal(cjs.code, 0, 'requires', { output: describeRun(cjs) })
  if (esm.code !== 0 || cjs.code !== 0) return
  const imported = report<{ resolved: string, arity: number, config: string }>(esm)
  const required = report<{ resolved: string, arity: number, fastifyLoaded: boolean }>(cjs)
  t.equal(imported.resolved, pathToFileURL(join(installed, 'dist', 'esm', 'express.js')).href, 'import resolves to dist/esm/express.js')
  t.equal(required.resolved, join(installed, 'dist', 'cjs', 'express.js'), 'require resolves to dist/cjs/express.js')
  t.equal(imported.arity, 4, 'an Express error middleware (four parameters)')
  t.equal(required.arity, 4)
  t.equal(imported.config, 'function', 'conflictConfig makes a route middleware')
  t.equal(required.fastifyLoaded, false, 'the Express entry does not load Fastify')
})

const tsOptions = {
  target: 'ES2022',
  module: 'nodenext',
  moduleResolution: 'nodenext',
  lib: ['ES2023'],
  types: ['node'],
  strict: true,
  esModuleInterop: true,
  skipLibCheck: false
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

const project = async (name: string, fixtures: string[], emit: boolean): Promise<string> => {
  const file = join(consumer, `tsconfig.${name}.json`)
  const compilerOptions = emit ? { ...tsOptions, outDir: `out-${name}`, noEmit: false } : { ...tsOptions, noEmit: true }
  await writeFile(file, JSON.stringify({ compilerOptions, files: fixtures }, null, 2))
  return file
}

for (const [file, source] of Object.entries(tsFixtures)) await writeFile(join(consumer, file), source)

/** tsc's diagnostics as `file(line,col): error TSxxxx: …` first lines. */
const diagnostics = (r: Run): string[] => r.stdout.split('\n').filter((line) => /^\S.*\(\d+,\d+\): error TS\d+/.test(line))

// The three tsc runs take seconds each: started together, awaited in their tests.
const goodRun = project('good', ['good.mts', 'good-default.cts', 'good-require.cts'], true)
  .then((config) => run(process.execPath, [tsc, '-p', config], consumer))
const badFixtures = ['bad-option.mts', 'bad-route.mts', 'bad-option.cts']
const badRun = project('bad', badFixtures, false)
  .then((config) => run(process.execPath, [tsc, '--noEmit', '-p', config], consumer))

t.test('TypeScript: ESM and CommonJS consumers typecheck, and work as compiled', async (t) => {
  const r = await goodRun
  t.equal(r.code, 0, 'tsc reports no error for good.mts, good-default.cts and good-require.cts', { output: describeRun(r) })
  t.same(diagnostics(r), [], 'no diagnostics, in the consumer nor in the packed declarations')
  if (r.code !== 0) return
  for (const compiled of ['good.mjs', 'good-default.cjs', 'good-require.cjs']) {
    const ran = await run(process.execPath, [join(`out-good`, compiled)], consumer)
    t.equal(ran.code, 0, `the compiled ${compiled} runs`, { output: describeRun(ran) })
    if (ran.code !== 0) continue
    const out = report<Record<string, unknown>>(ran)
    t.equal(out.status, 409, `${compiled}: a unique violation is answered with 409`)
    t.same(out.body, EXPECTED_BODY, `${compiled}: with the route message and fields named by fieldName`)
    t.equal(out.describe, 'function', `${compiled}: app.pgConflict is decorated`)
  }
})

t.test('TypeScript: wrong options and route config do not typecheck', async (t) => {
  const r = await badRun
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
