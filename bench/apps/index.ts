/** The apps the server worker can run, by name (BENCH_APP). */
import type { FastifyInstance } from 'fastify'
import type pg from 'pg'
import { conflictApp } from './conflict.js'
import { multiApp } from './multi.js'
import { poolQueryApp } from './pool.js'
import { racesApp } from './races.js'
import { replayApp } from './replay.js'
import { reuseApp } from './reuse.js'
import { successApp } from './success.js'

export interface AppContext {
  /** A pool working in the run's schema. */
  pool: pg.Pool
}

export type BenchApp = FastifyInstance

export const apps: Record<string, (context: AppContext) => Promise<BenchApp>> = {
  'success-plugin': async (context) => await successApp(context, true),
  'success-bare': async (context) => await successApp(context, false),
  'conflict-plugin': async (context) => await conflictApp(context, 'plugin'),
  'conflict-handwritten': async (context) => await conflictApp(context, 'handwritten'),
  races: racesApp,
  'pool-plugin': async (context) => await poolQueryApp(context, 'plugin'),
  'pool-off': async (context) => await poolQueryApp(context, 'off'),
  'pool-handwritten': async (context) => await poolQueryApp(context, 'handwritten'),
  'reuse-plugin': async (context) => await reuseApp(context, 'plugin'),
  'reuse-handwritten': async (context) => await reuseApp(context, 'handwritten'),
  'multi-on': async (context) => await multiApp(context, true),
  'multi-off': async (context) => await multiApp(context, false),
  'replay-on': async (context) => await replayApp(context, true),
  'replay-off': async (context) => await replayApp(context, false)
}
