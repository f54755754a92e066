import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import { readNpy } from '../../../../shared/formats/npy.ts'
import type { ModelCard } from '../../../../shared/schemas/modelCard.ts'
import { readModelCard, SHIPPED_MODEL_DIR } from '../loadModel.ts'
import {
  type BioimageioPackage,
  buildBioimageioPackage,
  packageFileName,
  type VersionBytes,
} from './bioimageioPackage.ts'
import { encoderTensors } from './encoderTensors.ts'
import type { PackageSource } from './packageSource.ts'
import { modelName } from './rdf.ts'

let card: ModelCard
let files: VersionBytes

function sourceOf(overrides: Partial<PackageSource['version']> = {}): PackageSource {
  return {
    project: { id: 7, name: 'Liver: nuclei/2026' },
    version: {
      id: 3,
      name: 'v0',
      createdAt: '2026-11-25T20:52:37.000Z',
      projectId: null,
      parent: null,
      triggeredBy: null,
      jobId: null,
      trainingSet: { images: 0, objects: 0, hash: null },
      metrics: card.metrics,
      ...overrides,
    },
    card,
  }
}

/** A version fine-tuned in the project by a user, with the server's validation metrics. */
const projectVersion = () =>
  sourceOf({
    id: 12,
    name: 'v4',
    projectId: 7,
    parent: { id: 3, name: 'v0' },
    triggeredBy: 'alice',
    jobId: 5,
    trainingSet: { images: 12, objects: 340, hash: 'abc123' },
    metrics: {
      validation: { auto_ap50: 0.81, noc85: 2.1, n_images: 3 },
      baseValidation: { auto_ap50: 0.74, noc85: 2.9, n_images: 3 },
    },
  })

const entry = (pkg: BioimageioPackage, name: string) => {
  const found = pkg.entries.find((e) => e.name === name)
  if (!found) throw new Error(`no ${name} in the package`)
  return found.bytes
}
const text = (pkg: BioimageioPackage, name: string) => Buffer.from(entry(pkg, name)).toString()
/** rdf.yaml read as PyYAML reads it (YAML 1.1: an unquoted date would be a Date, `y` a boolean). */
const rdfOf = (pkg: BioimageioPackage) => parseYaml(text(pkg, 'rdf.yaml'), { version: '1.1' })

beforeAll(() => {
  card = readModelCard(SHIPPED_MODEL_DIR)
  const read = (file: string) => new Uint8Array(fs.readFileSync(path.join(SHIPPED_MODEL_DIR, file)))
  files = {
    encoder: read('encoder.onnx'),
    decoder: read('decoder.onnx'),
    cardJson: fs.readFileSync(path.join(SHIPPED_MODEL_DIR, 'card.json'), 'utf8'),
  }
})

