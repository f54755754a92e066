// A model version downloaded as a bioimage.io package from a real server: the outside checks
// (check_package.py: the vendored 0.5.7 JSON Schema and every check the schema cannot make, with
// numpy reading the .npy files), the test outputs reproduced with onnxruntime-node from the test
// input (the app's normalisation and the description's, computed by numpy), and access.
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import * as ort from 'onnxruntime-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml'
import yauzl from 'yauzl'
import { type NpyArray, readNpy } from '../../shared/formats/npy.ts'
import { normalizeAsTheApp } from '../src/models/bioimageio/testTensors.ts'
import { ApiClient, startTestServer, type TestServer } from './harness.ts'

const run = promisify(execFile)
const REPOSITORY = path.resolve(import.meta.dirname, '../..')
const VENDORED = path.resolve(REPOSITORY, '../shared/vendor/bioimageio')
const SCHEMA = path.join(VENDORED, 'bioimageio_schema_model_0.5.json')
const CHECK_SCRIPT = path.join(import.meta.dirname, 'bioimageio/check_package.py')
const PYTHON = '/usr/bin/python3'
const hasSchema = fs.existsSync(SCHEMA)
if (!hasSchema)
  console.warn(`bioimageio.test.ts: ${VENDORED} is absent, so the schema checks are skipped`)
/** Same runtime, same machine, same input: the outputs may differ by float rounding only. */
const SAME_INPUT_TOLERANCE = { absolute: 1e-5, relative: 1e-5 }
/** numpy's percentiles and eps against the app's normalisation: the package's own tolerance. */
const PACKAGE_TOLERANCE = { absolute: 1e-3, relative: 1e-3, mismatchedPerMillion: 100 }

let server: TestServer
let projectId: number
let v0Id: number
let packageDir: string
let zipBytes: Buffer
let downloadSeconds: number
const temporary: string[] = []

async function unzip(bytes: Buffer, into: string): Promise<string[]> {
  const zip = await promisify<Buffer, yauzl.Options, yauzl.ZipFile>(yauzl.fromBuffer)(bytes, {
    lazyEntries: true,
  })
  const names: string[] = []
  await new Promise<void>((resolve, reject) => {
    zip.on('error', reject)
    zip.on('end', resolve)
    zip.on('entry', (entry: yauzl.Entry) => {
      names.push(entry.fileName)
      const target = path.join(into, entry.fileName)
      if (!target.startsWith(into + path.sep))
        return reject(new Error(`bad entry ${entry.fileName}`))
      zip.openReadStream(entry, (error, stream) => {
        if (error) return reject(error)
        stream.pipe(fs.createWriteStream(target)).on('finish', () => zip.readEntry())
      })
    })
    zip.readEntry()
  })
  return names
}

const readPackageNpy = (name: string) => readNpy(fs.readFileSync(path.join(packageDir, name)))

/** Mismatches of `actual` against `expected` beyond absolute + relative × |expected|. */
function mismatches(
  actual: ArrayLike<number>,
  expected: NpyArray,
  tolerance: { absolute: number; relative: number },
) {
  let count = 0
  let worst = 0
  for (let i = 0; i < expected.data.length; i++) {
    const wanted = Number(expected.data[i])
    const excess =
      Math.abs(actual[i] - wanted) - (tolerance.absolute + tolerance.relative * Math.abs(wanted))
    if (excess > 0) count++
    worst = Math.max(worst, excess)
  }
  return { count, worst }
}

/** Runs the package's weights on an input the way its rdf.yaml says (sigmoid where declared). */
async function runPackage(input: Float32Array, shape: readonly number[]) {
  const rdf = parseYaml(fs.readFileSync(path.join(packageDir, 'rdf.yaml'), 'utf8'))
  const session = await ort.InferenceSession.create(
    path.join(packageDir, rdf.weights.onnx.source),
    { intraOpNumThreads: 1 },
  )
  const card = JSON.parse(fs.readFileSync(path.join(packageDir, 'card.json'), 'utf8'))
  const results = await session.run({
    [card.encoder.inputs[0].name]: new ort.Tensor('float32', input, [...shape]),
  })
  await session.release()
  return (rdf.outputs as any[]).map((output) => {
    const values = Float32Array.from(results[output.id].data as Float32Array)
    const sigmoid = (output.postprocessing ?? []).some((step: any) => step.id === 'sigmoid')
    if (sigmoid) for (let i = 0; i < values.length; i++) values[i] = 1 / (1 + Math.exp(-values[i]))
    return {
      id: output.id as string,
      values,
      dims: results[output.id].dims,
      expected: readPackageNpy(output.test_tensor.source),
    }
  })
}

