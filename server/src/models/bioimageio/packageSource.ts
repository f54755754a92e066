// What a bioimage.io package is made from: the version's card and files and the facts about it
// the server knows (project, parent, who triggered it), plus the choices the package states
// (licence, citations). Plain data shared by rdf.ts, readme.ts and bioimageioPackage.ts.
import type { ModelCard } from '../../../../shared/schemas/modelCard.ts'

export interface PackageSource {
  project: { id: number; name: string }
  version: {
    id: number
    name: string
    /** ISO 8601; the description's timestamp. */
    createdAt: string
    /** null for a base version (shipped with the app, shared by every project). */
    projectId: number | null
    parent: { id: number; name: string } | null
    /** The user who started the training job, when one did. */
    triggeredBy: string | null
    jobId: number | null
    trainingSet: { images: number; objects: number; hash: string | null }
    /** The server's evaluation of the version (validation against its base), when it has one. */
    metrics: Record<string, unknown>
  }
  card: ModelCard
}

/** A file of the package as the description refers to it. */
export interface FileReference {
  source: string
  sha256: string
}

/**
 * The licence the packages declare (an SPDX id). The repository declares none; MIT is what the
 * bioimage.io example uses, and the base model's training data (DSB2018, BBBC038) is CC0.
 */
export const MODEL_LICENSE = 'MIT'

/** Citations every package carries: the base model's training data and the click protocol. */
export const CITATIONS = [
  {
    text: 'Caicedo, J. C. et al. Nucleus segmentation across imaging experiments: the 2018 Data Science Bowl. Nature Methods 16, 1247-1253 (2019). Real training images of the base model (BBBC038, CC0).',
    doi: '10.1038/s41592-019-0612-7',
  },
  {
    text: 'BBBC038v1, Broad Bioimage Benchmark Collection: the 2018 Data Science Bowl stage 1 training set, used in the community-corrected copy kaggle-dsbowl-2018-dataset-fixes.',
    url: 'https://bbbc.broadinstitute.org/BBBC038',
  },
  {
    text: 'Sofiiuk, K., Petrov, I. A., Konushin, A. Reviving iterative training with mask guidance for interactive segmentation (RITM). The simulated-click protocol of the click metrics (NoC85, NoC90).',
    url: 'https://arxiv.org/abs/2102.06583',
  },
] as const

/** The version's timestamp as ISO 8601 with an explicit offset, to the second. */
export function isoTimestamp(createdAt: string): string {
  const time = Date.parse(createdAt)
  if (Number.isNaN(time)) throw new Error(`The version's creation time ${createdAt} is not a date`)
  return new Date(time).toISOString().replace(/\.\d{3}Z$/, '+00:00')
}

/** A field of the card that the schema keeps but does not type (passthrough), if it is a record. */
export function cardRecord(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {}
}

/** The card's task as a sentence (capitalised, full stop, trailing space), or '' without one. */
export function taskSentence(task: unknown): string {
  if (typeof task !== 'string' || task.trim() === '') return ''
  const text = task.trim()
  return `${text[0].toUpperCase()}${text.slice(1)}${/[.!?]$/.test(text) ? '' : '.'} `
}
