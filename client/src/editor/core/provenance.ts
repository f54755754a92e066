// Where an annotation came from, as the editor tells it apart: a person's drawing, a model's
// suggestion (automatic, pending until someone answers it) or a click-tool mask (a person's
// object that a model version drew from their clicks). Pure; never reads or writes a document.
import { isAutomaticSuggestion } from '../../../../shared/doc/index.ts'
import type { AnnotationOrigin, AnnotationRecord } from '../../../../shared/schemas/annotation.ts'

type ModelOrigin = Extract<AnnotationOrigin, { type: 'model' }>

/** A model's own proposal (Auto, pre-annotation): the only kind that waits for an answer. */
export const isSuggestion = (a: Pick<AnnotationRecord, 'origin'>) => isAutomaticSuggestion(a.origin)

/** A mask a person made with the click tool (the model version drew it from their clicks). */
export const isClickMask = (a: Pick<AnnotationRecord, 'origin'>) =>
  a.origin.type === 'model' && a.origin.clicks !== undefined

/**
 * The origin of a click-tool mask. The click decoder gives no confidence of its own; the person
 * saw the mask and pressed Enter, so it goes in as certain (score 1).
 */
export const clickOrigin = (modelVersion: string, clicks: number): ModelOrigin => ({
  type: 'model',
  modelVersion,
  score: 1,
  clicks: Math.max(1, Math.round(clicks)),
})

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`

/** 'Mask from v1 · 3 clicks' (the click tool's object while it is made, and once it is kept). */
export const describeClickMask = (modelVersion: string, clicks: number) =>
  `Mask from ${modelVersion} · ${plural(clicks, 'click')}`

/** How the annotation list names a model origin; null for a person's drawing. */
export function describeOrigin(origin: AnnotationOrigin): string | null {
  if (origin.type !== 'model') return null
  if (origin.clicks !== undefined) return describeClickMask(origin.modelVersion, origin.clicks)
  return `${origin.modelVersion} ${(origin.score * 100).toFixed(0)}%`
}
