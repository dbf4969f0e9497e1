// A TCP proxy between node-postgres and the real server, reading the server's side as protocol
// messages ([type][int32 length][body]), so that a test can do to one connection what a network
// does: hold back the ReadyForQuery that follows an ErrorResponse for a while (it then arrives in
// a packet of its own), forever (a stalled connection), or close the connection right after the
// ErrorResponse (lost between the two messages).
import { createServer, connect, type Server, type Socket } from 'node:net'
import type { Test } from 'tap'
import { databaseUrl } from '../helpers/db.js'

/** What happens after the next ErrorResponse whose SQLSTATE is `code`. */
export type AfterError = { delay: number } | 'stall' | 'close'

export interface Proxy {
  /** DATABASE_URL, through the proxy. */
  url: string
  /** Arms the next ErrorResponse with SQLSTATE `code` (on any connection). */
  arm: (code: string, after: AfterError) => void
  /** How many ErrorResponses the armed action was done after. */
  fired: () => number
}

/** SQLSTATE of an ErrorResponse body: the field after 'C'. */
function codeOf (body: Buffer): string | undefined {
  let at = 0
  while (at < body.length && body[at] !== 0) {
    const type = String.fromCharCode(body[at] as number)
    const end = body.indexOf(0, at + 1)
    if (type === 'C') return body.toString('utf8', at + 1, end)
    at = end + 1
  }
  return undefined
}

export async function startProxy (t: Test): Promise<Proxy> {
  const target = new URL(databaseUrl())
  let armed: { code: string, after: AfterError } | undefined
  let fired = 0
  const sockets = new Set<Socket>()
  const timers = new Set<NodeJS.Timeout>()
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port === '' ? 5432 : target.port), target.hostname)
    sockets.add(client)
    sockets.add(upstream)
    client.on('error', () => { upstream.destroy() })
    upstream.on('error', () => { client.destroy() })
    client.on('close', () => { upstream.destroy(); sockets.delete(client) })
    upstream.on('close', () => { client.destroy(); sockets.delete(upstream) })
    client.pipe(upstream)
    let pending = Buffer.alloc(0)
    /** Forwarding, or holding back what comes (for a while, or for good). */
    let state: 'forwarding' | 'holding' = 'forwarding'
    const forward = (): void => {
      while (state === 'forwarding' && pending.length >= 5) {
        const length = pending.readInt32BE(1)
        if (pending.length < 1 + length) break
        const message = pending.subarray(0, 1 + length)
        pending = pending.subarray(1 + length)
        client.write(message)
        if (message[0] !== 0x45 || armed === undefined || codeOf(message.subarray(5)) !== armed.code) continue // not 'E', or not the armed one
        const { after } = armed
        armed = undefined
        fired++
        if (after === 'close') {
          client.destroy()
          return
        }
        state = 'holding'
        if (after !== 'stall') {
          // The rest (the ReadyForQuery) in a packet of its own, later.
          const timer = setTimeout(() => {
            timers.delete(timer)
            state = 'forwarding'
            forward()
          }, after.delay)
          timers.add(timer)
        }
      }
    }
    upstream.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk])
      forward()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    for (const timer of timers) clearTimeout(timer)
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => server.close(resolve))
  })
  const address = server.address()
  const url = new URL(target.href)
  url.hostname = '127.0.0.1'
  url.port = String(typeof address === 'object' && address !== null ? address.port : 0)
  return {
    url: url.href,
    arm (code, after) { armed = { code, after } },
    fired: () => fired
  }
}
