// The real Bun runtime, from the npm package `bun` (a devDependency), whose binary comes in a
// platform package (@oven/bun-linux-x64, …, an optional dependency). package.json's allowScripts
// does not run bun's postinstall: it only moves that binary to node_modules/bun/bin (in place of a
// placeholder script), and it exits 1, failing `npm install`, where no platform package could be
// had. So the binary is taken from the platform package, or from node_modules/bun/bin where the
// postinstall ran after all (an npm that does not gate scripts). Each candidate must run
// (`bun --version`): the x64 build needs AVX2; a CPU without it needs @oven/bun-linux-x64-baseline.
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const modules = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'node_modules')

/** Where Bun's binary may be, most likely first. */
function candidates (): string[] {
  const exe = process.platform === 'win32' ? 'bun.exe' : 'bun'
  const platform = `bun-${process.platform}-${process.arch === 'arm64' ? 'aarch64' : process.arch}`
  return [
    ...[platform, `${platform}-baseline`, `${platform}-musl`, `${platform}-musl-baseline`].map((name) => join(modules, '@oven', name, 'bin', exe)),
    join(modules, 'bun', 'bin', 'bun.exe') // where the postinstall moves it (named so on every platform)
  ]
}

/** The path of a Bun binary that runs here, and its version; or why there is none. */
export function findBun (): { path: string, version: string } | { missing: string } {
  const tried: string[] = []
  for (const path of candidates()) {
    if (!existsSync(path)) continue
    try {
      return { path, version: execFileSync(path, ['--version'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] }).trim() }
    } catch (error) {
      tried.push(`${path}: ${(error as Error).message.split('\n')[0] ?? ''}`)
    }
  }
  return {
    missing: `no runnable Bun in node_modules (the devDependency \`bun\` and its platform package @oven/bun-${process.platform}-*)` +
      (tried.length > 0 ? `; tried ${tried.join('; ')}` : ': none installed') + '. `npm install` installs it where Bun supports the platform.'
  }
}
