// Checks on the files a worker uploads for a model version, before anything is registered: each
// file by its artefact name, then the finished set against its card. It only reads and refuses
// (400 or 413 with the reason); it never stores a file nor writes a version.
import * as ort from 'onnxruntime-node'
import type { ModelCard } from '../../../shared/schemas/modelCard.ts'
import type { BlobStore } from '../blobs/BlobStore.ts'
import { HttpError } from '../http/HttpError.ts'
import { isArtifactName, notAnArtifact } from './modelVersionInfo.ts'
import { type ModelVersionRow, parseModelCard, type VersionFile } from './modelVersionRow.ts'

/** What a PyTorch zip checkpoint (torch.save since 1.6) starts with. */
const ZIP_MAGIC = Buffer.from('PK\x03\x04', 'latin1')

/**
 * Checks one uploaded file of a version by its artefact name: 413 over maxBytes, 400 with the
 * reason when it is not what that name must be (the card's schema, a loadable ONNX graph with
 * the tensor names of the reference (the default base) card, a PyTorch zip checkpoint, JSON).
 */
export async function validateUpload(
  name: string,
  bytes: Buffer,
  maxBytes: number,
  reference: () => ModelVersionRow | null,
): Promise<void> {
  if (bytes.length > maxBytes)
    throw new HttpError(
      413,
      `The ${name} file is ${bytes.length} bytes; a model file may be at most ${maxBytes}`,
    )
  switch (name) {
    case 'card':
      parseModelCard(bytes.toString('utf8'), 'uploaded card')
      return
    case 'encoder':
    case 'decoder': {
      const base = reference()
      if (!base) throw new HttpError(503, 'No base model version is registered')
      const graph = await inspectOnnx(bytes, name)
      expectTensorNames(name, graph, base.card[name], `${base.name}'s card`)
      return
    }
    case 'checkpoint':
      if (bytes.length < 4 || !bytes.subarray(0, 4).equals(ZIP_MAGIC))
        throw new HttpError(
          400,
          'The checkpoint is not a PyTorch zip checkpoint (torch.save writes a zip file)',
        )
      return
    case 'parity':
      try {
        JSON.parse(bytes.toString('utf8'))
      } catch (error) {
        throw new HttpError(400, `The parity file is not JSON: ${(error as Error).message}`)
      }
      return
    default:
      throw notAnArtifact(400, name)
  }
}

/**
 * Checks a finished version before it is registered: the card names every uploaded file with
 * its sha256 and size, every file the card names was uploaded, and the card's tensor names and
 * input channels are the ONNX graphs'.
 */
export async function validateVersionFiles(
  card: ModelCard,
  files: Record<string, VersionFile>,
  blobs: Pick<BlobStore, 'get'>,
): Promise<void> {
  const listed = card.files as Record<string, { sha256: string; bytes: number } | undefined>
  for (const [name, file] of Object.entries(files)) {
    if (name === 'card') continue
    const entry = listed[name]
    if (!entry) throw new HttpError(400, `The card does not list the uploaded ${name} file`)
    if (entry.sha256 !== file.sha256 || entry.bytes !== file.bytes)
      throw new HttpError(
        400,
        `The card's ${name} (sha256 ${entry.sha256}, ${entry.bytes} bytes) is not the uploaded file (${file.sha256}, ${file.bytes} bytes)`,
      )
  }
  for (const name of Object.keys(listed)) {
    if (isArtifactName(name) && !files[name])
      throw new HttpError(400, `The card lists a ${name} file that was not uploaded`)
  }
  for (const name of ['encoder', 'decoder'] as const) {
    const graph = await inspectOnnx(await blobs.get(files[name]!.sha256), name)
    expectTensorNames(name, graph, card[name], 'the card')
    if (name === 'encoder') {
      const channels = graph.inputs[0]?.shape[1]
      if (typeof channels === 'number' && channels !== card.input.channels)
        throw new HttpError(
          400,
          `The encoder takes ${channels} channels; the card's input.channels is ${card.input.channels}`,
        )
    }
  }
}

interface Tensor {
  name: string
  shape: readonly (number | string)[]
}

interface Graph {
  inputs: Tensor[]
  outputs: Tensor[]
}

/** Loads an ONNX graph in onnxruntime-node and returns its input and output tensors. */
async function inspectOnnx(bytes: Uint8Array, name: string): Promise<Graph> {
  let session: ort.InferenceSession
  try {
    // A copy: onnxruntime reads the whole underlying buffer of a pooled Buffer.
    session = await ort.InferenceSession.create(new Uint8Array(bytes))
  } catch (error) {
    throw new HttpError(
      400,
      `The ${name} is not an ONNX model onnxruntime can load: ${(error as Error).message}`,
    )
  }
  try {
    const tensors = (metadata: readonly ort.InferenceSession.ValueMetadata[]) =>
      metadata.map((value) => ({
        name: value.name,
        shape: value.isTensor ? value.shape : [],
      }))
    return { inputs: tensors(session.inputMetadata), outputs: tensors(session.outputMetadata) }
  } finally {
    await session.release()
  }
}

type TensorNames = Record<'inputs' | 'outputs', readonly { name: string }[]>

/** 400 unless the graph's inputs, then its outputs, have the names `source` lists (any order). */
function expectTensorNames(file: string, graph: Graph, expected: TensorNames, source: string) {
  const names = (tensors: readonly { name: string }[]) =>
    tensors.map((tensor) => tensor.name).sort()
  for (const kind of ['inputs', 'outputs'] as const) {
    const got = names(graph[kind])
    const want = names(expected[kind])
    if (got.join('\n') !== want.join('\n'))
      throw new HttpError(
        400,
        `The ${file}'s ${kind} are ${got.join(', ') || 'none'}; ${source} lists ${want.join(', ') || 'none'}`,
      )
  }
}
