/** The run's results: figures for the Markdown table, raw data for the JSON file. */
import { mkdir, writeFile } from 'node:fs/promises'
import type { Ratio } from './rounds.js'

/** One line of the results table. */
export interface Figure {
  scenario: string
  /** What is compared, and how the ratio reads. */
  measure: string
  /** Arm A's median, as shown. */
  a: string
  /** Arm B's median, as shown. */
  b: string
  /** The headline: a ratio's median with its range over the rounds, or a value. */
  result: string
  target?: string
  met?: boolean
}

/** What each scenario returns: its table lines and its raw data. */
export interface ScenarioResult {
  figures: Figure[]
  raw: unknown
  /** A detail table of its own, printed after the main one. */
  markdown?: string
}

export function showRatio (r: Ratio, digits = 3): string {
  return `**${r.median.toFixed(digits)}** (${r.min.toFixed(digits)}–${r.max.toFixed(digits)})`
}

export function showNumber (value: number, digits = 0): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

export function markdownTable (figures: readonly Figure[]): string {
  const cell = (text: string): string => text.replaceAll('|', '\\|')
  const lines = [
    '| scenario | measure | A | B | result: median (range over rounds) | target | met |',
    '|---|---|--:|--:|--:|---|:-:|'
  ]
  for (const f of figures) {
    const met = f.met === undefined ? '' : f.met ? 'yes' : '**no**'
    lines.push(`| ${cell(f.scenario)} | ${cell(f.measure)} | ${cell(f.a)} | ${cell(f.b)} | ${cell(f.result)} | ${cell(f.target ?? '')} | ${met} |`)
  }
  return lines.join('\n')
}

/** Writes `<stamp>.json` and `<stamp>.md` (and `latest.*`) in `dir`; returns the paths written. */
export async function writeResults (dir: URL, stamp: string, json: unknown, markdown: string): Promise<string[]> {
  await mkdir(dir, { recursive: true })
  const files = [`${stamp}.json`, `${stamp}.md`, 'latest.json', 'latest.md']
  const contents = [JSON.stringify(json, null, 2) + '\n', markdown + '\n']
  await Promise.all(files.map(async (file, i) => { await writeFile(new URL(file, dir), contents[i % 2] as string) }))
  return files.map((file) => new URL(file, dir).pathname)
}
