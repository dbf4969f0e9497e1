/**
 * The TypeScript snippets of README.md and docs/*.md, as modules a consumer project compiles
 * (test/package.test.ts, against the packed package) and runs. test/docs.test.ts checks the
 * Markdown around them.
 *
 * Every ```ts block is a snippet. A block is compiled as a module of its own, strict, where the
 * package is `fastify-pg-conflict` and a few names are given ambiently (SNIPPET_GLOBALS below: an
 * `app`, a `pool`, a `handler`…), so that a snippet need not repeat its set-up. An HTML comment
 * on the line just before the block's fence changes how it is taken:
 *
 *   <!-- snippet: options -->   the block is the inside of the plugin's options object
 *                               (`{ … }`, as the option tables show them): compiled as a
 *                               `FastifyPgConflictOptions`, and run by registering the plugin with it.
 *   <!-- snippet: no-run (why) -->  compiled, not run: it would change what it must not (the
 *                               whole database) or needs what the run does not have; say why.
 *
 * Other comments (the quick start's note, say) may stand between the marker and the fence.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

export type SnippetKind = 'module' | 'options'

export interface Snippet {
  /** `README.md:120`: the file and the line of the opening fence. */
  where: string
  /** A name usable as a file name: `readme-120`, `docs-races-14`. */
  id: string
  /** The heading the block is under. */
  heading: string
  kind: SnippetKind
  run: boolean
  code: string
}

/** `<!-- snippet: no-run (why) -->`: a comment that starts with `snippet:` is a marker; its first word says which. */
const MARKER = /^<!--\s*snippet:\s*([^\s(:]*)/
const MARKERS = new Set(['options', 'no-run'])

/** README.md and every docs/*.md, relative to the repository. */
export function documentationFiles (repo: string): string[] {
  const docs = readdirSync(join(repo, 'docs')).filter((file) => file.endsWith('.md')).sort().map((file) => join('docs', file))
  return ['README.md', ...docs]
}

/** The fenced code blocks of a Markdown text, with their info string, first line (1-based) and the comments just above. */
export function fencedBlocks (markdown: string): Array<{ info: string, line: number, code: string, comments: string[], heading: string }> {
  const lines = markdown.split('\n')
  const blocks: Array<{ info: string, line: number, code: string, comments: string[], heading: string }> = []
  let heading = ''
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string
    const heading_ = /^#{1,6}\s+(.*)$/.exec(line)
    if (heading_ !== null) heading = heading_[1] as string
    const open = /^(\s*)(```+)(.*)$/.exec(line)
    if (open === null) continue
    const indent = (open[1] as string).length
    const fence = open[2] as string
    const body: string[] = []
    let j = i + 1
    while (j < lines.length && !(lines[j] as string).trim().startsWith(fence)) {
      body.push((lines[j] as string).slice(Math.min(indent, /^\s*/.exec(lines[j] as string)?.[0].length ?? 0)))
      j++
    }
    const comments: string[] = []
    for (let k = i - 1; k >= 0 && /^\s*<!--.*-->\s*$/.test(lines[k] as string); k--) comments.unshift((lines[k] as string).trim())
    blocks.push({ info: (open[3] as string).trim(), line: i + 1, code: body.join('\n'), comments, heading })
    i = j
  }
  return blocks
}

/** The snippets of one Markdown file; throws on a marker it does not know, so that none is ignored silently. */
export function snippetsOf (file: string, markdown: string): Snippet[] {
  const prefix = file.replace(/\.md$/, '').replace(/[^A-Za-z0-9]+/g, '-').toLowerCase()
  const snippets: Snippet[] = []
  for (const block of fencedBlocks(markdown)) {
    const markers = block.comments.map((comment) => MARKER.exec(comment)?.[1]).filter((marker) => marker !== undefined)
    for (const marker of markers) {
      if (!MARKERS.has(marker)) throw new Error(`${file}:${block.line}: unknown snippet marker "${marker}" (known: ${[...MARKERS].join(', ')})`)
    }
    if (!/^(ts|typescript)$/.test(block.info)) {
      if (markers.length > 0) throw new Error(`${file}:${block.line}: a snippet marker on a block that is not \`\`\`ts`)
      continue
    }
    snippets.push({
      where: `${file}:${block.line}`,
      id: `${prefix}-${block.line}`,
      heading: block.heading,
      kind: markers.includes('options') ? 'options' : 'module',
      run: !markers.includes('no-run'),
      code: block.code
    })
  }
  return snippets
}

/** Every snippet of README.md and docs/*.md. */
export function allSnippets (repo: string): Snippet[] {
  return documentationFiles(repo).flatMap((file) => snippetsOf(file, readFileSync(join(repo, file), 'utf8')))
}

/**
 * The names snippets may use without declaring them, as a declaration file of the consumer
 * project, and what the run gives them (test/package.test.ts sets them on globalThis).
 */
export const SNIPPET_GLOBALS = `import type { FastifyInstance, RouteHandlerMethod } from 'fastify'
import type pg from 'pg'

declare global {
  /** A Fastify app, without the plugin (a snippet registers it). */
  var app: FastifyInstance
  /** A pg.Pool on the run's database. */
  var pool: pg.Pool
  /** Any route handler. */
  var handler: RouteHandlerMethod
  /** A JSON Schema for a route's body. */
  var userSchema: { type: 'object', properties: Record<string, unknown> }
  /** A tag's slug, as a request would give it. */
  var slug: string
  /** The \`Prisma\` namespace of a client generated by prisma-client-js (its \`dmmf\`: the models of a \`posts\` table). */
  var Prisma: { dmmf: object }
}
export {}
`

/** The import declarations at the head of a snippet, and the rest. */
export function splitImports (code: string): { imports: string, body: string } {
  const lines = code.split('\n')
  let end = 0
  let inImport = false
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim()
    if (inImport) {
      if (/\bfrom\s+['"][^'"]+['"]/.test(line)) { inImport = false; end = i + 1 }
      continue
    }
    if (line === '' || line.startsWith('//')) continue
    if (!line.startsWith('import ')) break
    if (/\bfrom\s+['"][^'"]+['"]|^import\s+['"]/.test(line)) end = i + 1
    else inImport = true
  }
  return { imports: lines.slice(0, end).join('\n'), body: lines.slice(end).join('\n') }
}

/**
 * The snippet as a module: as written for an ES module (`top-level await` allowed); for CommonJS,
 * whose modules cannot `await` at the top, the statements after the imports go in an exported
 * async `snippet()` that the run calls. An options snippet becomes an exported `options`.
 */
export function moduleSource (snippet: Snippet, format: 'esm' | 'cjs'): string {
  const header = `// ${snippet.where} (${snippet.heading})\n`
  if (snippet.kind === 'options') {
    return `${header}import type { FastifyPgConflictOptions } from 'fastify-pg-conflict'\n\nexport const options: FastifyPgConflictOptions = {\n${snippet.code}\n}\n`
  }
  if (format === 'esm') return `${header}${snippet.code}\nexport {}\n`
  const { imports, body } = splitImports(snippet.code)
  return `${header}${imports}\n\nexport async function snippet (): Promise<void> {\n${body}\n}\n`
}

/** The tables the snippets use, made in the run's schema before they run. */
export const SNIPPET_SCHEMA = `
CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL, CONSTRAINT users_email_key UNIQUE (email));
CREATE TABLE accounts (id serial PRIMARY KEY, email text NOT NULL, CONSTRAINT accounts_email_key UNIQUE (email));
CREATE TABLE tags (id serial PRIMARY KEY, slug text NOT NULL, CONSTRAINT tags_slug_key UNIQUE (slug));
`
