// Active learning without a browser: a simulated annotator labels, round after round, the K pool
// images a strategy ranks first (their ground truth is the label), the worker's fine-tuning code
// trains on every label so far, and the model is measured on a test folder (`python -m
// tessera_trainer al-sim`, trainer/tessera_trainer/al_sim.py). Writes bench-results/al-curves.json
// (the curves and the simulation's report), bench-results/al.svg (test AP50 against labelled
// images, one line per strategy, mean over seeds with a min–max band) and returns, per strategy,
// how many labels it needed to reach the test AP50 random sampling reached with all its rounds.
//
// Defaults: every strategy, 2 seeds, 4 rounds of K = 4 images (4 → 16 labelled), 200 fine-tune
// steps of 8 crops per round from v0, NoC@85 in the final round on 3 test images; the pool and
// test folders are the tissue_rgb images of ../shared/data/dsb2018_tissue_public (v0 never saw
// them), split by a fixed rule (below), or synthetic folders from trainer/tessera_trainer/synth.py
// where that is absent. Measured on the 2-core machine with nothing else running: 31 minutes,
// 88 CPU s a round (fine-tune 82, evaluation 4, scoring at most 6), so it still fits 60 minutes
// at half speed. Round 1 (a random K) is trained and measured once per seed for all strategies.
// Flags: --pool DIR --test DIR (images/ + labels/), --strategies a,b, --seeds N, --rounds R,
// --per-round K, --steps S, --noc-images N, --kinds tissue_rgb,brightfield (the default split's
// kinds: the 1024² brightfield images cost about a minute each in every round's threshold
// search on 2 cores), --warm-start (each round from the previous round's weights), --fields F
// (each pool image cut into F × F fields, each a labelling unit: the strategies choose among F²
// times as many candidates; test images stay whole).
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import readline from 'node:readline'
import { parseArgs } from 'node:util'
import { z } from 'zod'
import { TRAINER_DIR } from '../server/src/workers/localWorker.ts'
import { type CurveBand, learningCurvesSvg } from './alPlot.ts'
import { round } from './stats.ts'
import { type ManifestRow, readTissueManifest, TISSUE_DATA } from './tissueData.ts'

const DATA = TISSUE_DATA
const RESULTS = path.resolve(import.meta.dirname, '../bench-results')
const PYTHON = '/usr/bin/python3'
const STRATEGIES = ['random', 'entropy', 'boundary', 'tta', 'diverse']
const DEFAULTS = { seeds: 2, rounds: 4, perRound: 4, steps: 200, nocImages: 3, fields: 1 }
const DEFAULT_KINDS = ['tissue_rgb']
// The fixed split: per kind, ids ordered by sha256(salt + id); the first round(n × 2/3) are the
// pool, the rest the test set (tissue_rgb: 32 pool, 16 test).
const SPLIT_SALT = 'tessera-al-v1:'
const POOL_FRACTION = 2 / 3

const Metrics = z.object({
  auto_ap50: z.number(),
  auto_mean_matched_iou: z.number(),
  noc85: z.number().optional(),
})
const Round = z.object({
  round: z.number().int(),
  labelled: z.number().int(),
  picked: z.array(z.string()),
  shared: z.boolean(),
  metrics: Metrics,
  cpuSeconds: z.record(z.string(), z.number()),
})
/** What this benchmark reads of al_sim.py's report (the whole report is kept beside it). */
export const SimulationReport = z.object({
  format: z.literal('tessera-al-simulation'),
  config: z.object({
    steps: z.number(),
    per_round: z.number(),
    seeds: z.number(),
    rounds: z.number(),
  }),
  pool: z.object({ images: z.number().int() }),
  test: z.object({ images: z.number().int(), objects: z.number().int() }),
  baseline: z.object({ metrics: Metrics }),
  runs: z.array(z.object({ strategy: z.string(), seed: z.number().int(), rounds: z.array(Round) })),
  seconds: z.number(),
})
export type SimulationReport = z.infer<typeof SimulationReport>

