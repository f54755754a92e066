// The package's test tensors: a fixed synthetic nuclei image (raw 16-bit intensities, before the
// percentile normalisation the description declares) and what the encoder makes of it with
// onnxruntime-node, normalised exactly as the app does. Deterministic for a given encoder.
import * as ort from 'onnxruntime-node'
import type { NpyArray } from '../../../../shared/formats/npy.ts'
import { channelStats, normalizeImage } from '../../../../shared/ml/normalization.ts'
import type { ModelCard, Polarity } from '../../../../shared/schemas/modelCard.ts'
import { generateNuclei } from '../../demo/syntheticNuclei.ts'
import { type EncoderTensors, encoderTensors } from './encoderTensors.ts'

/** 64 × 64 (a multiple of 16) keeps the tensors small; two channels as the encoder takes. */
export const TEST_IMAGE = {
  seed: 2018,
  width: 64,
  height: 64,
  channels: 2,
  count: 8,
  radius: [5, 9],
} as const

export interface TestTensors {
  /** Raw intensities, float32 [1, channels, height, width]. */
  input: NpyArray
  /** By output id, float32 [1, channels, height / scale, width / scale]; probabilities for the
   * outputs the package applies a sigmoid to. */
  outputs: Map<string, NpyArray>
}

/**
 * The test image as float32 planes [1, channels, height, width] and as interleaved uint16; for a
 * model of dark objects (card input.polarity) the nuclei are dark on a bright background.
 */
export function createTestInput(
  channels: number,
  polarity: Polarity = 'bright',
): { planes: NpyArray; pixels: Uint16Array } {
  const { width, height } = TEST_IMAGE
  const image = generateNuclei({ ...TEST_IMAGE, radius: [...TEST_IMAGE.radius], channels: 2 })
  // A model with other than two channels gets the generator's channels, then zeros.
  const pixels = new Uint16Array(width * height * channels)
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < Math.min(channels, 2); c++)
      pixels[i * channels + c] =
        polarity === 'dark' ? 65535 - image.pixels[i * 2 + c] : image.pixels[i * 2 + c]
  }
  const planes = new Float32Array(channels * width * height)
  for (let c = 0; c < channels; c++) {
    for (let i = 0; i < width * height; i++)
      planes[c * width * height + i] = pixels[i * channels + c]
  }
  return { planes: { dtype: 'float32', shape: [1, channels, height, width], data: planes }, pixels }
}

/** The app's normalisation of planar raw intensities [1, C, H, W] (shared/ml/normalization.ts). */
export function normalizeAsTheApp(raw: NpyArray, polarity: Polarity = 'bright'): Float32Array {
  const [, channels, height, width] = raw.shape
  const area = width * height
  const interleaved = new Float32Array(channels * area)
  for (let c = 0; c < channels; c++) {
    for (let i = 0; i < area; i++) interleaved[i * channels + c] = Number(raw.data[c * area + i])
  }
  const stats = channelStats(interleaved, channels)
  return normalizeImage(interleaved, width, height, channels, stats, channels, polarity)
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x))

/**
 * Runs the encoder on a normalised planar input [1, C, H, W] (H and W multiples of the card's
 * sizeMultiple) and returns every output by tensor id, with the sigmoid applied where the
 * package's description applies it (computed in float64, rounded once to float32).
 */
export async function runEncoder(
  encoder: Uint8Array,
  tensors: EncoderTensors,
  normalized: Float32Array,
  shape: readonly number[],
): Promise<Map<string, NpyArray>> {
  const session = await ort.InferenceSession.create(encoder, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
  })
  try {
    const result = await session.run({
      [tensors.input.onnxName]: new ort.Tensor('float32', normalized, [...shape]),
    })
    const outputs = new Map<string, NpyArray>()
    for (const output of tensors.outputs) {
      const tensor = result[output.onnxName]
      if (!tensor) throw new Error(`The encoder has no output ${output.onnxName}`)
      const values = new Float32Array(tensor.data as Float32Array)
      if (output.probability) for (let i = 0; i < values.length; i++) values[i] = sigmoid(values[i])
      outputs.set(output.id, { dtype: 'float32', shape: [...tensor.dims], data: values })
    }
    return outputs
  } finally {
    await session.release()
  }
}

export async function computeTestTensors(
  encoder: Uint8Array,
  card: ModelCard,
): Promise<TestTensors> {
  const tensors = encoderTensors(card)
  const { polarity } = card.input
  const { planes } = createTestInput(tensors.input.channels, polarity)
  const outputs = await runEncoder(
    encoder,
    tensors,
    normalizeAsTheApp(planes, polarity),
    planes.shape,
  )
  return { input: planes, outputs }
}
