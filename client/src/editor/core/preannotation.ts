// When an open image gets the current version's automatic proposals as suggestions: the
// project asks for it, the image is not finished, it was opened through Next (the person holds
// its claim) or carries an older version's suggestions, and the document holds no suggestion of
// the current version yet (pending or accepted; rejected ones are deleted, so a browser also
// remembers where it already ran). Pure: the editor's suggest() does the writing.
import type { AnnotationRecord } from '../../../../shared/schemas/annotation.ts'
import type { ImageStatus } from '../../../../shared/schemas/images.ts'
import { isSuggestion } from './provenance.ts'

export interface PreannotationInput {
  /** The project's pre-annotation setting. */
  enabled: boolean
  readOnly: boolean
  status: ImageStatus
  /** The version the editor's assist uses now (null while none is installed). */
  version: string | null
  annotations: readonly Pick<AnnotationRecord, 'origin'>[]
  /** Whether the person holds the image's claim (they got it from Next). */
  claimedByMe: boolean
  /** The version this browser already pre-annotated the image with, if any. */
  alreadyRan: string | null
}

/** Finished images are left as people left them. */
const FINISHED: readonly ImageStatus[] = ['done', 'reviewed']

/** The versions whose suggestions (pending or decided) the document holds. */
export function suggestionVersions(annotations: readonly Pick<AnnotationRecord, 'origin'>[]) {
  const versions = new Set<string>()
  for (const a of annotations)
    if (isSuggestion(a) && a.origin.type === 'model') versions.add(a.origin.modelVersion)
  return versions
}

export function needsPreannotation(input: PreannotationInput): boolean {
  const { version } = input
  if (!input.enabled || input.readOnly || version === null) return false
  if (FINISHED.includes(input.status)) return false
  if (input.alreadyRan === version) return false
  const versions = suggestionVersions(input.annotations)
  if (versions.has(version)) return false
  // Opened through Next, or its suggestions are older than the current version.
  return input.claimedByMe || versions.size > 0
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`

/** The editor's line on it: 'Pre-annotating with v1…', then '12 suggestions from v1'. */
export function describePreannotation(state: {
  phase: 'running' | 'done' | 'failed'
  version: string
  added?: number
  error?: string
}): string {
  if (state.phase === 'running') return `Pre-annotating with ${state.version}…`
  if (state.phase === 'failed') return `Pre-annotation with ${state.version} failed: ${state.error}`
  return `${plural(state.added ?? 0, 'suggestion')} from ${state.version}`
}