interface Options {
  pool?: string
  test?: string
  strategies: string[]
  seeds: number
  rounds: number
  perRound: number
  steps: number
  nocImages: number
  kinds: string[]
  warmStart: boolean
  /** Each pool image becomes fields × fields labelling units (the test images stay whole). */
  fields: number
}

function positive(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback
  const value = Number(text)
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`al: --${name} takes a positive integer, not ${text}`)
  return value
}

export function parseOptions(args: string[]): Options {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      pool: { type: 'string' },
      test: { type: 'string' },
      strategies: { type: 'string' },
      seeds: { type: 'string' },
      rounds: { type: 'string' },
      'per-round': { type: 'string' },
      steps: { type: 'string' },
      'noc-images': { type: 'string' },
      kinds: { type: 'string' },
      'warm-start': { type: 'boolean' },
      fields: { type: 'string' },
    },
  })
  if ((values.pool === undefined) !== (values.test === undefined))
    throw new Error('al: give --pool and --test together')
  const strategies = values.strategies?.split(',').filter(Boolean) ?? STRATEGIES
  const unknown = strategies.filter((s) => !STRATEGIES.includes(s))
  if (unknown.length > 0)
    throw new Error(
      `al: unknown strategies ${unknown.join(', ')} (known: ${STRATEGIES.join(', ')})`,
    )
  // Every figure is relative to random sampling, so random always runs.
  if (!strategies.includes('random')) strategies.unshift('random')
  const nocImages =
    values['noc-images'] === undefined ? DEFAULTS.nocImages : Number(values['noc-images'])
  if (!Number.isInteger(nocImages) || nocImages < 0)
    throw new Error(`al: --noc-images takes a whole number, not ${values['noc-images']}`)
  return {
    pool: values.pool,
    test: values.test,
    strategies,
    seeds: positive('seeds', values.seeds, DEFAULTS.seeds),
    rounds: positive('rounds', values.rounds, DEFAULTS.rounds),
    perRound: positive('per-round', values['per-round'], DEFAULTS.perRound),
    steps: positive('steps', values.steps, DEFAULTS.steps),
    nocImages,
    kinds: values.kinds?.split(',').filter(Boolean) ?? DEFAULT_KINDS,
    warmStart: values['warm-start'] ?? false,
    fields: positive('fields', values.fields, DEFAULTS.fields),
  }
}

/** The default split of the real folder (see SPLIT_SALT). */
export function splitForActiveLearning(
  rows: ManifestRow[],
  kinds: string[],
): { pool: string[]; test: string[] } {
  const hash = (id: string) =>
    createHash('sha256')
      .update(SPLIT_SALT + id)
      .digest('hex')
  const pool: string[] = []
  const test: string[] = []
  for (const kind of [...kinds].sort()) {
    const ids = rows
      .filter((row) => row.kind === kind)
      .map((row) => row.id)
      .sort((a, b) => (hash(a) < hash(b) ? -1 : hash(a) > hash(b) ? 1 : 0))
    if (ids.length === 0) throw new Error(`al: ${DATA} has no images of kind ${kind}`)
    const take = Math.round(ids.length * POOL_FRACTION)
    pool.push(...ids.slice(0, take))
    test.push(...ids.slice(take))
  }
  return { pool, test }
}

/** A folder of symlinks in the images/ + labels/ layout. */
function linkFolder(dir: string, ids: string[]): string {
  for (const sub of ['images', 'labels']) {
    fs.mkdirSync(path.join(dir, sub), { recursive: true })
    for (const id of ids)
      fs.symlinkSync(path.join(DATA, sub, `${id}.png`), path.join(dir, sub, `${id}.png`))
  }
  return dir
}

/**
 * A pool folder of fields: every image cut into a grid of fields × fields (the last row and
 * column take the remainder), each with its own label image (objects cut by a field's edge keep
 * their part in it, numbered 1..N again). An annotator then labels a field, not a whole image:
 * the strategy chooses among fields² times as many units.
 */
