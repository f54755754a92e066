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
import { generateNuclei } from '../src/demo/syntheticNuclei.ts'
import { loadSegmenter, SHIPPED_MODEL_DIR } from '../src/models/loadModel.ts'
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

interface TensorEntry {
  shape: number[]
  data: string
}
const decode = (entry: TensorEntry) => {
  const bytes = Buffer.from(entry.data, 'base64')
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength))
}

async function checkParity(dir: string) {
  const parity = JSON.parse(fs.readFileSync(path.join(dir, 'parity.json'), 'utf8'))
  const { absolute, relative } = parity.tolerance
  const segmenter = await loadSegmenter(dir, 1)
  const image = parity.encoder.inputs.image as TensorEntry
  const [, channels, height, width] = image.shape
  const encoded = await segmenter.encode({ data: decode(image), channels, height, width })
  const compare = (actual: Float32Array, expected: Float32Array, what: string) => {
    expect(actual.length, what).toBe(expected.length)
    let worst = 0
    for (let i = 0; i < expected.length; i++) {
      worst = Math.max(worst, Math.abs(actual[i] - expected[i]) - relative * Math.abs(expected[i]))
    }
    expect(worst, `${what}: worst excess over tolerance`).toBeLessThanOrEqual(absolute)
  }
  for (const name of ['features', 'details', 'foreground', 'distance'] as const) {
    compare(encoded[name].data, decode(parity.encoder.outputs[name]), name)
  }
  const clicks = parity.decoder.clickList
  const result = await segmenter.decode(encoded, { x: 0, y: 0, width, height }, clicks, null)
  compare(result.logits, decode(parity.decoder.outputs.mask), 'mask')
  compare(result.lowRes, decode(parity.decoder.outputs.maskLowRes), 'maskLowRes')
  await segmenter.release()
}

describe('model runtime parity', () => {
  it('gives the PyTorch outputs for the fixed inputs, encoder and decoder (freshly trained model)', async () => {
    await checkParity(model.dir)
  })

  it('gives the PyTorch outputs for the shipped model v0', async () => {
    await checkParity(SHIPPED_MODEL_DIR)
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
