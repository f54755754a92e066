// The bioimage.io model description (rdf.yaml, format 0.5.7) of a Tessera model version: the
// encoder as the model (input `raw`, every ONNX output), the click decoder and card as
// attachments, the app's own settings under config.tessera. Pure: it hashes and reads nothing.
import { Document, Scalar } from 'yaml'
import { HIGH_PERCENTILE, LOW_PERCENTILE } from '../../../../shared/ml/normalization.ts'
import type { EncoderOutput, EncoderTensors } from './encoderTensors.ts'
import {
  CITATIONS,
  cardRecord,
  type FileReference,
  isoTimestamp,
  MODEL_LICENSE,
  type PackageSource,
  taskSentence,
} from './packageSource.ts'

export const FORMAT_VERSION = '0.5.7'
/** numpy.testing.assert_allclose terms for reproducing the test outputs elsewhere. */
export const REPRODUCIBILITY = {
  relative_tolerance: 1e-3,
  absolute_tolerance: 1e-3,
  mismatched_elements_per_million: 100,
}
/** The app's normalisation divides by (high - low); scale_range adds eps, kept at its least. */
const SCALE_RANGE_EPS = 1e-6

export interface RdfFiles {
  weights: FileReference
  decoder: FileReference
  card: FileReference
  documentation: string
  testInput: FileReference
  testOutputs: ReadonlyMap<string, FileReference>
}

export type Rdf = Record<string, unknown>

/** At most `max` characters (the schema's limit on descriptions), cut at a word. */
function limit(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  if (flat.length <= max) return flat
  const cut = flat.slice(0, max - 1)
  return `${cut.slice(0, cut.lastIndexOf(' ') > max / 2 ? cut.lastIndexOf(' ') : cut.length)}…`
}

/** bioimage.io names: letters, digits, _ - ( ) and spaces, at most 64 characters. */
export function modelName(source: PackageSource): string {
  const clean = (text: string) =>
    text
      .replace(/[^A-Za-z0-9_\-() ]+/g, ' ')
      .replace(/\s+/g, ' ')
      .trim()
  const base = clean(`Tessera interactive segmentation ${clean(source.version.name)}`)
  const project = source.version.projectId === null ? '' : clean(source.project.name)
  return (project ? `${base} - ${project}` : base).slice(0, 64).trim()
}

export function modelAuthors(source: PackageSource): { name: string; affiliation?: string }[] {
  const project = `Tessera project "${source.project.name}"`
  if (source.version.triggeredBy)
    return [{ name: source.version.triggeredBy, affiliation: project }]
  if (source.version.projectId !== null) return [{ name: project }]
  return [{ name: 'Tessera' }]
}

function modelDescription(source: PackageSource): string {
  const { version, card } = source
  const origin =
    version.projectId === null
      ? `base model ${version.name}, shipped with Tessera`
      : `model ${version.name} of the Tessera project "${source.project.name}"${version.parent ? `, fine-tuned from ${version.parent.name}` : ''}`
  return limit(
    `${taskSentence(card.task)}The image encoder of ${origin}. From a ${card.input.channels}-channel 2D image it predicts foreground and object-centre probabilities, which Tessera turns into instance proposals (README.md), and image features for Tessera's click decoder (decoder.onnx and card.json, attached).`,
    1024,
  )
}

/** Short descriptions of the known outputs; others take their card meaning, cut to 128. */
const OUTPUT_DESCRIPTIONS: Record<string, string> = {
  features: "Image features at 1/4 resolution; input of Tessera's click decoder (decoder.onnx)",
  details: "Full-resolution detail features; the click decoder's output weights them into a mask",
  foreground: 'Probability that the pixel belongs to an object (sigmoid of the ONNX logit)',
  distance:
    "Probability-scaled distance to the object's edge over its largest (1 centre, 0 edge/background)",
}

function channelNames(output: EncoderOutput): string[] {
  if (output.channels === 1) return [output.id]
  const singular = output.id.replace(/s$/, '')
  return Array.from({ length: output.channels }, (_, k) => `${singular}_${k}`)
}

function outputDescription(output: EncoderOutput, files: RdfFiles): Rdf {
  const spatial = (id: 'y' | 'x') => ({
    type: 'space',
    id,
    size: { tensor_id: 'raw', axis_id: id },
    // axis size = reference size × reference scale (1) / this scale.
    ...(output.scale === 1 ? {} : { scale: output.scale }),
  })
  const testTensor = files.testOutputs.get(output.id)
  if (!testTensor) throw new Error(`No test tensor for the output ${output.id}`)
  return {
    id: output.id,
    description: limit(OUTPUT_DESCRIPTIONS[output.id] ?? output.meaning, 128),
    axes: [
      { type: 'batch' },
      { type: 'channel', channel_names: channelNames(output) },
      spatial('y'),
      spatial('x'),
    ],
    test_tensor: testTensor,
    data: output.probability
      ? { type: 'float32', range: [0, 1] }
      : { type: 'float32', range: [null, null] },
    ...(output.probability ? { postprocessing: [{ id: 'sigmoid' }] } : {}),
  }
}

