// The trainer's exported ONNX files run in onnxruntime-node through the shared Segmenter and
// give the PyTorch outputs the trainer recorded (parity.json), within its stated tolerance; the
// evaluation CLI runs the simulated-click protocol on a labelled folder and names bad input.
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkParity } from '../../shared/ml/parity.ts'
import { generateNuclei } from '../src/demo/syntheticNuclei.ts'
import { loadSegmenter, readModelCard, SHIPPED_MODEL_DIR } from '../src/models/loadModel.ts'
import { isHeldOut, PROPOSAL_GRID } from '../src/models/tuneProposals.ts'
import { trainTinyModel } from './trainedModel.ts'

const run = promisify(execFile)
let model: ReturnType<typeof trainTinyModel>
const folders: string[] = []

beforeAll(() => {
  model = trainTinyModel()
})
afterAll(() => {
  model?.cleanup()
  for (const folder of folders) fs.rmSync(folder, { recursive: true, force: true })
})

async function expectParity(dir: string) {
  const fixture = JSON.parse(fs.readFileSync(path.join(dir, 'parity.json'), 'utf8'))
  const segmenter = await loadSegmenter(dir, 1)
  const report = await checkParity(segmenter, fixture)
  await segmenter.release()
  for (const [name, [actual, expected]] of Object.entries(report.lengths))
    expect(actual, name).toBe(expected)
  for (const [name, worst] of Object.entries(report.worstExcess))
    expect(worst, `${name}: worst excess over tolerance`).toBeLessThanOrEqual(report.absolute)
  expect(Object.keys(report.worstExcess)).toHaveLength(6)
}

describe('model runtime parity', () => {
  it('gives the PyTorch outputs for the fixed inputs, encoder and decoder (freshly trained model)', async () => {
    await expectParity(model.dir)
  })

  it('gives the PyTorch outputs for the shipped model v0', async () => {
    await expectParity(SHIPPED_MODEL_DIR)
  })
})

async function labelledFolder(count: number) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-eval-'))
  folders.push(root)
  fs.mkdirSync(path.join(root, 'images'))
  fs.mkdirSync(path.join(root, 'labels'))
  let objects = 0
  for (let k = 0; k < count; k++) {
    const { pixels, labels } = generateNuclei({
      seed: 50 + k,
      width: 96,
      height: 80,
      channels: 1,
      count: 4,
      radius: [6, 10],
    })
    objects += new Set(labels).size - 1
    const png16 = (data: Uint16Array, file: string) =>
      sharp(data, { raw: { width: 96, height: 80, channels: 1 } })
        .toColourspace('grey16')
        .png()
        .toFile(file)
    await png16(pixels, path.join(root, 'images', `n${k}.png`))
    await png16(labels, path.join(root, 'labels', `n${k}.png`))
  }
  return { root, objects }
}

describe('evaluation CLI', () => {
  it('reports the click and automatic metrics of a model on a labelled folder', async () => {
    const { root, objects } = await labelledFolder(2)
    const out = path.join(root, 'report.json')
    await run(
      'npx',
      ['tsx', 'server/src/models/evalCli.ts', '--data', root, '--model', model.dir, '--out', out],
      {
        cwd: path.resolve(import.meta.dirname, '../..'),
        timeout: 120_000,
      },
    )
    const report = JSON.parse(fs.readFileSync(out, 'utf8'))
    expect(report).toMatchObject({ n_images: 2, n_objects: objects })
    for (const key of ['noc85', 'noc90']) {
      expect(report[key]).toBeGreaterThanOrEqual(1)
      expect(report[key]).toBeLessThanOrEqual(20)
    }
    expect(report.noc90).toBeGreaterThanOrEqual(report.noc85)
    for (const key of ['iou_at_1click', 'auto_ap50', 'auto_mean_matched_iou']) {
      expect(report[key]).toBeGreaterThanOrEqual(0)
      expect(report[key]).toBeLessThanOrEqual(1)
    }
    expect(report.seconds).toBeGreaterThan(0)
  })

  it('names the folder or file at fault', async () => {
    const cwd = path.resolve(import.meta.dirname, '../..')
    const missing = await run(
      'npx',
      ['tsx', 'server/src/models/evalCli.ts', '--data', '/nonexistent/set', '--model', model.dir],
      { cwd },
    ).catch((e) => e)
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/Folder not found: \/nonexistent\/set/)
    const { root } = await labelledFolder(1)
    await sharp(new Uint16Array(100), { raw: { width: 10, height: 10, channels: 1 } })
      .toColourspace('grey16')
      .png()
      .toFile(path.join(root, 'labels', 'n0.png'))
    const wrongSize = await run(
      'npx',
      ['tsx', 'server/src/models/evalCli.ts', '--data', root, '--model', model.dir],
      { cwd },
    ).catch((e) => e)
    expect(wrongSize.code).toBe(2)
    expect(wrongSize.stderr).toMatch(/labels\/n0\.png is 10×10 but its image .*n0\.png is 96×80/)
  })
})

describe('proposal tuning', () => {
  it('picks the thresholds on the images not held out and records the search in the card', async () => {
    const { root } = await labelledFolder(6)
    const ids = [0, 1, 2, 3, 4, 5].map((k) => `n${k}`)
    const training = ids.filter((id) => !isHeldOut(id))
    expect(training.length).toBeGreaterThan(0)
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-tuned-'))
    folders.push(copy)
    fs.cpSync(model.dir, copy, { recursive: true })
    await run('npx', ['tsx', 'server/src/models/tuneCli.ts', '--data', root, '--model', copy], {
      cwd: path.resolve(import.meta.dirname, '../..'),
      timeout: 180_000,
    })
    const card = readModelCard(copy)
    const tuning = (card.proposals as { tuning?: Record<string, number> }).tuning!
    expect(tuning.trainingImages).toBe(training.length)
    expect(tuning.heldOutImages).toBe(ids.length - training.length)
    expect(tuning.trainingAp50After).toBeGreaterThanOrEqual(tuning.trainingAp50Before)
    expect(PROPOSAL_GRID.seedThreshold).toContain(card.proposals.seedThreshold)
    expect(PROPOSAL_GRID.minArea).toContain(card.proposals.minArea)
    // The tuned card still loads and runs.
    const segmenter = await loadSegmenter(copy, 1)
    await segmenter.release()
  })

  it("applies the trainer's held-out rule to the same ids", () => {
    const card = readModelCard(SHIPPED_MODEL_DIR) as {
      training?: { data?: { real?: { heldOutIds: string[]; trainImages: number }[] } }
    }
    const real = card.training?.data?.real?.[0]
    expect(real?.heldOutIds.length).toBeGreaterThan(0)
    for (const id of real!.heldOutIds) expect(isHeldOut(id)).toBe(true)
    // And not every id: about a fifth of arbitrary names are held out.
    const names = Array.from({ length: 1000 }, (_, i) => `image-${i}`)
    const share = names.filter(isHeldOut).length / names.length
    expect(share).toBeGreaterThan(0.15)
    expect(share).toBeLessThan(0.25)
  })
})
