// A model version as a bioimage.io model package (format 0.5.7): rdf.yaml, README.md, the
// encoder as the weights, the click decoder and card as attachments, and .npy test tensors made
// by running the encoder. Built in memory (a few MB), then streamed as a ZIP. Reads versions
// through ModelVersions; never changes one.
import { createHash } from 'node:crypto'
import { createRequire } from 'node:module'
import type { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { Response } from 'express'
import yazl from 'yazl'
import { writeNpy } from '../../../../shared/formats/npy.ts'
import type { Db } from '../../db/database.ts'
import { HttpError } from '../../http/HttpError.ts'
import type { Logger } from '../../logger.ts'
import type { ModelVersions } from '../ModelVersions.ts'
import { encoderTensors } from './encoderTensors.ts'
import { readOnnxOpset } from './onnxOpset.ts'
import type { FileReference, PackageSource } from './packageSource.ts'
import { buildRdf, modelName, type RdfFiles, rdfYaml } from './rdf.ts'
import { buildReadme } from './readme.ts'
import { computeTestTensors, TEST_IMAGE } from './testTensors.ts'

export const RDF_FILE = 'rdf.yaml'
const FILES = {
  weights: 'encoder.onnx',
  decoder: 'decoder.onnx',
  card: 'card.json',
  documentation: 'README.md',
  testInput: 'test_input_raw.npy',
  testOutput: (id: string) => `test_output_${id}.npy`,
}

/** The version's files a package holds, as stored. */
export interface VersionBytes {
  encoder: Uint8Array
  decoder: Uint8Array
  /** The card's text exactly as stored. */
  cardJson: string
}

export interface BioimageioPackage {
  /** '<project>-<version>.bioimageio.zip' */
  fileName: string
  /** rdf.yaml first, then the files it refers to. */
  entries: { name: string; bytes: Uint8Array }[]
  /** The entries' modification time in the ZIP: the version's creation. */
  mtime: Date
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')
const slug = (text: string) =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '')
    .slice(0, 60)

export function packageFileName(source: PackageSource): string {
  const project = slug(source.project.name) || `project-${source.project.id}`
  return `${project}-${slug(source.version.name) || `version-${source.version.id}`}.bioimageio.zip`
}

function onnxRuntimeVersion(): string {
  const require = createRequire(import.meta.url)
  return (require('onnxruntime-node/package.json') as { version: string }).version
}

/** Builds every file of the package; runs the encoder once on the test image. */
export async function buildBioimageioPackage(
  source: PackageSource,
  files: VersionBytes,
): Promise<BioimageioPackage> {
  const tensors = encoderTensors(source.card)
  const opsetVersion = readOnnxOpset(files.encoder)
  const test = await computeTestTensors(files.encoder, source.card)
  const entries: { name: string; bytes: Uint8Array }[] = []
  const add = (name: string, bytes: Uint8Array): FileReference => {
    entries.push({ name, bytes })
    return { source: name, sha256: sha256(bytes) }
  }
  const testOutputs = new Map<string, FileReference>()
  const rdfFiles: RdfFiles = {
    weights: add(FILES.weights, files.encoder),
    decoder: add(FILES.decoder, files.decoder),
    card: add(FILES.card, Buffer.from(files.cardJson)),
    documentation: FILES.documentation,
    testInput: add(FILES.testInput, writeNpy(test.input)),
    testOutputs,
  }
  for (const output of tensors.outputs) {
    const array = test.outputs.get(output.id)
    if (!array) throw new Error(`The encoder gave no ${output.id}`)
    testOutputs.set(output.id, add(FILES.testOutput(output.id), writeNpy(array)))
  }
  const name = modelName(source)
  const readme = buildReadme(source, tensors, {
    name,
    opsetVersion,
    onnxRuntime: onnxRuntimeVersion(),
    testImage: `The test input is a synthetic image of ${TEST_IMAGE.count} touching nuclei on an uneven background with shot noise, ${TEST_IMAGE.width} × ${TEST_IMAGE.height} pixels, 16-bit intensities stored as float32 (Tessera's demo generator, seed ${TEST_IMAGE.seed}; channel 1 is a dimmer, wider cytoplasm-like signal).`,
  })
  add(FILES.documentation, Buffer.from(readme))
  const rdf = rdfYaml(buildRdf(source, tensors, rdfFiles, opsetVersion))
  entries.unshift({ name: RDF_FILE, bytes: Buffer.from(rdf) })
  return {
    fileName: packageFileName(source),
    entries,
    mtime: new Date(Date.parse(source.version.createdAt) || 0),
  }
}

/** Writes the package as a ZIP to the destination; resolves when all of it was written. */
export async function streamPackage(pkg: BioimageioPackage, destination: Writable): Promise<void> {
  const zip = new yazl.ZipFile()
  for (const entry of pkg.entries) {
    // ONNX and .npy float data gain little from deflate but some; every entry is compressed.
    zip.addBuffer(Buffer.from(entry.bytes), entry.name, { mtime: pkg.mtime, compressionLevel: 6 })
  }
  zip.end()
  await pipeline(zip.outputStream as unknown as NodeJS.ReadableStream, destination)
}

/**
 * What the package of a version the project may see is made from: 404 for an unknown version,
 * or one of another project. Base versions are packaged as seen from the asking project.
 */
export async function loadPackageSource(
  db: Db,
  versions: ModelVersions,
  projectId: number,
  versionId: number,
): Promise<{ source: PackageSource; files: VersionBytes }> {
  const row = versions.visibleTo(projectId, versionId)
  if (!row) throw new HttpError(404, `This project has no model version ${versionId}`)
  const project = db.prepare('SELECT name FROM projects WHERE id = ?').get(projectId) as
    | { name: string }
    | undefined
  if (!project) throw new HttpError(404, `No project ${projectId}`)
  // The list joins the parent's name and the triggering user's; it is the one place that does.
  const info = versions.list(projectId).versions.find((version) => version.id === versionId)
  const [encoder, decoder] = await Promise.all([
    versions.readFile(projectId, versionId, 'encoder'),
    versions.readFile(projectId, versionId, 'decoder'),
  ])
  return {
    source: {
      project: { id: projectId, name: project.name },
      version: {
        id: row.id,
        name: row.name,
        createdAt: row.createdAt,
        projectId: row.projectId,
        parent: info?.parent ?? null,
        triggeredBy: info?.triggeredBy?.username ?? null,
        jobId: row.jobId,
        trainingSet: {
          images: row.trainingImages,
          objects: row.trainingObjects,
          hash: row.trainingSetHash,
        },
        metrics: row.metrics,
      },
      card: row.card,
    },
    files: {
      encoder: new Uint8Array(encoder.bytes),
      decoder: new Uint8Array(decoder.bytes),
      cardJson: row.cardJson,
    },
  }
}

/**
 * Answers GET …/models/:versionId/bioimageio.zip: builds the package (404 before any byte when
 * the version is not the project's) and streams it as an attachment.
 */
export async function sendBioimageioPackage(
  context: { db: Db; log: Logger },
  versions: ModelVersions,
  params: { projectId: number; versionId: number },
  res: Response,
): Promise<void> {
  const { source, files } = await loadPackageSource(
    context.db,
    versions,
    params.projectId,
    params.versionId,
  )
  const started = performance.now()
  const bioimageio = await buildBioimageioPackage(source, files)
  const milliseconds = Math.round(performance.now() - started)
  context.log.info(
    `project ${params.projectId}: bioimage.io package of model ${source.version.name} built in ${milliseconds} ms`,
  )
  res.attachment(bioimageio.fileName)
  res.type('application/zip')
  res.set('Cache-Control', 'private, no-cache')
  try {
    await streamPackage(bioimageio, res)
  } catch (error) {
    // The client went away mid-download: there is no one to answer.
    if (!res.destroyed) throw error
  }
}