describe('bioimage.io package', () => {
  it('holds rdf.yaml first and every file it names, each with its sha256', async () => {
    const pkg = await buildBioimageioPackage(sourceOf(), files)
    expect(pkg.entries.map((e) => e.name)).toEqual([
      'rdf.yaml',
      'encoder.onnx',
      'decoder.onnx',
      'card.json',
      'test_input_raw.npy',
      'test_output_features.npy',
      'test_output_details.npy',
      'test_output_foreground.npy',
      'test_output_distance.npy',
      'README.md',
    ])
    const rdf = rdfOf(pkg)
    const references = [
      rdf.weights.onnx,
      ...rdf.attachments,
      ...[...rdf.inputs, ...rdf.outputs].map((tensor: any) => tensor.test_tensor),
    ]
    expect(references).toHaveLength(8)
    for (const reference of references) {
      const sha256 = createHash('sha256').update(entry(pkg, reference.source)).digest('hex')
      expect(sha256, reference.source).toBe(reference.sha256)
    }
    expect(rdf.documentation).toBe('README.md')
    expect(pkg.fileName).toBe('liver-nuclei-2026-v0.bioimageio.zip')
  })

  it('describes the input, its normalisation and every encoder output, sized from the input', async () => {
    const rdf = rdfOf(await buildBioimageioPackage(sourceOf(), files))
    expect(rdf.format_version).toBe('0.5.7')
    expect(typeof rdf.timestamp).toBe('string')
    expect(rdf.timestamp).toBe('2026-11-25T20:52:37+00:00')
    const [input] = rdf.inputs
    expect(input.axes.map((a: any) => a.id ?? a.type)).toEqual(['batch', 'channel', 'y', 'x'])
    expect(input.axes[2].size).toEqual({ min: 16, step: 16 })
    expect(input.preprocessing).toEqual([
      {
        id: 'scale_range',
        kwargs: { axes: ['y', 'x'], min_percentile: 1, max_percentile: 99.9, eps: 1e-6 },
      },
      { id: 'clip', kwargs: { min: 0, max: 1 } },
    ])
    const outputs = Object.fromEntries(rdf.outputs.map((o: any) => [o.id, o]))
    expect(Object.keys(outputs)).toEqual(['features', 'details', 'foreground', 'distance'])
    expect(outputs.features.axes[1].channel_names).toHaveLength(32)
    expect(outputs.features.axes[2]).toEqual({
      type: 'space',
      id: 'y',
      size: { tensor_id: 'raw', axis_id: 'y' },
      scale: 4,
    })
    expect(outputs.details.axes[3]).toEqual({
      type: 'space',
      id: 'x',
      size: { tensor_id: 'raw', axis_id: 'x' },
    })
    for (const id of ['foreground', 'distance']) {
      expect(outputs[id].postprocessing).toEqual([{ id: 'sigmoid' }])
      expect(outputs[id].data.range).toEqual([0, 1])
    }
    expect(outputs.features.postprocessing).toBeUndefined()
    for (const tensor of [...rdf.inputs, ...rdf.outputs])
      expect(tensor.description.length, tensor.id).toBeLessThanOrEqual(128)
    expect(rdf.weights.onnx.opset_version).toBe(17)
    expect(rdf.config.tessera).toMatchObject({
      version: 'v0',
      baseVersion: true,
      parentVersion: null,
      proposals: { minSeedArea: 16, minArea: 32 },
      clickEncoding: { sigmaPixels: 3 },
    })
  })

  it('makes test tensors numpy can read, with the shapes the axes give and probabilities in [0, 1]', async () => {
    const pkg = await buildBioimageioPackage(sourceOf(), files)
    const shapes = Object.fromEntries(
      pkg.entries
        .filter((e) => e.name.endsWith('.npy'))
        .map((e) => [e.name, readNpy(e.bytes).shape]),
    )
    expect(shapes).toEqual({
      'test_input_raw.npy': [1, 2, 64, 64],
      'test_output_features.npy': [1, 32, 16, 16],
      'test_output_details.npy': [1, 8, 64, 64],
      'test_output_foreground.npy': [1, 1, 64, 64],
      'test_output_distance.npy': [1, 1, 64, 64],
    })
    const foreground = readNpy(entry(pkg, 'test_output_foreground.npy')).data
    expect(Math.min(...foreground)).toBeGreaterThanOrEqual(0)
    expect(Math.max(...foreground)).toBeLessThanOrEqual(1)
    // The synthetic nuclei are found: a good share of the pixels is foreground, not all.
    const share = foreground.filter((p) => p > 0.5).length / foreground.length
    expect(share).toBeGreaterThan(0.1)
    expect(share).toBeLessThan(0.6)
  })

  it('is the same, byte for byte, every time it is built', async () => {
    const [a, b] = [
      await buildBioimageioPackage(sourceOf(), files),
      await buildBioimageioPackage(sourceOf(), files),
    ]
    expect(b.entries.map((e) => e.name)).toEqual(a.entries.map((e) => e.name))
    for (const [k, e] of a.entries.entries())
      expect(Buffer.from(b.entries[k].bytes).equals(Buffer.from(e.bytes)), e.name).toBe(true)
  })

  it("names a project version's user, parent and training set, and its own validation", async () => {
    const pkg = await buildBioimageioPackage(projectVersion(), files)
    const rdf = rdfOf(pkg)
    expect(rdf.name).toBe('Tessera interactive segmentation v4 - Liver nuclei 2026')
    expect(rdf.authors).toEqual([
      { name: 'alice', affiliation: 'Tessera project "Liver: nuclei/2026"' },
    ])
    expect(rdf.description).toMatch(/fine-tuned from v0/)
    expect(rdf.tags).not.toContain('nuclei')
    expect(rdf.config.tessera).toMatchObject({
      version: 'v4',
      baseVersion: false,
      parentVersion: 'v0',
      trainingSet: { images: 12, objects: 340, hash: 'abc123' },
      trainingJobId: 5,
    })
    const readme = text(pkg, 'README.md')
    expect(readme).toContain(
      'Fine-tuned by Tessera\'s trainer from v0 on the labelled images of the project "Liver: nuclei/2026": 12 images with 340 objects',
    )
    expect(readme).toMatch(/\| automatic AP50 \| 0\.810 \| 0\.740 \|/)
    expect(readme).toContain('their owners decide')
    expect(packageFileName(projectVersion())).toBe('liver-nuclei-2026-v4.bioimageio.zip')
  })

  it('explains the proposals, the click decoder, the normalisation, citation and licence in the README', async () => {
    const readme = text(await buildBioimageioPackage(sourceOf(), files), 'README.md')
    for (const expected of [
      'foreground probability is above 0.5',
      'distance probability is also above 0.5; a seed needs at least 16 pixels',
      'Objects with fewer than 32 pixels are dropped',
      'one 4-connected pixel layer at a time',
      '`decoder.onnx`',
      'with sigma 3 pixels',
      'if high <= low then high = max',
      'min_percentile 1 and max_percentile 99.9',
      '## Validation',
      '| automatic AP50 | 0.767 | 0.715 |',
      'https://doi.org/10.1038/s41592-019-0612-7',
      '## Licence\n\nMIT',
      'onnxruntime-node 1.',
    ])
      expect(readme).toContain(expected)
  })

  it('inverts the input of a version that reads dark objects, in its description and its test tensors', async () => {
    const dark = {
      ...sourceOf(),
      card: { ...card, input: { ...card.input, polarity: 'dark' as const } },
    }
    const pkg = await buildBioimageioPackage(dark, files)
    expect(rdfOf(pkg).inputs[0].preprocessing.map((step: { id: string }) => step.id)).toEqual([
      'scale_range',
      'clip',
      'scale_linear',
    ])
    expect(rdfOf(pkg).inputs[0].preprocessing[2].kwargs).toEqual({ gain: -1, offset: 1 })
    expect(text(pkg, 'README.md')).toContain('`scale_linear` with gain −1 and offset 1')
    // The test image shows dark nuclei on a bright background, and the inverted input finds them.
    const input = readNpy(entry(pkg, 'test_input_raw.npy')).data
    const bright = readNpy(
      entry(await buildBioimageioPackage(sourceOf(), files), 'test_input_raw.npy'),
    ).data
    expect(input[0]).toBe(65535 - bright[0])
    const foreground = readNpy(entry(pkg, 'test_output_foreground.npy')).data
    const share = foreground.filter((p) => p > 0.5).length / foreground.length
    expect(share).toBeGreaterThan(0.1)
    expect(share).toBeLessThan(0.6)
  })
})

