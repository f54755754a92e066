// Runs a model version (image encoder once, click decoder per click) with any ONNX Runtime that
// has the common JavaScript API: onnxruntime-web in the browser worker, onnxruntime-node in the
// evaluation CLI. The same code on both sides, so evaluation measures what users get.
import type { ModelCard } from '../schemas/modelCard.ts'
import { encodeClicks } from './clickEncoding.ts'
import type { Click } from './clickSimulation.ts'
import { type HeadLogits, type Proposal, proposeInstances } from './proposals.ts'
import { type BlockRange, blockRange, refineMaskLogits, refineWithDetails } from './refine.ts'

/** The part of onnxruntime's API this module uses (web and node share it). */
export interface OrtTensor {
  readonly data: unknown
  readonly dims: readonly number[]
}
export interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>
  release?(): Promise<void>
}
export interface OrtRuntime {
  InferenceSession: { create(model: Uint8Array, options?: object): Promise<OrtSession> }
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensor
}

/** A planar float32 array with its shape (N = 1). */
export interface Planes {
  data: Float32Array
  channels: number
  height: number
  width: number
}

export interface EncodedImage {
  /** Size of the image; the encoder ran on it padded to the card's size multiple. */
  width: number
  height: number
  paddedWidth: number
  paddedHeight: number
  features: Planes
  details: Planes
  foreground: Planes
  distance: Planes
  /** Smallest and largest detail per stride-sized block, for skipping the blocks that the
   * mask's edge cannot cross on each click. */
  detailRange: BlockRange
}

export interface CropResult {
  /** Crop in image pixels (origin aligned to the feature stride). */
  crop: { x: number; y: number; width: number; height: number }
  /** Mask logits of the crop, row-major; object where > maskThreshold. */
  logits: Float32Array
  /** Low-resolution logits to feed back with the next click of the same object. */
  lowRes: Float32Array
}

function planesOf(tensor: OrtTensor): Planes {
  const [, channels, height, width] = tensor.dims
  return { data: tensor.data as Float32Array, channels, height, width }
}

/** Copies a window [y0, y0+h) × [x0, x0+w) of every channel (zeros outside the source). */
export function cropPlanes(
  source: Planes,
  x0: number,
  y0: number,
  width: number,
  height: number,
): Planes {
  const data = new Float32Array(source.channels * width * height)
  // Rows are copied whole (the window's part inside the source); the rest stays zero.
  const x1 = Math.max(x0, 0)
  const x2 = Math.min(x0 + width, source.width)
  if (x2 > x1) {
    for (let c = 0; c < source.channels; c++) {
      for (let row = 0; row < height; row++) {
        const sy = y0 + row
        if (sy < 0 || sy >= source.height) continue
        const from = (c * source.height + sy) * source.width
        data.set(source.data.subarray(from + x1, from + x2), (c * height + row) * width + (x1 - x0))
      }
    }
  }
  return { data, channels: source.channels, height, width }
}

export class Segmenter {
  /** Milliseconds of the latest decode: the ONNX graph, then the refinement. */
  lastDecode = { runMs: 0, refineMs: 0 }

  private constructor(
    readonly card: ModelCard,
    private readonly runtime: OrtRuntime,
    private readonly encoder: OrtSession,
    private readonly decoder: OrtSession,
  ) {}

  static async load(
    runtime: OrtRuntime,
    card: ModelCard,
    encoderModel: Uint8Array,
    decoderModel: Uint8Array,
    options: object = {},
  ): Promise<Segmenter> {
    // Decoders that give full-resolution logits themselves predate the coarse output.
    if (!card.decoder.outputs.some((o) => o.name === 'coarse'))
      throw new Error(
        `Model ${card.version}: its decoder has no "coarse" output; export it again with ` +
          '`python -m tessera_trainer export --checkpoint … --out …`',
      )
    const [encoder, decoder] = await Promise.all([
      runtime.InferenceSession.create(encoderModel, options),
      runtime.InferenceSession.create(decoderModel, options),
    ])
    const segmenter = new Segmenter(card, runtime, encoder, decoder)
    await segmenter.warmUp()
    return segmenter
  }

  /**
   * One decode of a made-up crop of the usual size, so that the runtime's first-run set-up and
   * the compilation of the refinement happen at load rather than on the user's first click.
   */
  private async warmUp() {
    const stride = this.card.input.featureStride
    const size = this.card.input.clickCropSize
    const featureChannels = this.card.decoder.inputs.find((i) => i.name === 'features')?.shape[1]
    const coarseChannels = this.card.decoder.outputs.find((o) => o.name === 'coarse')?.shape[1]
    if (typeof featureChannels !== 'number' || typeof coarseChannels !== 'number') return
    // Varied values of both signs: the refinement computes nearly every block, so its
    // per-pixel path is compiled too (55–60 ms cold in Node, 10 ms once compiled).
    const planes = (channels: number, side: number): Planes => ({
      data: Float32Array.from({ length: channels * side * side }, (_, i) => Math.sin(i * 0.37)),
      channels,
      height: side,
      width: side,
    })
    const details = planes(coarseChannels - 1, size)
    const encoded: EncodedImage = {
      width: size,
      height: size,
      paddedWidth: size,
      paddedHeight: size,
      features: planes(featureChannels, size / stride),
      details,
      foreground: planes(1, size),
      distance: planes(1, size),
      detailRange: blockRange(details, stride),
    }
    const crop = { x: 0, y: 0, width: size, height: size }
    await this.decode(encoded, crop, [{ x: size / 2, y: size / 2, positive: true }], null)
  }

  private tensor(planes: Planes): OrtTensor {
    return new this.runtime.Tensor('float32', planes.data, [
      1,
      planes.channels,
      planes.height,
      planes.width,
    ])
  }

