// A load driver over real HTTP: a fixed number of keep-alive connections, each sending its next
// request when the previous one is answered, until a number of requests OR a deadline is reached.
// Each answer (status, parsed body, request id) is handed to the caller as it arrives, so that a
// run of 20 000 requests keeps nothing per request unless the caller does.
import http from 'node:http'

export interface LoadRequest {
  method?: 'POST' | 'GET'
  url: string
  body?: unknown
}

export interface LoadResponse {
  status: number
  /** The body parsed as JSON (`undefined` when it is not JSON). */
  body: unknown
}

export interface LoadOptions {
  port: number
  /** Concurrent HTTP connections (kept alive). */
  connections: number
  /** Requests in all at most (numbered 0 … total - 1). */
  total: number
  /** No request is sent after this many ms from the start; the run then reports `finished: false`. */
  deadlineMs: number
  /** One request waits at most this long for its answer (a client-side failure after that). */
  requestTimeoutMs?: number
  /**
   * The request with number `i`, built when it is sent (so it may depend on what happened so far);
   * `undefined` ends the run before `total`.
   */
  request: (i: number) => LoadRequest | undefined
  /**
   * Sent as `x-request-id` (followed by the request's number): the apps under test take it as
   * Fastify's request id (`requestIdHeader`), so their log lines name the request.
   */
  idPrefix?: string
  /** Called with each answer. */
  onResponse: (i: number, request: LoadRequest, response: LoadResponse) => void
}

export interface LoadOutcome {
  /** Requests sent. */
  sent: number
  /** Requests answered (with any status). */
  answered: number
  /** Requests that got no answer: socket errors, timeouts. The first few are kept. */
  clientErrors: number
  clientErrorSamples: string[]
  /**
   * Whether the run ended by itself (`total` reached, or `request` said no more) before the
   * deadline, with every request sent answered.
   */
  finished: boolean
  elapsedMs: number
}

/** Sends `options.total` requests over `options.connections` connections; never rejects. */
export async function runLoad (options: LoadOptions): Promise<LoadOutcome> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.connections, maxFreeSockets: options.connections })
  const started = performance.now()
  const outcome: LoadOutcome = { sent: 0, answered: 0, clientErrors: 0, clientErrorSamples: [], finished: false, elapsedMs: 0 }
  let next = 0
  let ended = false
  let late = false
  const worker = async (): Promise<void> => {
    while (!ended && next < options.total) {
      if (performance.now() - started >= options.deadlineMs) {
        late = true
        return
      }
      const i = next
      const request = options.request(i)
      if (request === undefined) {
        ended = true
        return
      }
      next++
      outcome.sent++
      try {
        const response = await send(agent, options.port, request, `${options.idPrefix ?? ''}${i}`, options.requestTimeoutMs ?? 20_000)
        outcome.answered++
        options.onResponse(i, request, response)
      } catch (error) {
        outcome.clientErrors++
        if (outcome.clientErrorSamples.length < 10) outcome.clientErrorSamples.push(`#${i} ${request.url}: ${(error as Error).message}`)
      }
    }
  }
  await Promise.all(Array.from({ length: options.connections }, worker))
  agent.destroy() // the sockets go, so that a heap measured afterwards does not hold them
  outcome.elapsedMs = performance.now() - started
  outcome.finished = !late && outcome.answered === outcome.sent
  return outcome
}

function send (agent: http.Agent, port: number, request: LoadRequest, id: string, timeoutMs: number): Promise<LoadResponse> {
  return new Promise((resolve, reject) => {
    const payload = request.body === undefined ? undefined : JSON.stringify(request.body)
    const headers: http.OutgoingHttpHeaders = payload === undefined
      ? { 'x-request-id': id }
      : { 'x-request-id': id, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
    const req = http.request({ agent, host: '127.0.0.1', port, method: request.method ?? 'POST', path: request.url, headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => { chunks.push(chunk) })
      res.on('error', reject)
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let body: unknown
        try {
          body = text === '' ? undefined : JSON.parse(text)
        } catch {
          body = undefined
        }
        resolve({ status: res.statusCode ?? 0, body })
      })
    })
    req.setTimeout(timeoutMs, () => { req.destroy(new Error(`no answer within ${timeoutMs} ms`)) })
    req.on('error', reject)
    req.end(payload)
  })
}