async function fieldFolder(dir: string, ids: string[], fields: number): Promise<string> {
  const sharp = (await import('sharp')).default
  for (const sub of ['images', 'labels']) fs.mkdirSync(path.join(dir, sub), { recursive: true })
  for (const id of ids) {
    const imageFile = path.join(DATA, 'images', `${id}.png`)
    const { data, info } = await sharp(path.join(DATA, 'labels', `${id}.png`))
      .toColourspace('grey16')
      .raw({ depth: 'ushort' })
      .toBuffer({ resolveWithObject: true })
    const labels = new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2)
    const { width, height } = info
    const fieldWidth = Math.floor(width / fields)
    const fieldHeight = Math.floor(height / fields)
    for (let row = 0; row < fields; row++) {
      for (let column = 0; column < fields; column++) {
        const left = column * fieldWidth
        const top = row * fieldHeight
        const w = column === fields - 1 ? width - left : fieldWidth
        const h = row === fields - 1 ? height - top : fieldHeight
        const name = `${id}-f${row}${column}.png`
        await sharp(imageFile)
          .extract({ left, top, width: w, height: h })
          .png()
          .toFile(path.join(dir, 'images', name))
        const part = new Uint16Array(w * h)
        const renumber = new Map<number, number>()
        for (let y = 0; y < h; y++) {
          for (let x = 0; x < w; x++) {
            const value = labels[(top + y) * width + left + x]
            if (value === 0) continue
            let next = renumber.get(value)
            if (next === undefined) {
              next = renumber.size + 1
              renumber.set(value, next)
            }
            part[y * w + x] = next
          }
        }
        await sharp(part, { raw: { width: w, height: h, channels: 1 } })
          .toColourspace('grey16')
          .png()
          .toFile(path.join(dir, 'labels', name))
      }
    }
  }
  return dir
}

interface RoundEvent {
  event: string
  seed?: number
  strategy?: string
  round?: number
  labelled?: number
  metrics?: { auto_ap50?: number }
  cpuSeconds?: Record<string, number>
}

function describe(event: RoundEvent): string | null {
  if (event.event !== 'round') return `al-sim ${JSON.stringify(event)}`
  const cpu = Object.entries(event.cpuSeconds ?? {})
    .map(([phase, seconds]) => `${phase} ${Math.round(seconds)}`)
    .join(', ')
  const ap50 = event.metrics?.auto_ap50
  return `al-sim seed ${event.seed} ${event.strategy === '*' ? 'all strategies' : event.strategy} round ${event.round}: ${event.labelled} labelled, AP50 ${ap50?.toFixed(3)} (CPU s: ${cpu})`
}

/** Runs the simulation to completion; rejects with its last lines when it fails. */
function simulate(args: string[]): Promise<void> {
  const child = spawn(PYTHON, ['-m', 'tessera_trainer', 'al-sim', ...args], {
    cwd: TRAINER_DIR,
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const tail: string[] = []
  const keep = (line: string) => {
    tail.push(line)
    if (tail.length > 30) tail.shift()
  }
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    keep(line)
    try {
      const text = describe(JSON.parse(line) as RoundEvent)
      if (text) console.log(text)
    } catch {
      console.log(line)
    }
  })
  readline.createInterface({ input: child.stderr }).on('line', keep)
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('exit', (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`al-sim exited with code ${code}:\n${tail.join('\n')}`)),
    )
  })
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length

interface StrategyCurves {
  ap50: CurveBand
  matchedIou: CurveBand
  perSeed: { seed: number; labelled: number[]; ap50: number[]; picked: string[][] }[]
  finalNoc85?: number
}

