// The documentation, checked as a reader relies on it: the README reads as an npm page (install
// first, the repository's commands last, short), every link and anchor leads somewhere, every
// export is documented in docs/api.md, and every TypeScript snippet is one that
// test/package.test.ts compiles and runs (test/helpers/snippets.ts says how snippets are marked).
import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, normalize } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as main from '../src/index.js'
import * as express from '../src/express.js'
import * as mercurius from '../src/mercurius.js'
import { allSnippets, documentationFiles, fencedBlocks } from './helpers/snippets.js'

const repo = fileURLToPath(new URL('..', import.meta.url))
const REPOSITORY = 'https://github.com/fastify-pg-conflict/fastify-pg-conflict'
/** Written on other branches (issues 11, 13 and 16), linked from here already. */
const PENDING = new Set(['docs/security.md'])

const read = (file: string): string => readFileSync(join(repo, file), 'utf8')
const readme = read('README.md')

/** The lines of a Markdown text outside its fenced code blocks. */
function prose (markdown: string): string[] {
  const lines: string[] = []
  let fence: string | undefined
  for (const line of markdown.split('\n')) {
    const open = /^\s*(```+)/.exec(line)?.[1]
    if (fence === undefined && open !== undefined) fence = open
    else if (fence !== undefined && line.trim().startsWith(fence)) fence = undefined
    else if (fence === undefined) lines.push(line)
  }
  return lines
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
function slug (heading: string): string {
  return heading.trim().toLowerCase()
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-')
}

/** The anchors of a Markdown file's headings, a repeated one numbered as GitHub does. */
function anchors (markdown: string): Set<string> {
  const seen = new Map<string, number>()
  const found = new Set<string>()
  for (const line of prose(markdown)) {
    const heading = /^#{1,6}\s+(.*)$/.exec(line)?.[1]
    if (heading === undefined) continue
    const base = slug(heading)
    const count = seen.get(base) ?? 0
    seen.set(base, count + 1)
    found.add(count === 0 ? base : `${base}-${count}`)
  }
  return found
}

/** The link targets of a Markdown text, outside code. */
function links (markdown: string): string[] {
  return prose(markdown).flatMap((line) => [...line.replace(/`[^`]*`/g, '').matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1] as string))
}