/** The app's own settings, kept whole so that Tessera (or anyone) can rebuild its pipeline. */
function tesseraConfig(source: PackageSource, files: RdfFiles): Rdf {
  const { card, version } = source
  return {
    version: version.name,
    project: { id: source.project.id, name: source.project.name },
    baseVersion: version.projectId === null,
    parentVersion: version.parent?.name ?? card.parentVersion ?? null,
    files: {
      card: files.card.source,
      encoder: files.weights.source,
      decoder: files.decoder.source,
    },
    input: card.input,
    proposals: card.proposals,
    clickEncoding: card.clickEncoding,
    decoder: {
      inputs: card.decoder.inputs,
      outputs: card.decoder.outputs,
      refinement: card.decoder.refinement ?? null,
    },
    // A base version was not trained on project images; its card says what it was trained on.
    ...(version.projectId === null
      ? {}
      : { trainingSet: version.trainingSet, trainingJobId: version.jobId }),
  }
}

export function buildRdf(
  source: PackageSource,
  tensors: EncoderTensors,
  files: RdfFiles,
  opsetVersion: number,
): Rdf {
  const { card } = source
  const trainer = cardRecord(card.trainer)
  const sizeMultiple = card.input.sizeMultiple
  const tags = [
    'tessera',
    'segmentation',
    'instance-segmentation',
    'interactive-segmentation',
    '2d',
    'onnx',
    ...(source.version.projectId === null ? ['nuclei', 'fluorescence-light-microscopy'] : []),
  ]
  const trainerText = [trainer.name, trainer.version].filter((v) => typeof v === 'string').join(' ')
  return {
    format_version: FORMAT_VERSION,
    type: 'model',
    name: modelName(source),
    description: modelDescription(source),
    authors: modelAuthors(source),
    cite: CITATIONS.map((entry) => ({ ...entry })),
    license: MODEL_LICENSE,
    tags,
    documentation: files.documentation,
    timestamp: isoTimestamp(source.version.createdAt),
    inputs: [
      {
        id: tensors.input.id,
        description: limit(
          'Raw intensities of a 2D image; model channel k is image channel k, zeros where the image has fewer channels',
          128,
        ),
        axes: [
          { type: 'batch' },
          {
            type: 'channel',
            channel_names: Array.from(
              { length: tensors.input.channels },
              (_, k) => `image_channel_${k}`,
            ),
          },
          { type: 'space', id: 'y', size: { min: sizeMultiple, step: sizeMultiple } },
          { type: 'space', id: 'x', size: { min: sizeMultiple, step: sizeMultiple } },
        ],
        test_tensor: files.testInput,
        data: { type: 'float32' },
        preprocessing: [
          {
            id: 'scale_range',
            kwargs: {
              // Per channel and per sample, over the whole image (README: how the app differs).
              axes: ['y', 'x'],
              min_percentile: Number(LOW_PERCENTILE),
              max_percentile: Number(HIGH_PERCENTILE),
              eps: SCALE_RANGE_EPS,
            },
          },
          { id: 'clip', kwargs: { min: 0, max: 1 } },
          // A model of dark objects reads 1 − x (the card's input.polarity).
          ...(card.input.polarity === 'dark'
            ? [{ id: 'scale_linear', kwargs: { gain: -1, offset: 1 } }]
            : []),
        ],
      },
    ],
    outputs: tensors.outputs.map((output) => outputDescription(output, files)),
    weights: {
      onnx: {
        ...files.weights,
        opset_version: opsetVersion,
        authors: modelAuthors(source),
        comment: limit(
          `Exported by ${trainerText || 'the Tessera trainer'}${typeof trainer.torch === 'string' ? ` with PyTorch ${trainer.torch}` : ''}: BatchNorm folded, dynamic batch, height and width. ONNX input ${tensors.input.onnxName}; outputs ${tensors.outputs.map((o) => o.onnxName).join(', ')}.`,
          512,
        ),
      },
    },
    attachments: [files.decoder, files.card],
    config: {
      bioimageio: {
        reproducibility_tolerance: [{ ...REPRODUCIBILITY, weights_formats: ['onnx'] }],
        ...(typeof card.encoder.parameters === 'number'
          ? { model_parameter_count: card.encoder.parameters }
          : {}),
        task: 'instance segmentation (automatic and interactive)',
      },
      tessera: tesseraConfig(source, files),
    },
  }
}

/**
 * rdf.yaml text. Every string that a YAML 1.1 reader (PyYAML) would take for something else is
 * quoted: above all the timestamp, which it would load as a datetime and fail `type: string`.
 */
export function rdfYaml(rdf: Rdf): string {
  const document = new Document(rdf, { version: '1.1' })
  const timestamp = document.get('timestamp', true)
  if (timestamp instanceof Scalar) timestamp.type = Scalar.QUOTE_SINGLE
  return document.toString({ lineWidth: 0 })
}
