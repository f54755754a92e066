// Clicks-to-IoU and automatic-proposal accuracy of the shipped model (models/v0) through the
// evaluation code of `npm run eval`: on a held-out synthetic set made by the server's demo
// generator (not the trainer's), and on the real images of ../shared/data that the trainer kept
// out of training (the card's held-out rule), when that folder exists.
import fs from 'node:fs'
import path from 'node:path'
import { generateNuclei } from '../server/src/demo/syntheticNuclei.ts'
import { evaluateModel } from '../server/src/models/evaluateModel.ts'
import {
  type LabelledImage,
  listLabelledImages,
  readLabelledImage,
} from '../server/src/models/labelledFolder.ts'
import { loadSegmenter, SHIPPED_MODEL_DIR } from '../server/src/models/loadModel.ts'
import { isHeldOut } from '../server/src/models/tuneProposals.ts'
import { round } from './stats.ts'

const REAL = path.resolve(import.meta.dirname, '../../shared/data/dsb2018_fluo_public')

function* syntheticSet(): Generator<LabelledImage> {
  for (let k = 0; k < 8; k++) {
    const spec = {
      seed: 9000 + k,
      width: 256,
      height: 256,
      channels: 1 as const,
      count: 18,
      radius: [6, 16] as [number, number],
    }
    const { pixels, labels } = generateNuclei(spec)
    yield {
      id: `synthetic-${k}`,
      imagePath: '',
      width: 256,
      height: 256,
      channels: 1,
      pixels: Float32Array.from(pixels),
      labels: Uint32Array.from(labels),
    }
  }
}

export async function run(): Promise<Record<string, number>> {
  if (!fs.existsSync(path.join(SHIPPED_MODEL_DIR, 'card.json')))
    throw new Error(`No shipped model in ${SHIPPED_MODEL_DIR}`)
  const segmenter = await loadSegmenter(SHIPPED_MODEL_DIR)
  const synthetic = await evaluateModel(segmenter, syntheticSet())
  const results: Record<string, number> = {
    noc85_synth: round(synthetic.noc85, 3),
    noc90_synth: round(synthetic.noc90, 3),
    auto_ap50_synth: round(synthetic.auto_ap50, 3),
  }
  if (fs.existsSync(REAL)) {
    const entries = listLabelledImages(REAL).filter((e) => isHeldOut(e.id))
    async function* images() {
      for (const entry of entries) yield await readLabelledImage(entry)
    }
    const real = await evaluateModel(segmenter, images())
    Object.assign(results, {
      noc85_real: round(real.noc85, 3),
      noc90_real: round(real.noc90, 3),
      iou_at_1click_real: round(real.iou_at_1click, 3),
      auto_ap50_real: round(real.auto_ap50, 3),
      auto_mean_matched_iou_real: round(real.auto_mean_matched_iou, 3),
      n_images_real: real.n_images,
      n_objects_real: real.n_objects,
      eval_seconds_real: round(real.seconds, 1),
    })
  }
  await segmenter.release()
  return results
}