/** Per strategy: the test metric at 0 labels (the base) and after each round, over seeds. */
export function curvesOf(report: SimulationReport, strategies: string[]) {
  const base = report.baseline.metrics
  const band = (rows: number[][], labelled: number[]): CurveBand => ({
    labelled,
    mean: labelled.map((_, i) => mean(rows.map((row) => row[i]))),
    min: labelled.map((_, i) => Math.min(...rows.map((row) => row[i]))),
    max: labelled.map((_, i) => Math.max(...rows.map((row) => row[i]))),
  })
  const curves: Record<string, StrategyCurves> = {}
  for (const strategy of strategies) {
    const runs = report.runs.filter((run) => run.strategy === strategy)
    if (runs.length === 0) throw new Error(`al: the report has no run of ${strategy}`)
    const labelled = [0, ...runs[0].rounds.map((r) => r.labelled)]
    for (const run of runs)
      if (run.rounds.map((r) => r.labelled).join() !== labelled.slice(1).join())
        throw new Error(`al: ${strategy} seed ${run.seed} labelled other counts`)
    const ap50 = runs.map((run) => [base.auto_ap50, ...run.rounds.map((r) => r.metrics.auto_ap50)])
    const iou = runs.map((run) => [
      base.auto_mean_matched_iou,
      ...run.rounds.map((r) => r.metrics.auto_mean_matched_iou),
    ])
    const noc = runs
      .map((run) => run.rounds.at(-1)?.metrics.noc85)
      .filter((v): v is number => v !== undefined)
    curves[strategy] = {
      ap50: band(ap50, labelled),
      matchedIou: band(iou, labelled),
      perSeed: runs.map((run, i) => ({
        seed: run.seed,
        labelled,
        ap50: ap50[i],
        picked: run.rounds.map((r) => r.picked),
      })),
      finalNoc85: noc.length > 0 ? mean(noc) : undefined,
    }
  }
  return curves
}

/**
 * Labelled images at which a mean curve first reaches `target`, linearly interpolated between
 * its points; its last count and reached = false when it never does.
 */
export function labelsToReach(
  curve: CurveBand,
  target: number,
): { labels: number; reached: boolean } {
  for (const [i, value] of curve.mean.entries()) {
    if (value < target) continue
    if (i === 0) return { labels: curve.labelled[0], reached: true }
    const [x0, x1] = [curve.labelled[i - 1], curve.labelled[i]]
    const [y0, y1] = [curve.mean[i - 1], value]
    return { labels: x0 + ((target - y0) / (y1 - y0)) * (x1 - x0), reached: true }
  }
  return { labels: curve.labelled.at(-1) ?? 0, reached: false }
}

/** Mean CPU seconds of a phase over the rounds that have it (the shared first round once per seed). */
function cpuPerRound(report: SimulationReport, phase: string | null, strategy?: string): number {
  const rounds = new Map<string, number>()
  for (const run of report.runs) {
    if (strategy && run.strategy !== strategy) continue
    for (const r of run.rounds) {
      const seconds =
        phase === null
          ? Object.values(r.cpuSeconds).reduce((a, b) => a + b, 0)
          : r.cpuSeconds[phase]
      if (seconds === undefined) continue
      rounds.set(
        r.shared ? `shared:${run.seed}` : `${run.strategy}:${run.seed}:${r.round}`,
        seconds,
      )
    }
  }
  return rounds.size > 0 ? mean([...rounds.values()]) : 0
}

/** The flat figures of a simulation's report, and the curves they come from. */
export function figuresOf(report: SimulationReport, strategies: string[]) {
  const curves = curvesOf(report, strategies)
  const random = curves.random.ap50
  const target = random.mean.at(-1) ?? 0
  const randomLabels = random.labelled.at(-1) ?? 1
  const results: Record<string, number> = {}
  for (const strategy of strategies) {
    const { labels, reached } = labelsToReach(curves[strategy].ap50, target)
    results[`labels_to_match_random_final_${strategy}`] = round(labels, 2)
    results[`labels_to_match_random_final_reached_${strategy}`] = reached ? 1 : 0
    results[`al_savings_${strategy}`] = round(labels / randomLabels, 3)
  }
  for (const strategy of strategies) {
    results[`ap50_final_${strategy}`] = round(curves[strategy].ap50.mean.at(-1) ?? 0, 4)
    results[`matched_iou_final_${strategy}`] = round(
      curves[strategy].matchedIou.mean.at(-1) ?? 0,
      4,
    )
    const noc = curves[strategy].finalNoc85
    if (noc !== undefined) results[`noc85_final_${strategy}`] = round(noc, 3)
  }
  const others = strategies.filter((s) => s !== 'random')
  if (others.length > 0)
    results.al_savings_best = Math.min(...others.map((s) => results[`al_savings_${s}`]))
  results.ap50_v0 = round(report.baseline.metrics.auto_ap50, 4)
  if (report.baseline.metrics.noc85 !== undefined)
    results.noc85_v0 = round(report.baseline.metrics.noc85, 3)
  results.cpu_s_per_round = round(cpuPerRound(report, null))
  results.cpu_s_per_round_finetune = round(cpuPerRound(report, 'finetune'))
  results.cpu_s_per_round_evaluation = round(cpuPerRound(report, 'evaluation'))
  for (const strategy of strategies)
    results[`cpu_s_per_round_scoring_${strategy}`] = round(cpuPerRound(report, 'scoring', strategy))
  results.seeds = report.config.seeds
  results.rounds = report.config.rounds
  results.per_round = report.config.per_round
  results.steps_per_round = report.config.steps
  results.pool_images = report.pool.images
  results.test_images = report.test.images
  results.simulation_minutes = round(report.seconds / 60, 1)
  return { curves, target, randomLabels, results }
}

