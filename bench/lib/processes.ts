/**
 * Child processes for the benchmarks, pinned to a CPU each when `taskset` can: the server under
 * test on one core, the load generator on the other, so that they do not take turns on one core
 * and the figure measures the server. They talk to the parent by request and answer over Node's
 * IPC channel (`call('start')`, `call('autocannon', options)`…).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'

export interface Pinning {
  /** CPU for the server under test (and the micro-benchmarks); undefined when not pinned. */
  server: number | undefined
  /** CPU for the load generator. */
  load: number | undefined
  note: string
}

function tasksetWorks (cpu: number): boolean {
  const probe = spawnSync('taskset', ['-c', String(cpu), 'true'], { stdio: 'ignore' })
  return probe.error === undefined && probe.status === 0
}

function detectPinning (): Pinning {
  if (process.env.BENCH_PIN === '0') return { server: undefined, load: undefined, note: 'not pinned (BENCH_PIN=0): server and load generator share the CPUs' }
  if (availableParallelism() < 2) return { server: undefined, load: undefined, note: 'one CPU only: server and load generator share it, so ratios understate the differences' }
  if (!tasksetWorks(0) || !tasksetWorks(1)) {
    return { server: undefined, load: undefined, note: 'taskset missing or refused (install util-linux): server and load generator are NOT pinned, figures are noisier' }
  }
  return { server: 0, load: 1, note: 'server (and micro-benchmarks) pinned to CPU 0, load generator to CPU 1, with taskset; PostgreSQL not pinned' }
}

export const pinning = detectPinning()

interface Pending {
  resolve: (value: unknown) => void
  reject: (error: Error) => void
}

/** A child process running one of bench/workers/*.ts, with `call` for its methods. */
export class Child {
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  private exited = false
  private readonly exit: Promise<void>

  constructor (private readonly name: string, private readonly process: ChildProcess) {
    process.on('message', (message: { id: number, result?: unknown, error?: string }) => {
      const waiting = this.pending.get(message.id)
      if (waiting === undefined) return
      this.pending.delete(message.id)
      if (message.error !== undefined) waiting.reject(new Error(`${this.name}: ${message.error}`))
      else waiting.resolve(message.result)
    })
    this.exit = new Promise((resolve) => {
      process.once('exit', (code, signal) => {
        this.exited = true
        for (const waiting of this.pending.values()) waiting.reject(new Error(`${this.name} exited (${String(code ?? signal)})`))
        this.pending.clear()
        resolve()
      })
    })
  }

  call<T> (method: string, params?: unknown): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.name} has exited`))
    const id = this.nextId++
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject })
      this.process.send({ id, method, params })
    })
  }

  /** Asks the child to close (its `close` method), then waits for it to exit; kills it after 10 s. */
  async stop (): Promise<void> {
    if (this.exited) return
    await this.call('close').catch(() => {})
    const timer = setTimeout(() => { this.process.kill('SIGKILL') }, 10_000)
    await this.exit
    clearTimeout(timer)
  }
}

/**
 * Starts `bench/workers/<worker>.ts` under Node with tsx, pinned to `cpu` when given, with extra
 * Node flags (`--expose-gc`…) and environment.
 */
export function startWorker (worker: string, options: { cpu?: number | undefined, env?: NodeJS.ProcessEnv, nodeFlags?: string[], label?: string } = {}): Child {
  const file = fileURLToPath(new URL(`../workers/${worker}.ts`, import.meta.url))
  const nodeArgs = [...(options.nodeFlags ?? []), '--import', 'tsx', file]
  const [command, args] = options.cpu === undefined
    ? [process.execPath, nodeArgs]
    : ['taskset', ['-c', String(options.cpu), process.execPath, ...nodeArgs]]
  const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, ...options.env } })
  return new Child(options.label ?? worker, child)
}

/** The child side: answers the parent's calls with `methods`; `close` runs `onClose` and lets the process end. */
export function serve (methods: Record<string, (params: never) => unknown>, onClose: () => Promise<void> = async () => {}): void {
  process.on('message', (message: { id: number, method: string, params: never }) => {
    void (async () => {
      try {
        if (message.method === 'close') {
          await onClose()
          process.send?.({ id: message.id, result: null })
          process.disconnect?.()
          return
        }
        const method = methods[message.method]
        if (method === undefined) throw new Error(`no method ${message.method}`)
        process.send?.({ id: message.id, result: await method(message.params) })
      } catch (error) {
        process.send?.({ id: message.id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) })
      }
    })()
  })
}