  /** Runs the encoder on a normalised planar image (model channels × height × width). */
  async encode(image: Planes): Promise<EncodedImage> {
    const m = this.card.input.sizeMultiple
    const paddedHeight = Math.ceil(image.height / m) * m
    const paddedWidth = Math.ceil(image.width / m) * m
    const padded = cropPlanes(image, 0, 0, paddedWidth, paddedHeight)
    const out = await this.encoder.run({ image: this.tensor(padded) })
    const details = planesOf(out.details)
    return {
      width: image.width,
      height: image.height,
      paddedWidth,
      paddedHeight,
      features: planesOf(out.features),
      details,
      foreground: planesOf(out.foreground),
      distance: planesOf(out.distance),
      detailRange: blockRange(details, this.card.input.featureStride),
    }
  }

  /** The crop (card.input.clickCropSize, stride-aligned, inside the padded image) around a point. */
  cropAround(encoded: EncodedImage, x: number, y: number) {
    const stride = this.card.input.featureStride
    const size = Math.min(this.card.input.clickCropSize, encoded.paddedWidth, encoded.paddedHeight)
    const align = (v: number, limit: number) =>
      Math.max(0, Math.min(limit - size, Math.floor((v - size / 2) / stride) * stride))
    return {
      x: align(x, encoded.paddedWidth),
      y: align(y, encoded.paddedHeight),
      width: size,
      height: size,
    }
  }

  /**
   * Runs the click decoder on a crop: every click so far of one object (image coordinates), and
   * the previous low-resolution logits of the same crop (none for the first click).
   */
  async decode(
    encoded: EncodedImage,
    crop: { x: number; y: number; width: number; height: number },
    clicks: readonly Click[],
    previous: Float32Array | null,
    /**
     * The decoder's exact logits everywhere, without click consistency (parity checks); by
     * default exact only where the mask can be, and the clicked pixels follow their clicks.
     */
    options: { exactLogits?: boolean } = {},
  ): Promise<CropResult> {
    const stride = this.card.input.featureStride
    const fh = crop.height / stride
    const fw = crop.width / stride
    const local = clicks.map((c) => ({ x: c.x - crop.x, y: c.y - crop.y, positive: c.positive }))
    const clickMaps = encodeClicks(local, fh, fw, stride, this.card.clickEncoding.sigmaPixels)
    const previousMask = previous ?? new Float32Array(fh * fw).fill(NO_PREVIOUS_MASK_LOGIT)
    const features = this.tensor(
      cropPlanes(encoded.features, crop.x / stride, crop.y / stride, fw, fh),
    )
    const clickTensor = this.tensor({ data: clickMaps, channels: 2, height: fh, width: fw })
    const previousTensor = this.tensor({ data: previousMask, channels: 1, height: fh, width: fw })
    // The graph stops at feature resolution; the elementwise refinement runs here.
    const started = performance.now()
    const out = await this.decoder.run({
      features,
      clicks: clickTensor,
      previousMask: previousTensor,
    })
    const ran = performance.now()
    const coarse = planesOf(out.coarse)
    const logits = options.exactLogits
      ? refineWithDetails(coarse, encoded.details, crop.x, crop.y, stride)
      : refineMaskLogits(
          coarse,
          encoded.details,
          encoded.detailRange,
          crop.x,
          crop.y,
          stride,
          this.card.clickEncoding.maskThreshold,
        )
    if (!options.exactLogits) applyClickConsistency(logits, crop.width, crop.height, local)
    this.lastDecode = { runMs: ran - started, refineMs: performance.now() - ran }
    return { crop, logits, lowRes: coarse.data.slice(0, fh * fw) }
  }

  /** The automatic head's logits over the (unpadded) image. */
  headOf(encoded: EncodedImage): HeadLogits {
    return {
      width: encoded.width,
      height: encoded.height,
      foreground: cropPlanes(encoded.foreground, 0, 0, encoded.width, encoded.height).data,
      distance: cropPlanes(encoded.distance, 0, 0, encoded.width, encoded.height).data,
    }
  }

  /** Instance proposals of the automatic head over the (unpadded) image. */
  propose(encoded: EncodedImage): { labels: Uint32Array; proposals: Proposal[] } {
    const head = this.headOf(encoded)
    const p = this.card.proposals
    return proposeInstances(head, {
      foregroundThreshold: p.foregroundThreshold,
      seedThreshold: p.seedThreshold,
      minSeedArea: p.minSeedArea,
      minArea: p.minArea,
    })
  }

  async release() {
    await Promise.all([this.encoder.release?.(), this.decoder.release?.()])
  }
}

/** Decoder input for "no previous mask", as the trainer uses it (card.decoder.inputs). */
export const NO_PREVIOUS_MASK_LOGIT = -20

/** Logit magnitude a clicked pixel is set to (see applyClickConsistency). */
export const CLICK_LOGIT = 20

/**
 * Click consistency (card.clickEncoding.consistency): each clicked pixel takes its click's
 * label whatever the decoder predicted there, a later click on the same pixel winning, so a
 * click on a wrongly labelled pixel always changes the mask. Clicks are in crop coordinates;
 * those outside the crop are ignored. In place. The trainer does the same (clicks.apply_clicks).
 */
export function applyClickConsistency(
  logits: Float32Array,
  width: number,
  height: number,
  clicks: readonly Click[],
) {
  for (const click of clicks) {
    const x = Math.floor(click.x)
    const y = Math.floor(click.y)
    if (x >= 0 && y >= 0 && x < width && y < height)
      logits[y * width + x] = click.positive ? CLICK_LOGIT : -CLICK_LOGIT
  }
}
