import { describe, expect, it } from 'vitest'
import { maskIoU, matchInstances } from './metrics.ts'

describe('metrics', () => {
  it('computes mask IoU', () => {
    expect(maskIoU(Uint8Array.of(1, 1, 0, 0), Uint8Array.of(0, 1, 1, 0))).toBeCloseTo(1 / 3)
    expect(maskIoU(Uint8Array.of(0, 0), Uint8Array.of(0, 0))).toBe(1)
  })

  it('matches instances one to one and counts TP, FP and FN', () => {
    // Truth: objects 1 (4 px) and 2 (4 px). Prediction: 7 matches 1 exactly, 8 covers half of 2,
    // 9 is spurious.
    const truth = [1, 1, 1, 1, 2, 2, 2, 2, 0, 0]
    const predicted = [7, 7, 7, 7, 8, 8, 0, 0, 9, 9]
    const m = matchInstances(truth, predicted, 0.5)
    expect(m).toMatchObject({ truePositives: 1, falsePositives: 2, falseNegatives: 1 })
    expect(m.averagePrecision).toBeCloseTo(1 / 4)
    expect(m.meanMatchedIoU).toBe(1)
    // At a lower threshold the half-covered object matches too.
    const loose = matchInstances(truth, predicted, 0.4)
    expect(loose.truePositives).toBe(2)
    expect(loose.meanMatchedIoU).toBeCloseTo(0.75)
  })

  it('scores an empty prediction of an empty image as perfect', () => {
    expect(matchInstances([0, 0], [0, 0]).averagePrecision).toBe(1)
  })
})
