/**
 * 3. Resolution: ns per conflict described by the plugin's core (catalog lookup + DETAIL read against the index +
 * describeConflict) vs. db-errors' wrapError and a naive regex, on real errors for single,
 * composite, quoted-identifier and expression keys; and bytes allocated per description.
 * Target: faster than db-errors, no allocation beyond the result.
 */
import { pinning, startWorker } from '../lib/processes.js'
import { median, ratio } from '../lib/rounds.js'
import { showNumber, showRatio, type Figure, type ScenarioResult } from '../lib/report.js'

const CORE = 'core: catalog + detailAgainst + describeConflict'
const DB_ERRORS = 'db-errors wrapError'

interface Bytes { allocated: number, retained: number, calls: number }

export async function resolution (log: (line: string) => void): Promise<ScenarioResult> {
  const timer = startWorker('resolution', { cpu: pinning.server, label: 'resolution timing' })
  let timing: Record<string, Record<string, number[]>>
  let answers: { answers: Record<string, Record<string, string[]>>, details: Record<string, string> }
  try {
    answers = await timer.call('answers')
    log('timing (tinybench), every case × contestant interleaved')
    timing = await timer.call('timing')
  } finally {
    await timer.stop()
  }
  log('allocation (--expose-gc, 64 MB semi-space, no GC during the measured calls)')
  const counter = startWorker('resolution', { cpu: pinning.server, label: 'resolution allocation', nodeFlags: ['--expose-gc', '--min-semi-space-size=64', '--max-semi-space-size=64'] })
  let allocation: { probe: Bytes & { expected: number }, byCase: Record<string, Record<string, Bytes>> }
  try {
    allocation = await counter.call('allocation')
  } finally {
    await counter.stop()
  }

  const figures: Figure[] = []
  const detail = [
    '| case | contestant | ns per description (median) | db-errors ÷ this | bytes allocated | bytes kept in result | fields it reports |',
    '|---|---|--:|--:|--:|--:|---|'
  ]
  for (const [name, byContestant] of Object.entries(timing)) {
    const core = byContestant[CORE] as number[]
    const dbErrors = byContestant[DB_ERRORS] as number[]
    const speedup = ratio(dbErrors, core)
    figures.push({
      scenario: '3 resolution',
      measure: `${name} key: ns per description, A core, B db-errors; result B ÷ A (times faster)`,
      a: `${showNumber(median(core))} ns`,
      b: `${showNumber(median(dbErrors))} ns`,
      result: showRatio(speedup, 2),
      target: '> 1',
      met: speedup.median > 1
    })
    for (const [contestant, ns] of Object.entries(byContestant)) {
      const bytes = allocation.byCase[name]?.[contestant] as Bytes
      const step = contestant.startsWith('step: ')
      detail.push(`| ${name} | ${step ? `↳ ${contestant.slice(6)}` : contestant} | ${showNumber(median(ns))} | ${ratio(dbErrors, ns).median.toFixed(2)} | ${showNumber(bytes.allocated)} | ${showNumber(bytes.retained)} | ${step ? '(a step of the core)' : (answers.answers[name]?.[contestant] ?? []).map((f) => `\`${f}\``).join(', ')} |`)
    }
  }
  const coreBytes = Object.entries(allocation.byCase).map(([name, byContestant]) => ({ name, ...(byContestant[CORE] as Bytes) }))
  figures.push({
    scenario: '3 resolution',
    measure: `core, bytes per description: A allocated, B kept in the result (${coreBytes.map((b) => b.name).join(' / ')})`,
    a: coreBytes.map((b) => showNumber(b.allocated)).join(' / '),
    b: coreBytes.map((b) => showNumber(b.retained)).join(' / '),
    result: `${coreBytes.map((b) => showNumber(b.allocated - b.retained)).join(' / ')} B transient`,
    target: 'no allocation beyond the result',
    met: coreBytes.every((b) => b.allocated <= b.retained * 1.05 + 8)
  })
  const markdown = [
    '### Resolution, in detail',
    '',
    `DETAIL of each case: ${Object.entries(answers.details).map(([name, text]) => `${name} \`${text}\``).join('; ')}.`,
    `Method check: an object literal with two fields measured ${showNumber(allocation.probe.allocated, 1)} bytes allocated (${allocation.probe.expected} expected).`,
    '',
    ...detail
  ].join('\n')
  return { figures, raw: { timingNs: timing, allocation, answers }, markdown }
}
