#!/usr/bin/env node
/**
 * The command line: `npx fastify-pg-conflict sequences [--database-url <url>] [--schema <s>…] [--fix]`.
 * Exit codes: 0 nothing is behind (or everything behind was fixed), 1 something is behind (a dry
 * run, or a fix that failed), 2 a usage error (a schema that does not exist too), 3 the check
 * could not run (no `pg`, no connection, a failing query).
 */
import { realpathSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { resetSequences, type SequenceReset } from './sequences/sequences.js'
import { nearest } from './util/nearest.js'

export const USAGE = `Usage: fastify-pg-conflict sequences [--database-url <url>] [--schema <name>]... [--fix]

Lists every serial and identity column whose sequence is behind the column's maximum (after COPY,
pg_restore --data-only or inserts with explicit ids), with the SQL that fixes each; --fix fixes
them (never moving a sequence backwards).

Options:
  --database-url <url>  the database (default: the DATABASE_URL environment variable)
  -s, --schema <name>   a schema to check; repeat for several (default: every non-system schema)
  --fix                 fix the sequences that are behind (default: only list them)
  --lock-timeout <ms>   with --fix: the longest wait for a table's lock (inserts into it wait
                        while its sequence is fixed); a table still busy then is reported (default 2000)
  -h, --help            show this help
  --version             print the version

Exit codes: 0 nothing behind (or all fixed), 1 something behind (or a fix failed),
            2 usage error (or a schema that does not exist), 3 could not check (pg not
            installed, connection or query failed)
`

/** Said after a usage error, instead of the whole usage. */
export const HELP_HINT = 'Run `fastify-pg-conflict --help` for usage.'


export const EXIT = { ok: 0, behind: 1, usage: 2, failed: 3 } as const

interface Output { write: (text: string) => unknown }

/** A node-postgres client, as far as this command uses it. */
interface Client {
  connect: () => Promise<unknown>
  query: (text: string, values?: unknown[]) => Promise<{ rows: unknown[] }>
  end: () => Promise<void>
  on: (event: 'error', listener: (error: Error) => void) => unknown
}

/** node-postgres, as far as this command uses it. */
export interface PgModule {
  Client: new (config: { connectionString: string }) => Client
}

export interface MainContext {
  stdout: Output
  stderr: Output
  env: Record<string, string | undefined>
  /** Loads node-postgres. Default `import('pg')`. */
  loadPg?: () => Promise<{ default: PgModule }>
}

class UsageError extends Error {}

interface Command {
  databaseUrl: string
  schemas: string[] | undefined
  fix: boolean
  lockTimeout: number | undefined
}

function parse (argv: readonly string[], env: MainContext['env']): Command | 'help' | 'version' {
  let parsed
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        'database-url': { type: 'string' },
        schema: { type: 'string', short: 's', multiple: true },
        fix: { type: 'boolean', default: false },
        'lock-timeout': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
        version: { type: 'boolean', default: false }
      }
    })
  } catch (error) {
    // Node's own message names the option, then tells to pass it after '--': the first sentence is the one that helps.
    throw new UsageError((error as Error).message.replace(/\. To specify a positional argument starting with a '-'.*$/s, ''))
  }
  const { values, positionals } = parsed
  if (values.help) return 'help'
  if (values.version) return 'version'
  const [command, ...rest] = positionals
  if (command === undefined) throw new UsageError('no command given (the command is "sequences")')
  if (command !== 'sequences') throw new UsageError(`unknown command "${command}" (the command is "sequences")`)
  if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0] as string}"`)
  const databaseUrl = values['database-url'] ?? env.DATABASE_URL
  if (databaseUrl === undefined || databaseUrl === '') throw new UsageError('no database: pass --database-url <url> or set DATABASE_URL')
  if (values.schema?.includes('') === true) throw new UsageError('--schema needs a schema name')
  const lockTimeout = values['lock-timeout']
  if (lockTimeout !== undefined && !/^\d{1,9}$/.test(lockTimeout)) throw new UsageError('--lock-timeout needs a whole number of milliseconds')
  return { databaseUrl, schemas: values.schema, fix: values.fix, lockTimeout: lockTimeout === undefined ? undefined : Number(lockTimeout) }
}

/**
 * What is wrong with the schemas asked for, if any does not exist (a typo would otherwise check
 * nothing and pass): each named, with the database's nearest schema names.
 */
async function missingSchemas (client: Client, schemas: readonly string[]): Promise<string[]> {
  if (schemas.length === 0) return []
  const { rows } = await client.query('SELECT nspname AS name FROM pg_namespace ORDER BY nspname')
  const names = (rows as Array<{ name: string }>).map((row) => row.name)
  return [...new Set(schemas)].filter((schema) => !names.includes(schema)).map((schema) => {
    const near = nearest(schema, names)
    return `no schema ${JSON.stringify(schema)} in the database${near.length === 0 ? '' : `; did you mean ${near.map((name) => JSON.stringify(name)).join(' or ')}?`}`
  })
}