describe('model names and encoder tensors', () => {
  it('keeps bioimage.io names to letters, digits, _ - ( ) and spaces, 5 to 64 characters', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 120 }),
        fc.string({ maxLength: 20 }),
        (project, version) => {
          const source = projectVersion()
          const name = modelName({
            ...source,
            project: { ...source.project, name: project },
            version: { ...source.version, name: version },
          })
          expect(name).toMatch(/^[A-Za-z0-9_\-() ]{5,64}$/)
          expect(name).toBe(name.trim())
        },
      ),
    )
  })

  it('reads channels and scale from the card and refuses outputs it cannot describe', () => {
    const tensors = encoderTensors(card)
    expect(tensors.input).toMatchObject({ id: 'raw', onnxName: 'image', channels: 2 })
    expect(tensors.outputs.map((o) => [o.id, o.channels, o.scale, o.probability])).toEqual([
      ['features', 32, 4, false],
      ['details', 8, 1, false],
      ['foreground', 1, 1, true],
      ['distance', 1, 1, true],
    ])
    const withOutput = (output: { name: string; shape: (string | number)[] }) => ({
      ...card,
      encoder: { ...card.encoder, outputs: [output] },
    })
    expect(() =>
      encoderTensors(withOutput({ name: 'Features', shape: ['batch', 1, 'height', 'width'] })),
    ).toThrow(/tensor id/)
    expect(() =>
      encoderTensors(withOutput({ name: 'raw', shape: ['batch', 1, 'height', 'width'] })),
    ).toThrow(/tensor id/)
    expect(() =>
      encoderTensors(withOutput({ name: 'odd', shape: ['batch', 1, 'height/4', 'width'] })),
    ).toThrow(/differently/)
    expect(() =>
      encoderTensors(withOutput({ name: 'odd', shape: ['batch', 'c', 'height', 'width'] })),
    ).toThrow(/not \[batch/)
  })
})
