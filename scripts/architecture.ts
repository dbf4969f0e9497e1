/**
 * Checks the source's architecture: no import cycle between modules, and every import pointing
 * down the layers (a folder of src/ may import only the folders listed before it).
 *
 *   npx tsx scripts/architecture.ts          prints the layers and what each imports; exit 1 on a violation
 *
 * test/architecture.test.ts runs the same check in `npm test`.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, posix, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The layers, lowest first. The entry points (src/*.ts) are above them all. */
export const LAYERS = ['util', 'connections', 'core', 'catalog', 'sequences', 'races', 'engine', 'adapters'] as const

const ENTRY = '(entry)'

export interface Architecture {
  /** Every module, as a path relative to src/ (`core/recognise.ts`). */
  modules: string[]
  /** What each module imports from src/. */
  imports: Map<string, string[]>
  /** Import cycles, each as the modules in it. */
  cycles: string[][]
  /** Imports that point up (or sideways into a folder not below): `from → to`. */
  upward: string[]
}

/** The folder a module belongs to: its first path segment, or the entry level for src/*.ts. */
export function layerOf (module: string): string {
  return module.includes('/') ? module.slice(0, module.indexOf('/')) : ENTRY
}

function rank (layer: string): number {
  return layer === ENTRY ? LAYERS.length : (LAYERS as readonly string[]).indexOf(layer)
}

function walk (dir: string, root: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return walk(path, root)
    return entry.name.endsWith('.ts') ? [relative(root, path).split('\\').join('/')] : []
  })
}

/** Relative import and export specifiers (static, `import type` and dynamic alike). */
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm

export function analyse (src: string): Architecture {
  const modules = walk(src, src).sort()
  const imports = new Map<string, string[]>()
  for (const module of modules) {
    const text = readFileSync(join(src, module), 'utf8')
    const targets = new Set<string>()
    for (const match of text.matchAll(SPECIFIER)) {
      targets.add(posix.normalize(posix.join(posix.dirname(module), match[1] as string)).replace(/\.js$/, '.ts'))
    }
    imports.set(module, [...targets].sort())
  }
  const upward: string[] = []
  for (const [from, targets] of imports) {
    for (const to of targets) {
      const a = layerOf(from)
      const b = layerOf(to)
      if (rank(b) === -1 || rank(a) === -1 || (a !== b && rank(b) > rank(a)) || (b === ENTRY && a !== ENTRY)) upward.push(`${from} → ${to}`)
    }
  }
  return { modules, imports, cycles: cyclesOf(imports), upward }
}

/** Strongly connected components of more than one module, or a module importing itself (Tarjan). */
function cyclesOf (graph: Map<string, string[]>): string[][] {
  let counter = 0
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const cycles: string[][] = []
  const visit = (v: string): void => {
    index.set(v, counter)
    low.set(v, counter++)
    stack.push(v)
    onStack.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number))
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) as number, index.get(w) as number))
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = []
      let w: string
      do {
        w = stack.pop() as string
        onStack.delete(w)
        component.push(w)
      } while (w !== v)
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(component.sort())
    }
  }
  for (const v of graph.keys()) if (!index.has(v)) visit(v)
  return cycles
}

function main (): number {
  const src = fileURLToPath(new URL('../src/', import.meta.url))
  const { modules, imports, cycles, upward } = analyse(src)
  for (const layer of [...LAYERS, ENTRY]) {
    const inLayer = modules.filter((m) => layerOf(m) === layer)
    const below = new Set(inLayer.flatMap((m) => (imports.get(m) ?? []).map(layerOf)).filter((l) => l !== layer))
    console.log(`${layer.padEnd(10)} ${String(inLayer.length).padStart(2)} modules  imports: ${[...below].sort((a, b) => rank(a) - rank(b)).join(', ') || '(nothing)'}`)
  }
  for (const cycle of cycles) console.log(`cycle: ${cycle.join(' ⇄ ')}`)
  for (const edge of upward) console.log(`upward import: ${edge}`)
  console.log(cycles.length === 0 && upward.length === 0 ? 'no import cycle; every import points down the layers' : 'architecture check failed')
  return cycles.length === 0 && upward.length === 0 ? 0 : 1
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = main()
