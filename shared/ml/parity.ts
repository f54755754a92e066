// Checks a runtime against the PyTorch outputs the trainer recorded for fixed inputs
// (parity.json next to the ONNX files): the same check runs in onnxruntime-node (vitest) and in
// onnxruntime-web inside the browser's worker (e2e), so both runtimes are held to the card.
import type { Segmenter } from './segmenter.ts'

interface TensorEntry {
  shape: number[]
  data: string
}

export interface ParityFixture {
  tolerance: { absolute: number; relative: number }
  encoder: { inputs: { image: TensorEntry }; outputs: Record<string, TensorEntry> }
  decoder: {
    clickList: { x: number; y: number; positive: boolean }[]
    outputs: Record<string, TensorEntry>
  }
}

export interface ParityReport {
  /** Per output: the largest |actual − expected| − relative·|expected| (≤ absolute passes). */
  worstExcess: Record<string, number>
  /** Per output: element counts (actual, expected). */
  lengths: Record<string, [number, number]>
  absolute: number
  passed: boolean
}

/** Decodes base64 float32 little-endian (atob exists in browsers and in Node ≥ 16). */
export function decodeTensor(entry: TensorEntry): Float32Array {
  const binary = atob(entry.data)
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  return new Float32Array(bytes.buffer)
}

export async function checkParity(
  segmenter: Segmenter,
  fixture: ParityFixture,
): Promise<ParityReport> {
  const { absolute, relative } = fixture.tolerance
  const image = fixture.encoder.inputs.image
  const [, channels, height, width] = image.shape
  const encoded = await segmenter.encode({ data: decodeTensor(image), channels, height, width })
  const worstExcess: Record<string, number> = {}
  const lengths: Record<string, [number, number]> = {}
  const compare = (name: string, actual: Float32Array, expected: Float32Array) => {
    lengths[name] = [actual.length, expected.length]
    let worst = actual.length === expected.length ? 0 : Number.POSITIVE_INFINITY
    for (let i = 0; i < Math.min(actual.length, expected.length); i++) {
      const excess = Math.abs(actual[i] - expected[i]) - relative * Math.abs(expected[i])
      if (!(excess <= worst)) worst = excess
    }
    worstExcess[name] = worst
  }
  for (const name of ['features', 'details', 'foreground', 'distance'] as const) {
    compare(name, encoded[name].data, decodeTensor(fixture.encoder.outputs[name]))
  }
  const crop = { x: 0, y: 0, width, height }
  const result = await segmenter.decode(encoded, crop, fixture.decoder.clickList, null, {
    exactLogits: true,
  })
  compare('mask', result.logits, decodeTensor(fixture.decoder.outputs.mask))
  compare('maskLowRes', result.lowRes, decodeTensor(fixture.decoder.outputs.maskLowRes))
  const passed = Object.values(worstExcess).every((w) => w <= absolute)
  return { worstExcess, lengths, absolute, passed }
}