export async function run(args: string[] = []): Promise<Record<string, number>> {
  const options = parseOptions(args)
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-al-'))
  const started = Date.now()
  try {
    let folders: string[]
    let source: string
    if (options.pool && options.test) {
      folders = ['--pool', path.resolve(options.pool), '--test', path.resolve(options.test)]
      source = `${options.pool} / ${options.test}`
    } else if (fs.existsSync(path.join(DATA, 'manifest.csv'))) {
      const { pool, test } = splitForActiveLearning(readTissueManifest(), options.kinds)
      folders = [
        '--pool',
        options.fields > 1
          ? await fieldFolder(path.join(scratch, 'pool'), pool, options.fields)
          : linkFolder(path.join(scratch, 'pool'), pool),
        '--test',
        linkFolder(path.join(scratch, 'test'), test),
      ]
      source = `dsb2018_tissue_public ${options.kinds.join('+')}${options.fields > 1 ? `, pool images cut into ${options.fields}×${options.fields} fields` : ''}`
    } else {
      console.log(`al: ${DATA} is absent; synthetic pool and test folders instead`)
      folders = ['--synthetic', path.join(scratch, 'synthetic')]
      source = 'synthetic (synth.py)'
    }
    const out = path.join(scratch, 'report.json')
    await simulate([
      ...folders,
      '--strategies',
      options.strategies.join(','),
      '--seeds',
      String(options.seeds),
      '--rounds',
      String(options.rounds),
      '--per-round',
      String(options.perRound),
      '--steps',
      String(options.steps),
      '--noc-images',
      String(options.nocImages),
      ...(options.warmStart ? ['--warm-start'] : []),
      '--out',
      out,
    ])
    const raw: unknown = JSON.parse(fs.readFileSync(out, 'utf8'))
    const report = SimulationReport.parse(raw)
    const { curves, target, randomLabels, results } = figuresOf(report, options.strategies)
    results.wall_minutes = round((Date.now() - started) / 60_000, 1)

    const note = `${source}: pool ${report.pool.images}, test ${report.test.images} images (${report.test.objects} objects); ${options.seeds} seeds, ${options.rounds} rounds of ${options.perRound}, ${options.steps} steps a round ${options.warmStart ? 'from the previous round' : 'from v0'}`
    fs.mkdirSync(RESULTS, { recursive: true })
    fs.writeFileSync(
      path.join(RESULTS, 'al.svg'),
      learningCurvesSvg(
        options.strategies.map((name) => ({ name, curve: curves[name].ap50 })),
        {
          title: 'Active learning: test AP50 of the automatic proposals',
          xLabel: options.fields > 1 ? 'labelled fields' : 'labelled images',
          yLabel: 'test AP50',
          reference: { value: target, label: `random, ${randomLabels} labels` },
          note,
        },
      ),
    )
    fs.writeFileSync(
      path.join(RESULTS, 'al-curves.json'),
      `${JSON.stringify({ source, note, randomFinalAp50: target, curves, figures: results, simulation: raw }, null, 1)}\n`,
    )
    return results
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true })
  }
}