t.test('the README reads as an npm page', async (t) => {
  const lines = readme.split('\n')
  t.ok(lines.length < 350, `under 350 lines (${lines.length})`)
  const at = (text: string): number => lines.findIndex((line) => line.includes(text))
  t.ok(at('npm i fastify-pg-conflict') > 0, 'it says how to install from npm')
  t.ok(at('**Compatibility:**') > 0 && at('**Compatibility:**') < at('## Install'), 'a compatibility line comes first')
  t.match(lines[at('**Compatibility:**')] + (lines[at('**Compatibility:**') + 1] ?? ''), /Fastify 5.*Node\.js 20.*PostgreSQL.*15 and 18/,
    'naming Fastify, Node.js and PostgreSQL (the versions the tests run)')
  const sections = lines.filter((line) => line.startsWith('## ')).map((line) => line.slice(3))
  t.same(sections.slice(0, 3), ['Contents', 'Install', 'Quick start'], 'contents, install, quick start, in that order')
  t.ok(sections.indexOf('Development') >= sections.length - 2, 'the repository\'s commands come near the end, in Development')
  for (const command of ['npm run demo', 'npm test', 'npm run bench', 'npm run test:load', 'scripts/architecture.ts']) {
    t.ok(at(command) > at('## Development'), `${command} is in Development`)
  }
  const contents = lines.slice(at('## Contents'), at('## Install')).join('\n')
  const listed = links(contents).map((target) => target.slice(1))
  t.same(listed.filter((anchor) => !anchors(readme).has(anchor)), [], 'the contents lead to headings')
  t.same(sections.filter((section) => !['Contents', 'License'].includes(section) && !listed.includes(slug(section))), [],
    'and list every section')

  const quickStart = allSnippets(repo).find((snippet) => snippet.where.startsWith('README.md') && snippet.heading === 'Quick start')
  t.ok(quickStart?.run, 'the quick start is a snippet that runs')
  t.match(quickStart?.code ?? '', /pool\.query\(/, 'a plain pool.query() handler: its conflicts keep their connection')
})

t.test('links lead somewhere, from npm too', async (t) => {
  const files = documentationFiles(repo)
  t.ok(files.length > 5, `README.md and ${files.length - 1} files in docs/`)
  const anchorsOf = new Map(files.map((file) => [file, anchors(read(file))]))
  const check = (from: string, target: string): string | undefined => {
    const [path = '', anchor] = target.split('#')
    if (path === '') return anchor !== undefined && anchorsOf.get(from)?.has(anchor) !== true ? `no heading #${anchor}` : undefined
    const file = normalize(join(dirname(from), path)).replace(/\/$/, '')
    if (!existsSync(join(repo, file)) && !PENDING.has(file)) return `no file ${file}`
    const known = anchorsOf.get(file)
    if (anchor !== undefined && known !== undefined && !known.has(anchor)) return `no heading #${anchor} in ${file}`
    return undefined
  }
  for (const file of files) {
    const broken: string[] = []
    for (const target of links(read(file))) {
      if (/^(https?:|mailto:)/.test(target) && !target.startsWith(`${REPOSITORY}/`)) continue
      if (file === 'README.md' && !target.startsWith('#') && !target.startsWith(REPOSITORY)) {
        broken.push(`${target}: a relative link, which npm's page of the README cannot follow`)
        continue
      }
      const inRepository = /^https:\/\/github\.com\/fastify-pg-conflict\/fastify-pg-conflict\/(?:blob|tree)\/main\/(.*)$/.exec(target)
      if (target.startsWith(REPOSITORY) && inRepository === null && target !== `${REPOSITORY}#readme`) {
        broken.push(`${target}: not a file on the main branch`)
        continue
      }
      const problem = check(file, inRepository !== null ? `/${inRepository[1] ?? ''}`.replace(/^\//, file === 'README.md' ? '' : '../') : target)
      if (problem !== undefined) broken.push(`${target}: ${problem}`)
    }
    t.same(broken, [], `${file}: every link and anchor resolves`)
  }
})

t.test('every export is documented in docs/api.md', async (t) => {
  const api = read('docs/api.md')
  const headings = prose(api).filter((line) => line.startsWith('### '))
  for (const [entry, module] of [['fastify-pg-conflict', main], ['fastify-pg-conflict/express', express], ['fastify-pg-conflict/mercurius', mercurius]] as const) {
    const names = Object.keys(module).filter((name) => name !== 'default')
    t.ok(names.length > 0, `${entry} has runtime exports`)
    t.same(names.filter((name) => !headings.some((heading) => heading.includes(`\`${name}\``))), [],
      `${entry}: each runtime export has a heading`)
  }
  for (const file of ['src/index.ts', 'src/express.ts', 'src/mercurius.ts']) {
    const source = read(file)
    const types = [
      ...[...source.matchAll(/export type \{([^}]*)\}/g)].flatMap((m) => (m[1] as string).split(',')),
      ...[...source.matchAll(/\btype (\w+)\b(?=\s*[,\n}])/g)].map((m) => m[1] as string)
    ].map((name) => name.trim().replace(/^type\s+/, '').split(/\s+as\s+/).pop() ?? '').filter((name) => name !== '')
    t.ok(types.length > (file === 'src/mercurius.ts' ? 1 : 10), `${file} exports types`)
    t.same(types.filter((name) => !api.includes(`\`${name}\``) && !api.includes(`\`${name}<`)), [], `${file}: each type export is named in docs/api.md`)
  }
})

t.test('every TypeScript block is a snippet test/package.test.ts compiles', async (t) => {
  const snippets = allSnippets(repo)
  const blocks = documentationFiles(repo).flatMap((file) => fencedBlocks(read(file)).filter((block) => /^(ts|typescript)$/.test(block.info)))
  t.equal(snippets.length, blocks.length, `${snippets.length} snippets, one per \`\`\`ts block`)
  t.ok(snippets.filter((snippet) => snippet.run).length >= snippets.length - 3, 'all but a few (marked no-run, with the reason) also run')
  for (const snippet of snippets) {
    t.notMatch(snippet.code, /from '\.\.?\//, `${snippet.where}: imports the package by its name, as a user does`)
  }
  t.same(documentationFiles(repo).flatMap((file) => fencedBlocks(read(file)).filter((block) => /^(js|javascript|mts|cts|tsx)$/.test(block.info)).map((block) => `${file}:${block.line}`)), [],
    'no code block in another flavour of JavaScript, which nothing would compile')
})

t.test('an unknown snippet marker is an error, not a snippet silently taken another way', async (t) => {
  const { snippetsOf } = await import('./helpers/snippets.js')
  t.throws(() => snippetsOf('x.md', '<!-- snippet: nocompile -->\n```ts\nconst x = 1\n```\n'), /x\.md:2: unknown snippet marker "nocompile"/)
  t.throws(() => snippetsOf('x.md', '<!-- snippet: no-run (why) -->\n```sh\nls\n```\n'), /not ```ts/)
  t.same(snippetsOf('x.md', '<!-- snippet: no-run (it would drop the database) -->\n<!-- a note -->\n```ts\nconst x = 1\n```\n').map((s) => [s.run, s.kind]), [[false, 'module']])
  t.same(snippetsOf('x.md', '<!-- snippet: options -->\n```ts\npool\n```\n').map((s) => s.kind), ['options'])
})
