// TypeScript 7 for the consumer project of test/package.test.ts, which compiles the packed
// package's declarations and the documentation's snippets with TypeScript 6 (the repository's
// own, which tap needs) and 7. Installed once into node_modules/.cache (it needs the network),
// never as the repository's typescript: `node scripts/typescript-7.mjs` installs it if missing
// and prints the path of its tsc. CI runs it before the tests.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const VERSION = '7.0.2'
const repo = join(dirname(fileURLToPath(import.meta.url)), '..')
const dir = join(repo, 'node_modules', '.cache', 'fastify-pg-conflict', `typescript-${VERSION}`)
// lib/tsc.js rather than bin/tsc: an extensionless ES module, which node loads wrongly when
// another loader is registered (as tap's is, in the processes a test spawns).
export const TSC = join(dir, 'node_modules', 'typescript', 'lib', 'tsc.js')

export function installTypeScript7 () {
  if (existsSync(TSC)) return TSC
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ private: true, dependencies: { typescript: VERSION } }, null, 2))
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--prefix', dir], {
    stdio: ['ignore', 'ignore', 'inherit'],
    shell: process.platform === 'win32'
  })
  if (!existsSync(TSC)) throw new Error(`npm installed typescript@${VERSION} into ${dir}, but ${TSC} is not there`)
  return TSC
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(installTypeScript7())