/** This package's version, from its package.json (found by the package's own name, as its `exports` allow). */
export const VERSION = (createRequire(import.meta.url)('fastify-pg-conflict/package.json') as { version: string }).version

async function loadPg (context: MainContext): Promise<PgModule> {
  const load = context.loadPg ?? (async () => await import('pg'))
  try {
    return (await load()).default
  } catch (error) {
    throw new Error(`this command needs the "pg" package (node-postgres), which could not be loaded: install it with \`npm install pg\` (${(error as Error).message})`)
  }
}

/** `schema.table.column`, for reading (each part quoted unless it is a plain lower-case word). */
function columnName (row: SequenceReset): string {
  return [row.schema, row.table, row.column].map(displayIdent).join('.')
}

/** An identifier as SQL shows it: bare when it is a plain lower-case word, quoted otherwise. */
function displayIdent (name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replaceAll('"', '""')}"`
}

function table (rows: readonly string[][]): string {
  const widths = (rows[0] as string[]).map((_, i) => Math.max(...rows.map((row) => (row[i] as string).length)))
  return rows.map((row) => row.map((cell, i) => i === row.length - 1 ? cell : cell.padEnd(widths[i] as number)).join('  ').trimEnd()).join('\n') + '\n'
}

function plural (n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

function report (found: readonly SequenceReset[], fix: boolean, out: Output, err: Output): number {
  if (found.length === 0) {
    out.write('No sequence is behind its column.\n')
    return EXIT.ok
  }
  const header = ['column', 'kind', 'sequence', 'last value', 'max', 'status', 'fix']
  out.write(table([header, ...found.map((row) => [
    columnName(row), row.kind, row.sequence, row.lastValue, row.max as string,
    fix ? (row.fixed ? 'fixed' : 'NOT FIXED') : 'behind',
    row.fixSql !== null ? `${row.fixSql};` : `-- only ids far ahead, up to ${String(row.outlier?.max)}: not followed (${String(row.outlier?.sql)};)`
  ])]))
  if (!fix) {
    out.write(`\n${plural(found.length, 'sequence')} behind; nothing was changed. Run again with --fix to fix them, or run the SQL above.\n`)
    return EXIT.behind
  }
  const failed = found.filter((row) => !row.fixed)
  const fixed = found.length - failed.length
  out.write(`\nFixed ${plural(fixed, 'sequence')}.\n`)
  if (failed.length === 0) return EXIT.ok
  for (const row of failed) err.write(`could not fix ${columnName(row)}: ${row.error as string}\n`)
  err.write(`${plural(failed.length, 'sequence')} still behind.\n`)
  return EXIT.behind
}

/** Runs the command line `argv` (without `node` and the script); resolves to the exit code. */
export async function main (argv: readonly string[], context: MainContext): Promise<number> {
  const { stdout, stderr, env } = context
  let command: Command | 'help' | 'version'
  try {
    command = parse(argv, env)
  } catch (error) {
    stderr.write(`fastify-pg-conflict: ${(error as Error).message}\n${HELP_HINT}\n`)
    return EXIT.usage
  }
  if (command === 'help') {
    stdout.write(USAGE)
    return EXIT.ok
  }
  if (command === 'version') {
    stdout.write(`${VERSION}\n`)
    return EXIT.ok
  }
  const failed = (error: unknown): number => {
    stderr.write(`fastify-pg-conflict: ${(error as Error).message}\n`)
    return EXIT.failed
  }
  let pg: PgModule
  try {
    pg = await loadPg(context)
  } catch (error) {
    return failed(error)
  }
  const client = new pg.Client({ connectionString: command.databaseUrl })
  // A connection lost mid-run also fails the query in flight, which is reported below; without a
  // listener, the client's 'error' event would end the process first.
  client.on('error', () => {})
  let code: number
  try {
    await client.connect()
    const missing = await missingSchemas(client, command.schemas ?? [])
    if (missing.length > 0) {
      for (const line of missing) stderr.write(`fastify-pg-conflict: ${line}\n`)
      code = EXIT.usage
    } else {
      const found = await resetSequences(client, { schema: command.schemas, dryRun: !command.fix, lockTimeout: command.lockTimeout })
      code = report(found, command.fix, stdout, stderr)
    }
  } catch (error) {
    code = failed(error)
  }
  await client.end() // resolves, even on a connection that failed or was lost
  return code
}

/** Whether this module is the program node was started with (`node cli.js`, or the npm bin link to it). */
export function isMainModule (moduleUrl: string, argv1: string | undefined): boolean {
  if (argv1 === undefined) return false
  try {
    return realpathSync(argv1) === realpathSync(fileURLToPath(moduleUrl))
  } catch {
    return false
  }
}

// The CommonJS build (tsconfig.cjs.json) compiles this file too, and rejects import.meta there
// (TS1343); the command runs from the ES module build, where it is valid.
if (isMainModule(import.meta.url, process.argv[1])) {
  void main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env })
    .then((code) => { process.exitCode = code })
}
