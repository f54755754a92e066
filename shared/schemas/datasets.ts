// Dataset export and import over the API: which format, which annotations, and what an import
// found (the dry run) or did (the commit). Checked by zod at the server's edge; the client's
// dialogs and the CLI build the same objects.
import { z } from 'zod'
import { ReviewDecision } from './annotation.ts'
import { ImageStatus } from './images.ts'

export const ExportFormat = z.enum([
  'coco',
  'yolo-detect',
  'yolo-segment',
  'voc',
  'masks',
  'geojson',
])
export type ExportFormat = z.infer<typeof ExportFormat>

export const EXPORT_FORMAT_LABELS: Record<ExportFormat, string> = {
  coco: 'COCO instances (JSON)',
  'yolo-detect': 'YOLO detection',
  'yolo-segment': 'YOLO segmentation',
  voc: 'Pascal VOC (boxes)',
  masks: 'Label images (16-bit PNG and TIFF)',
  geojson: 'GeoJSON (QuPath)',
}

export const AnnotationOriginType = z.enum(['human', 'model'])
export type AnnotationOriginType = z.infer<typeof AnnotationOriginType>

/** A comma-separated query value as a list ('done,reviewed'); absent or empty = no filter. */
const listParam = <T extends z.ZodType<unknown, string>>(item: T) =>
  z
    .union([z.string(), z.array(z.string())])
    .optional()
    .transform((v) =>
      v === undefined ? undefined : (Array.isArray(v) ? v.join(',') : v).split(',').filter(Boolean),
    )
    .pipe(z.array(item).optional())

/** What an export holds (the query of GET /api/projects/:id/export). */
export const ExportQuery = z.object({
  format: ExportFormat,
  /** Only images in these states; all images when absent. */
  status: listParam(ImageStatus),
  /** Only annotations of these project classes ('none' for annotations without a class). */
  classes: listParam(
    z.union([z.literal('none'), z.string().regex(/^\d+$/, 'a class id').transform(Number)]),
  ),
  /** Only annotations with these review decisions; accepted only when absent (see README). */
  review: listParam(ReviewDecision),
  /** Only annotations a person made ('human') or a model suggested ('model'). */
  origin: listParam(AnnotationOriginType),
  /** Put the original image files in the archive too. */
  images: z
    .enum(['true', 'false', '1', '0'])
    .optional()
    .transform((v) => v === 'true' || v === '1'),
  /** A random id chosen by the caller: progress is published as 'export-progress' events. */
  progress: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/)
    .optional(),
})
export type ExportQuery = z.infer<typeof ExportQuery>

/** The filters alone (the preview's query): the format may be given and changes nothing. */
export const ExportFilterQuery = ExportQuery.extend({ format: ExportFormat.optional() })
export type ExportFilterQuery = z.infer<typeof ExportFilterQuery>

/** What the export will hold, before it runs (GET /api/projects/:id/export/preview). */
export const ExportPreview = z.object({ images: z.number().int(), annotations: z.number().int() })
export type ExportPreview = z.infer<typeof ExportPreview>

export const ImportFormat = z.enum(['auto', 'coco', 'yolo', 'masks', 'geojson', 'voc'])
export type ImportFormat = z.infer<typeof ImportFormat>

/** What to do with a class the file names and the project lacks (or maps elsewhere). */
export const ClassMapping = z.discriminatedUnion('action', [
  z.object({ action: z.literal('create') }),
  z.object({ action: z.literal('map'), classId: z.number().int() }),
  z.object({ action: z.literal('none') }),
])
export type ClassMapping = z.infer<typeof ClassMapping>

/** The options of POST /api/projects/:id/import (the multipart field "options", JSON). */
export const ImportOptions = z.object({
  format: ImportFormat.default('auto'),
  /** Report what would happen and change nothing. */
  dryRun: z.boolean().default(true),
  /** Import as people's annotations (accepted) or as model suggestions (pending review). */
  as: z.enum(['annotations', 'suggestions']).default('annotations'),
  /** Per class name in the file: created when absent from the project unless mapped here. */
  classMap: z.record(z.string(), ClassMapping).default({}),
  /** Label images only: import each object as a polygon (editable) or as a raster mask. */
  labelsAs: z.enum(['polygon', 'mask']).default('polygon'),
})
export type ImportOptions = z.infer<typeof ImportOptions>

export const ImportImageMatch = z.object({
  fileName: z.string(),
  /** The project image it goes into; null for an image the archive brings (created on commit). */
  imageId: z.number().int().nullable(),
  matchedBy: z.enum(['name', 'sha256', 'new']).nullable(),
  annotations: z.number().int(),
})
export type ImportImageMatch = z.infer<typeof ImportImageMatch>

export const ImportReport = z.object({
  format: ImportFormat.exclude(['auto']),
  dryRun: z.boolean(),
  committed: z.boolean(),
  /** Images the annotations go into: existing ones and those the archive brings. */
  matched: z.array(ImportImageMatch),
  /** Images the file annotates that neither the project nor the archive has: not imported. */
  unmatched: z.array(z.object({ fileName: z.string(), annotations: z.number().int() })),
  classes: z.array(
    z.object({
      name: z.string(),
      /** The project class it maps to (null: created on commit, or no class). */
      classId: z.number().int().nullable(),
      action: z.enum(['existing', 'create', 'map', 'none']),
      annotations: z.number().int(),
    }),
  ),
  /** Problems that stop the commit (invalid geometry, bad ids, unsafe entries…). */
  problems: z.array(z.object({ source: z.string(), message: z.string() })),
  converted: z.record(z.string(), z.number()),
  counts: z.object({
    annotations: z.number().int(),
    images: z.number().int(),
    newImages: z.number().int(),
    newClasses: z.number().int(),
  }),
})
export type ImportReport = z.infer<typeof ImportReport>