beforeAll(async () => {
  server = await startTestServer()
  const project = await server.admin.request('POST', '/api/projects', {
    name: 'Nuclei (bioimage.io)',
  })
  projectId = project.body.id
  const list = await server.admin.request('GET', `/api/projects/${projectId}/models`)
  v0Id = list.body.versions.find(
    (v: { name: string; projectId: number | null }) => v.name === 'v0' && v.projectId === null,
  ).id
  packageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-bioimageio-'))
  temporary.push(packageDir)
})

afterAll(async () => {
  await server?.close()
  for (const dir of temporary) fs.rmSync(dir, { recursive: true, force: true })
})

describe('bioimage.io package of a model version', () => {
  it('downloads v0 as a ZIP attachment named after project and version, rdf.yaml first', async () => {
    const started = performance.now()
    const response = await server.admin.raw(
      'GET',
      `/api/projects/${projectId}/models/${v0Id}/bioimageio.zip`,
    )
    downloadSeconds = (performance.now() - started) / 1000
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('application/zip')
    expect(response.headers.get('content-disposition')).toMatch(
      /^attachment; filename="?nuclei-bioimage\.io-v0\.bioimageio\.zip"?$/,
    )
    zipBytes = response.body as Buffer
    const names = await unzip(zipBytes, packageDir)
    expect(names[0]).toBe('rdf.yaml')
    expect(names.sort()).toEqual(
      [
        'README.md',
        'card.json',
        'decoder.onnx',
        'encoder.onnx',
        'rdf.yaml',
        'test_input_raw.npy',
        'test_output_details.npy',
        'test_output_distance.npy',
        'test_output_features.npy',
        'test_output_foreground.npy',
      ].sort(),
    )
    // The model's own files travel unchanged.
    const shipped = path.join(REPOSITORY, 'models/v0')
    for (const file of ['encoder.onnx', 'decoder.onnx', 'card.json'])
      expect(
        fs
          .readFileSync(path.join(packageDir, file))
          .equals(fs.readFileSync(path.join(shipped, file))),
        file,
      ).toBe(true)
    console.info(
      `bioimage.io package of v0: ${zipBytes.length} bytes, downloaded in ${downloadSeconds.toFixed(2)} s`,
    )
  })

  it.skipIf(!hasSchema)(
    `passes the 0.5.7 JSON Schema and every extra check (check_package.py)${hasSchema ? '' : ` [skipped: ${VENDORED} is absent]`}`,
    async () => {
      const { stdout } = await run(PYTHON, [
        CHECK_SCRIPT,
        packageDir,
        '--schema',
        SCHEMA,
        '--preprocessed',
        path.join(packageDir, '..', `${path.basename(packageDir)}-preprocessed.npy`),
      ]).catch((error) => ({ stdout: error.stdout as string }))
      const report = JSON.parse(stdout)
      temporary.push(path.join(packageDir, '..', `${path.basename(packageDir)}-preprocessed.npy`))
      expect(report.checks).toEqual(
        Object.fromEntries(Object.keys(report.checks).map((name) => [name, 'ok'])),
      )
      expect(report.ok).toBe(true)
      expect(Object.keys(report.checks)).toEqual(
        expect.arrayContaining([
          'schema',
          'timestamp is a string',
          'cite has doi or url',
          'documentation is a .md file',
          'FAIR fields are non-empty',
          'exactly one weights entry without parent',
          'ids are lower-case identifiers',
          'tensor ids are unique',
          'size references point to existing axes',
          'sha256 of every file matches',
          'test tensors load with numpy',
          'test tensor shapes fit their axes',
          'channel names are identifiers',
          'urls are http(s) urls',
        ]),
      )
      expect(report.shapes).toEqual({
        raw: [1, 2, 64, 64],
        features: [1, 32, 16, 16],
        details: [1, 8, 64, 64],
        foreground: [1, 1, 64, 64],
        distance: [1, 1, 64, 64],
      })
    },
  )

  it.skipIf(!hasSchema)(
    'fails a tampered package on each check the schema cannot make',
    async () => {
      const tampered = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-bioimageio-tampered-'))
      temporary.push(tampered)
      fs.cpSync(packageDir, tampered, { recursive: true })
      const rdf = parseYaml(fs.readFileSync(path.join(tampered, 'rdf.yaml'), 'utf8'), {
        version: '1.1',
      })
      delete rdf.cite[0].doi
      rdf.cite[1].url = 'bbbc.broadinstitute.org/BBBC038'
      rdf.documentation = 'README.txt'
      rdf.description = ''
      rdf.outputs[0].axes[2].size.axis_id = 'z'
      rdf.outputs[1].id = 'Details'
      rdf.attachments[0].sha256 = '0'.repeat(64)
      rdf.weights.onnx.parent = 'pytorch_state_dict'
      // The distance test tensor swapped for the features one (its sha256 updated): wrong shape.
      rdf.outputs[3].test_tensor = { ...rdf.outputs[0].test_tensor }
      const text = stringifyYaml(rdf, { version: '1.1' }).replace(
        /^timestamp: .*$/m,
        'timestamp: 2026-11-25T20:52:37+00:00',
      )
      fs.writeFileSync(path.join(tampered, 'rdf.yaml'), text)
      const outcome = await run(PYTHON, [CHECK_SCRIPT, tampered, '--schema', SCHEMA]).then(
        () => ({ code: 0, stdout: '' }),
        (error) => ({ code: error.code as number, stdout: error.stdout as string }),
      )
      expect(outcome.code).toBe(1)
      const report = JSON.parse(outcome.stdout)
      expect(report.ok).toBe(false)
      const failed = Object.entries(report.checks)
        .filter(([, result]) => result !== 'ok')
        .map(([name]) => name)
      expect(failed.sort()).toEqual(
        [
          'schema',
          'timestamp is a string',
          'cite has doi or url',
          'documentation is a .md file',
          'FAIR fields are non-empty',
          'size references point to existing axes',
          'ids are lower-case identifiers',
          'sha256 of every file matches',
          'exactly one weights entry without parent',
          'test tensor shapes fit their axes',
          'test tensors lie in their data range',
          'urls are http(s) urls',
        ].sort(),
      )
      expect(report.checks.schema.join('\n')).toMatch(/timestamp/)
    },
  )

  it('reproduces the test outputs with onnxruntime-node from the test input, normalised as the app does', async () => {
    const input = readPackageNpy('test_input_raw.npy')
    expect(input.dtype).toBe('float32')
    const outputs = await runPackage(normalizeAsTheApp(input), input.shape)
    expect(outputs.map((o) => o.id)).toEqual(['features', 'details', 'foreground', 'distance'])
    for (const output of outputs) {
      expect([...output.dims], output.id).toEqual(output.expected.shape)
      expect(mismatches(output.values, output.expected, SAME_INPUT_TOLERANCE), output.id).toEqual({
        count: 0,
        worst: 0,
      })
    }
  })

  it.skipIf(!hasSchema)(
    "reproduces them from the description's preprocessing too (numpy percentiles, eps, clip)",
    async () => {
      const preprocessed = readNpy(
        fs.readFileSync(
          path.join(packageDir, '..', `${path.basename(packageDir)}-preprocessed.npy`),
        ),
      )
      const app = normalizeAsTheApp(readPackageNpy('test_input_raw.npy'))
      let largest = 0
      for (let i = 0; i < app.length; i++)
        largest = Math.max(largest, Math.abs(app[i] - Number(preprocessed.data[i])))
      expect(largest, 'numpy scale_range + clip against the app').toBeLessThan(1e-5)
      const outputs = await runPackage(preprocessed.data as Float32Array, preprocessed.shape)
      for (const output of outputs) {
        const { count } = mismatches(output.values, output.expected, PACKAGE_TOLERANCE)
        expect((count / output.values.length) * 1e6, output.id).toBeLessThanOrEqual(
          PACKAGE_TOLERANCE.mismatchedPerMillion,
        )
      }
    },
  )

  it('answers 404 {error} for a version that does not exist, before sending anything', async () => {
    const response = await server.admin.request(
      'GET',
      `/api/projects/${projectId}/models/999999/bioimageio.zip`,
    )
    expect(response.status).toBe(404)
    expect(response.body.error).toMatch(/no model version 999999/)
    expect(response.headers.get('content-disposition')).toBeNull()
  })

  it('is open to every project member, closed to others as the files route is', async () => {
    for (const username of ['outsider', 'viewer']) {
      expect(
        (await server.admin.request('POST', '/api/users', { username, password: 'password-123' }))
          .status,
      ).toBe(201)
    }
    await server.admin.request('POST', `/api/projects/${projectId}/members`, {
      username: 'viewer',
      role: 'viewer',
    })
    const outsider = new ApiClient(server.url)
    await outsider.login('outsider', 'password-123')
    const viewer = new ApiClient(server.url)
    await viewer.login('viewer', 'password-123')
    const files = await outsider.request(
      'GET',
      `/api/projects/${projectId}/models/${v0Id}/files/card`,
    )
    const zip = await outsider.request(
      'GET',
      `/api/projects/${projectId}/models/${v0Id}/bioimageio.zip`,
    )
    expect(zip.status).toBe(403)
    expect(zip.status).toBe(files.status)
    expect(typeof zip.body.error).toBe('string')
    const anonymous = await new ApiClient(server.url).request(
      'GET',
      `/api/projects/${projectId}/models/${v0Id}/bioimageio.zip`,
    )
    expect(anonymous.status).toBe(401)
    const allowed = await viewer.raw(
      'GET',
      `/api/projects/${projectId}/models/${v0Id}/bioimageio.zip`,
    )
    expect(allowed.status).toBe(200)
    expect((allowed.body as Buffer).length).toBe(zipBytes.length)
  })
})
