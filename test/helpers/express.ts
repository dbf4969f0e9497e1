import type { Express } from 'express'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import type { Test } from 'tap'

/** Starts `app` on a free port of the loopback; the server closes when the test ends. Gives the base URL. */
export async function listen (t: Test, app: Express): Promise<string> {
  const server = app.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections() // fetch keeps connections alive
    server.close(() => { resolve() })
  }))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

export interface Reply {
  status: number
  type: string | null
  headers: Headers
  text: string
  /** The body parsed as JSON, or `undefined` when it is not JSON. */
  json: any
}

/** A request over HTTP; JSON in, the body read whatever it is. */
export async function request (url: string, method = 'POST', body?: unknown): Promise<Reply> {
  const response = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  const text = await response.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  return { status: response.status, type: response.headers.get('content-type'), headers: response.headers, text, json }
}

export interface Line {
  level: 'info' | 'warn' | 'error'
  obj: unknown
  msg: string | undefined
}

/** A logger with pino's methods that keeps what it is told (for the `logger` option). */
export function memoryLogger (): { lines: Line[], info: (obj: object, msg: string) => void, warn: (obj: object | string, msg?: string) => void, error: (obj: object | string, msg?: string) => void } {
  const lines: Line[] = []
  const at = (level: Line['level']) => (obj: unknown, msg?: string): void => {
    lines.push(typeof obj === 'string' ? { level, obj: undefined, msg: obj } : { level, obj, msg })
  }
  return { lines, info: at('info'), warn: at('warn'), error: at('error') }
}

export interface PinoLine {
  level: number
  msg: string
  [key: string]: unknown
}

/** A stream for pino (pino-http) whose JSON lines are kept, parsed. */
export function pinoStream (): { stream: Writable, lines: PinoLine[] } {
  const lines: PinoLine[] = []
  const stream = new Writable({
    write (chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line) as PinoLine)
      callback()
    }
  })
  return { stream, lines }
}
