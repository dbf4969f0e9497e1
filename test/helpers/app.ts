import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { Writable } from 'node:stream'
import type { Test } from 'tap'

export interface LogLine {
  level: number
  msg: string
  [key: string]: unknown
}

/** A Fastify app whose log lines (level info and above) are kept in `logs`; closed when the test ends. */
export function buildApp (t: Test, options: FastifyServerOptions = {}): { app: FastifyInstance, logs: LogLine[] } {
  const logs: LogLine[] = []
  const stream = new Writable({
    write (chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n')) if (line !== '') logs.push(JSON.parse(line) as LogLine)
      callback()
    }
  })
  const app = Fastify({ logger: { level: 'info', stream }, ...options })
  t.teardown(() => app.close())
  return { app, logs }
}

export const INFO = 30
export const WARN = 40
export const ERROR = 50
