// The source's architecture (ARCHITECTURE.md): no import cycle, and every import pointing down
// the layers util → core → catalog → sequences → races → engine → adapters → entry points.
import t from 'tap'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { analyse, LAYERS } from '../scripts/architecture.js'

t.test('src/: no import cycle, every import points down the layers', async (t) => {
  const { modules, cycles, upward } = analyse(fileURLToPath(new URL('../src/', import.meta.url)))
  t.same(cycles, [], 'no cycle')
  t.same(upward, [], 'no upward import')
  for (const module of modules) {
    const folder = module.includes('/') ? module.slice(0, module.indexOf('/')) : undefined
    t.ok(folder === undefined || (LAYERS as readonly string[]).includes(folder), `${module} is in a known layer`)
  }
  t.same(modules.filter((m) => !m.includes('/')), ['cli.ts', 'express.ts', 'index.ts', 'mercurius.ts'], 'only the package\'s entry points are at the top')
})

t.test('the check finds a cycle and an upward import', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fpc-architecture-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  await mkdir(join(dir, 'core'))
  await mkdir(join(dir, 'engine'))
  await writeFile(join(dir, 'core', 'a.ts'), "import { b } from './b.js'\nexport const a = b\n")
  await writeFile(join(dir, 'core', 'b.ts'), "import type { a } from './a.js'\nexport const b = 1\n")
  await writeFile(join(dir, 'core', 'c.ts'), "export { e } from '../engine/e.js'\n")
  await writeFile(join(dir, 'engine', 'e.ts'), "export const e = await import('../core/a.js')\n")
  const { cycles, upward } = analyse(dir)
  t.same(cycles, [['core/a.ts', 'core/b.ts']], 'the cycle through a type import is found')
  t.same(upward, ['core/c.ts → engine/e.ts'], 'core importing engine is upward')
})
