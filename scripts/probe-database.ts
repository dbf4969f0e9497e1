/**
 * Whether a DATABASE_URL can be used, said in one line: scripts/with-database.ts runs it before
 * anything (npm test, the demo, the benchmarks), so that a wrong URL stops the run at once.
 */
import pg from 'pg'

/** The URL with its password hidden, for messages. */
export function redacted (url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password !== '') parsed.password = '***'
    return parsed.href
  } catch {
    return '(not a URL)'
  }
}

/** Why a connection failed, in one line (Node gives an AggregateError without a message when every address of a host refuses). */
export function reason (error: unknown): string {
  const { message, code, errors } = error as { message?: string, code?: string, errors?: Array<{ message?: string }> }
  const text = message !== undefined && message !== '' ? message : errors?.map((one) => one.message).join('; ') ?? ''
  return (text !== '' ? text : code ?? String(error)).replace(/\s+/g, ' ')
}

/** Connects once to `url` and runs `SELECT 1`; the failure in one line, or `undefined` when the server answers. */
export async function probe (url: string, timeoutMs = 5000): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs })
  client.on('error', () => {}) // a connection lost after the probe: nothing to say
  try {
    await client.connect()
    await client.query('SELECT 1')
    return undefined
  } catch (error) {
    return `cannot use DATABASE_URL=${redacted(url)}: ${reason(error)}`
  } finally {
    await client.end().catch(() => {})
  }
}
