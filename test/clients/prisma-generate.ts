// Prisma clients for the tests, generated when a test runs: generated code is not committed.
import type { Test } from 'tap'
import { execFile } from 'node:child_process'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const require = createRequire(import.meta.url)

/**
 * Runs `prisma generate` on `schema` (whose generator must write to `./client`) into a directory
 * of this run's own under node_modules/.cache (git-ignored), removed when `t` ends, and loads the
 * generated module. `dir` is where the schema and what its generators wrote are.
 */
export async function generatePrismaClient (t: Test, name: string, schema: string): Promise<{ client: unknown, dir: string }> {
  const dir = fileURLToPath(new URL(`../../node_modules/.cache/fastify-pg-conflict/prisma-${name}-${process.pid}/`, import.meta.url))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'schema.prisma'), schema)
  // The CLI fetches its schema engine (a native binary that only migrations and introspection
  // run) before any command, from a host this machine cannot reach. `generate` does not use it
  // (it runs on WebAssembly shipped in the package), so the download is skipped by naming a
  // stand-in file, which is never run.
  const standIn = join(dir, 'schema-engine-not-used')
  await writeFile(standIn, '')
  await promisify(execFile)(process.execPath, [require.resolve('prisma/build/index.js'), 'generate', '--schema', join(dir, 'schema.prisma')], {
    env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: standIn, CHECKPOINT_DISABLE: '1', PRISMA_HIDE_UPDATE_MESSAGE: '1' },
    timeout: 60_000
  })
  return { client: require(join(dir, 'client', 'index.js')), dir }
}
