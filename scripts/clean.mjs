// Build helper: empties dist/ before a build; with --mark-cjs, marks dist/cjs as CommonJS
// (the package is "type": "module", so its .js files are ES modules unless told otherwise).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'

if (process.argv.includes('--mark-cjs')) {
  mkdirSync('dist/cjs', { recursive: true })
  writeFileSync('dist/cjs/package.json', '{ "type": "commonjs" }\n')
} else {
  rmSync('dist', { recursive: true, force: true })
}
