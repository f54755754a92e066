// Chooses the automatic head's post-processing thresholds (card.proposals) for a model version
// by grid search on labelled images that were used for training (never the held-out ones), and
// writes them into its card with what was measured. The proposals then follow the data the
// model learnt from rather than the trainer's defaults; held-out images stay a fair test.
import { createHash } from 'node:crypto'
import { matchInstances } from '../../../shared/ml/metrics.ts'
import {
  type HeadLogits,
  type ProposalOptions,
  proposeInstances,
} from '../../../shared/ml/proposals.ts'
import type { Segmenter } from '../../../shared/ml/segmenter.ts'
import { encodeLabelledImage } from './evaluateModel.ts'
import type { LabelledImage } from './labelledFolder.ts'

export const HELD_OUT_SALT = 'tessera-held-out-v1:'
export const HELD_OUT_FRACTION = 0.2

/** The trainer's held-out rule (card.training.data.heldOutRule): a fixed fifth of the ids. */
export function isHeldOut(id: string): boolean {
  const digest = createHash('sha256').update(`${HELD_OUT_SALT}${id}`).digest('hex')
  return Number.parseInt(digest.slice(0, 8), 16) / 2 ** 32 < HELD_OUT_FRACTION
}

export const PROPOSAL_GRID = {
  foregroundThreshold: [0.4, 0.5, 0.6],
  seedThreshold: [0.3, 0.4, 0.5, 0.6, 0.7],
  minSeedArea: [3, 8, 16, 32],
  minArea: [8, 16, 32, 48],
}

interface Head {
  head: HeadLogits
  labels: Uint32Array
}

/** The automatic head's logits of each image (one encoder pass each). */
export async function encodeHeads(
  segmenter: Segmenter,
  images: AsyncIterable<LabelledImage> | Iterable<LabelledImage>,
): Promise<Head[]> {
  const heads: Head[] = []
  for await (const image of images) {
    const encoded = await encodeLabelledImage(segmenter, image)
    heads.push({ labels: image.labels, head: segmenter.headOf(encoded) })
  }
  return heads
}

/** Mean AP at IoU 0.5 (TP / (TP + FP + FN) per image) of the proposals with these options. */
export function proposalAp50(heads: Head[], options: ProposalOptions): number {
  let sum = 0
  for (const { head, labels } of heads)
    sum += matchInstances(labels, proposeInstances(head, options).labels, 0.5).averagePrecision
  return heads.length ? sum / heads.length : 0
}

/** The grid point with the best mean AP50 (ties: the first in grid order). */
export function bestProposalOptions(heads: Head[]): { options: ProposalOptions; ap50: number } {
  let best: { options: ProposalOptions; ap50: number } | null = null
  for (const foregroundThreshold of PROPOSAL_GRID.foregroundThreshold)
    for (const seedThreshold of PROPOSAL_GRID.seedThreshold)
      for (const minSeedArea of PROPOSAL_GRID.minSeedArea)
        for (const minArea of PROPOSAL_GRID.minArea) {
          const options = { foregroundThreshold, seedThreshold, minSeedArea, minArea }
          const ap50 = proposalAp50(heads, options)
          if (!best || ap50 > best.ap50) best = { options, ap50 }
        }
  return best!
}
