// What every dataset format reads and writes, in the app's own terms: images with their file
// names and sizes, the project's classes, annotation records as the document holds them, and a
// count of everything a format could not hold as it was (converted or skipped, never silent).
// Pure types and small helpers; formats live one per module beside this one (ARCHITECTURE 9).
import type { AnnotationKind, AnnotationRecord, Geometry } from '../schemas/annotation.ts'

/** An image as the formats see it. */
export interface DatasetImage {
  /** The project's image id; formats use it only as a key. */
  id: number
  /** The image's file name as stored in the project (and in the archive's images folder). */
  fileName: string
  /** A file-name stem unique in the export, for per-image files (labels/<stem>.txt). */
  stem: string
  width: number
  height: number
}

/** A class as the formats see it; `id` is the project's class id. */
export interface DatasetClass {
  id: number
  name: string
  /** '#rrggbb' */
  color: string
}

/**
 * Where annotations without a class go: formats that need a class for every object (COCO,
 * YOLO, VOC, class images, QuPath) write this one, listed after the project's classes.
 */
export const UNCLASSIFIED: DatasetClass = { id: 0, name: 'unclassified', color: '#808080' }

/**
 * The classes of an export in order: the project's classes by position, then UNCLASSIFIED.
 * Writers look an annotation's class up here; an unknown or null classId is UNCLASSIFIED.
 */
export class ClassTable {
  readonly classes: readonly DatasetClass[]
  private readonly byId = new Map<number, number>()
  constructor(projectClasses: readonly DatasetClass[]) {
    this.classes = [...projectClasses.filter((c) => c.id !== UNCLASSIFIED.id), UNCLASSIFIED]
    for (const [index, c] of this.classes.entries()) this.byId.set(c.id, index)
  }
  /** The 0-based index of an annotation's class (YOLO's class number). */
  indexOf(classId: number | null): number {
    return this.byId.get(classId ?? UNCLASSIFIED.id) ?? this.classes.length - 1
  }
  classOf(classId: number | null): DatasetClass {
    return this.classes[this.indexOf(classId)]
  }
}

/**
 * What an export converted or skipped, by reason (for example 'polygon with holes: outer ring
 * only'). Each format module names its reasons in its header; the manifest lists the counts.
 */
export interface ConversionReport {
  converted: Record<string, number>
  skipped: Record<string, number>
}

export const emptyReport = (): ConversionReport => ({ converted: {}, skipped: {} })

export function countConversion(
  report: ConversionReport,
  what: 'converted' | 'skipped',
  reason: string,
  n = 1,
) {
  report[what][reason] = (report[what][reason] ?? 0) + n
}

export function mergeReports(into: ConversionReport, from: ConversionReport): ConversionReport {
  for (const what of ['converted', 'skipped'] as const) {
    for (const [reason, n] of Object.entries(from[what])) countConversion(into, what, reason, n)
  }
  return into
}

/** One annotation of one image with its project class (what writers receive). */
export type DatasetAnnotation = AnnotationRecord

/** An annotation as a reader found it, before it is matched to a project image and class. */
export interface ImportedAnnotation {
  kind: AnnotationKind
  geometry: Geometry['geometry']
  /** The class name as the file gives it; null when it gives none. */
  className: string | null
  /** A confidence the file carries (COCO results), kept for model suggestions. */
  score?: number
  /** Where it came from, for messages: 'annotations/instances.json: annotations[12]'. */
  source: string
}

export interface ImportedImage {
  /** The image's file name as the file names it (matched to the project by name or sha256). */
  fileName: string
  /** The size the file states, when it states one (checked against the matched image). */
  width?: number
  height?: number
  annotations: ImportedAnnotation[]
}

/** Something in the input that stops the import, named by where it is. */
export interface ImportProblem {
  source: string
  message: string
}

export interface ImportedDataset {
  images: ImportedImage[]
  /** The classes the file declares, in its order (with colours when it has them). */
  classes: { name: string; color?: string }[]
  /** Problems that stop the import: the dry run lists them, the commit refuses. */
  problems: ImportProblem[]
  /** What the reader converted to fit the document model, by reason. */
  converted: Record<string, number>
  /** Files for images the reader could not find, left unread (YOLO needs an image's size). */
  unmatched: { fileName: string; annotations: number }[]
}

export const emptyDataset = (): ImportedDataset => ({
  images: [],
  classes: [],
  problems: [],
  converted: {},
  unmatched: [],
})

/** The file-name stem: the name without its folders and last extension. */
export function fileStem(fileName: string): string {
  const base = fileName.split(/[\\/]/).pop() ?? fileName
  const dot = base.lastIndexOf('.')
  return dot > 0 ? base.slice(0, dot) : base
}
