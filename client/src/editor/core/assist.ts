// What the editor needs from interactive segmentation, without knowing it runs in a worker: a
// mask for an object's clicks, and the automatic proposals in an area. The click tool and Auto
// use it; headless tests can give the editor one that runs the model in Node.
import type { Click } from '../../../../shared/ml/clickSimulation.ts'
import type { ObjectMask, ProposalShape, Rect } from '../../../../shared/ml/imageSession.ts'

/** A click's mask, with the version of the model that computed it. */
export interface AssistMask extends ObjectMask {
  modelVersion: string
}

export interface SegmentationAssist {
  /** Model version whose suggestions this produces. */
  readonly version: string
  click(objectKey: number, clicks: Click[]): Promise<AssistMask>
  forget(objectKey: number): void
  propose(area: Rect): Promise<ProposalShape[]>
}

/** The object being segmented by the click tool: its clicks and the latest mask. */
export interface AssistedObject {
  key: number
  clicks: Click[]
  /** The mask of the latest answered click and the version that computed it (null until the
   * first answer); after a version swap the old one stays until the new version answers. */
  result: AssistMask | null
  /** Clicks the latest result answers (fewer than clicks.length while one is running). */
  answered: number
  error?: string
}
