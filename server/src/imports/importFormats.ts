// Which dataset format an import archive holds, and reading it with the pure readers of
// shared/formats: the archive's layout decides the format ('auto'), each reader turns its files
// into images with annotations, naming every problem by entry. Sizes that a format leaves out
// (YOLO's normalised coordinates) come from the images the annotations go into.

import { readCoco } from '../../../shared/formats/coco.ts'
import {
  emptyDataset,
  fileStem,
  type ImportedDataset,
  type ImportedImage,
} from '../../../shared/formats/dataset.ts'
import { readGeojson } from '../../../shared/formats/geojson.ts'
import { readLabelImages, readLabelMap } from '../../../shared/formats/labelMask.ts'
import { readVoc } from '../../../shared/formats/voc.ts'
import { readYolo } from '../../../shared/formats/yolo.ts'
import type { ImportFormat, ImportOptions } from '../../../shared/schemas/datasets.ts'
import { decodeLabelImage } from '../export/labelImageFiles.ts'
import { HttpError } from '../http/HttpError.ts'
import type { ArchiveEntry, ImportArchive } from './ImportArchive.ts'

export type DatasetFormat = Exclude<ImportFormat, 'auto'>

const IMAGE_FILE = /\.(png|jpe?g|tiff?)$/i
/** Folders of label images: Tessera's own, and the names napari, Cellpose and StarDist users use. */
const LABEL_IMAGE = /(^|\/)(instances|labels|masks)\/([^/]+)\.(png|tiff?)$/i
const LABEL_FOLDERS = /^(?:.*\/)?(instances|classes|labels|masks)\/[^/]+$/i
/** Suffixes label files carry after the image's stem (Cellpose writes <image>_masks.png). */
const LABEL_SUFFIX = /[_-](masks?|labels?|instances?|cp_masks)$/i
/** Files a Tessera export adds that are no annotations. */
const BOOKKEEPING = /^(manifest|labelmap)\.json$/i

const baseName = (path: string) => path.split('/').pop() ?? path

/** Original images the archive brings: image files outside the label-image folders. */
export function archiveImages(archive: ImportArchive): ArchiveEntry[] {
  return archive.entries.filter((e) => IMAGE_FILE.test(e.path) && !LABEL_FOLDERS.test(e.path))
}

const jsonEntries = (archive: ImportArchive) =>
  archive.entries.filter((e) => /\.json$/i.test(e.path) && !BOOKKEEPING.test(baseName(e.path)))

export async function detectFormat(archive: ImportArchive): Promise<DatasetFormat> {
  const paths = archive.entries.map((e) => e.path)
  if (paths.some((p) => /\.geojson$/i.test(p))) return 'geojson'
  if (paths.some((p) => LABEL_IMAGE.test(p))) return 'masks'
  if (paths.some((p) => /(^|\/)data\.ya?ml$/i.test(p) || /(^|\/)labels\/[^/]+\.txt$/i.test(p)))
    return 'yolo'
  if (paths.some((p) => /\.xml$/i.test(p))) return 'voc'
  for (const entry of jsonEntries(archive)) {
    const json = parseJson(await archive.read(entry), entry.path)
    if (Array.isArray(json) || ['FeatureCollection', 'Feature'].includes(json?.type))
      return 'geojson'
    if (json && typeof json === 'object' && 'annotations' in json) return 'coco'
  }
  throw new HttpError(
    400,
    'Cannot tell the format of this archive: expected a COCO JSON, YOLO labels/*.txt with data.yaml, Pascal VOC .xml files, label images in instances/, labels/ or masks/, or GeoJSON files',
  )
}

// biome-ignore lint/suspicious/noExplicitAny: JSON of unknown shape, checked by the readers
function parseJson(bytes: Buffer, path: string): any {
  try {
    return JSON.parse(bytes.toString('utf8'))
  } catch (error) {
    throw new HttpError(400, `${path} is not valid JSON: ${(error as Error).message}`)
  }
}

/** Size of the image a label file belongs to, found by stem (YOLO needs it to read at all). */
export type SizeOfStem = (
  stem: string,
) => Promise<{ fileName: string; width: number; height: number } | null>

function merge(
  into: ImportedDataset,
  part: { problems?: ImportedDataset['problems']; converted?: Record<string, number> },
) {
  into.problems.push(...(part.problems ?? []))
  for (const [reason, n] of Object.entries(part.converted ?? {}))
    into.converted[reason] = (into.converted[reason] ?? 0) + n
}

function addClasses(into: ImportedDataset, classes: { name: string; color?: string }[]) {
  for (const c of classes) if (!into.classes.some((k) => k.name === c.name)) into.classes.push(c)
}

export async function readImportedDataset(
  archive: ImportArchive,
  format: DatasetFormat,
  options: ImportOptions,
  sizeOfStem: SizeOfStem,
): Promise<ImportedDataset> {
  const dataset = emptyDataset()
  switch (format) {
    case 'coco': {
      const entries = jsonEntries(archive)
      if (entries.length === 0) throw new HttpError(400, 'No COCO JSON file in the archive')
      for (const entry of entries) {
        const part = readCoco(parseJson(await archive.read(entry), entry.path), entry.path)
        dataset.images.push(...part.images)
        addClasses(dataset, part.classes)
        merge(dataset, part)
      }
      break
    }
    case 'geojson': {
      const entries = archive.entries.filter(
        (e) => /\.(geo)?json$/i.test(e.path) && !BOOKKEEPING.test(baseName(e.path)),
      )
      for (const entry of entries) {
        const stem = fileStem(entry.path)
        const image = await sizeOfStem(stem)
        const part = readGeojson(
          parseJson(await archive.read(entry), entry.path),
          entry.path,
          image?.fileName ?? stem,
        )
        dataset.images.push(part.image)
        addClasses(dataset, part.classes)
        merge(dataset, part)
      }
      break
    }
    case 'voc': {
      for (const entry of archive.entries.filter((e) => /\.xml$/i.test(e.path))) {
        const part = readVoc((await archive.read(entry)).toString('utf8'), entry.path)
        if (part.image) {
          dataset.images.push(part.image)
          addClasses(
            dataset,
            [
              ...new Set(
                part.image.annotations
                  .map((a) => a.className)
                  .filter((n): n is string => n !== null),
              ),
            ].map((name) => ({ name })),
          )
        }
        merge(dataset, part)
      }
      break
    }
    case 'yolo': {
      const yaml = archive.entries.find((e) => /(^|\/)data\.ya?ml$/i.test(e.path))
      const labelEntries = archive.entries.filter(
        (e) => /\.txt$/i.test(e.path) && /(^|\/)labels\//i.test(e.path),
      )
      const labelFiles: { path: string; text: string }[] = []
      const images: { fileName: string; width: number; height: number }[] = []
      for (const entry of labelEntries) {
        const text = (await archive.read(entry)).toString('utf8')
        const image = await sizeOfStem(fileStem(entry.path))
        if (image) {
          images.push(image)
          labelFiles.push({ path: entry.path, text })
        } else {
          // Normalised coordinates cannot be read without the image's size: reported as an
          // image the import does not have, like any format's unmatched image.
          const objects = text.split('\n').filter((line) => line.trim() !== '').length
          dataset.unmatched.push({ fileName: fileStem(entry.path), annotations: objects })
        }
      }
      const part = readYolo({
        dataYaml: yaml ? (await archive.read(yaml)).toString('utf8') : undefined,
        labelFiles,
        images,
      })
      dataset.images.push(...part.images)
      addClasses(dataset, part.classes)
      merge(dataset, part)
      break
    }
    case 'masks': {
      const labelMap = archive.entries.find((e) => /(^|\/)labelmap\.json$/i.test(e.path))
      const classNames = labelMap
        ? readLabelMap(parseJson(await archive.read(labelMap), labelMap.path))
        : new Map<number, string>()
      const instanceFiles = new Map<string, ArchiveEntry>()
      for (const entry of archive.entries) {
        const match = LABEL_IMAGE.exec(entry.path)
        // One per stem: the PNG when the export wrote both.
        if (match && (!instanceFiles.has(match[3]) || /\.png$/i.test(entry.path)))
          instanceFiles.set(match[3], entry)
      }
      for (const [stem, entry] of instanceFiles) {
        const image = (await sizeOfStem(stem)) ?? (await sizeOfStem(stem.replace(LABEL_SUFFIX, '')))
        let decoded: Awaited<ReturnType<typeof decodeLabelImage>>
        let classes: Uint16Array | undefined
        const classEntry = archive.entries.find((e) =>
          new RegExp(`(^|/)classes/${escapeRegExp(stem)}\\.(png|tiff?)$`, 'i').test(e.path),
        )
        try {
          decoded = await decodeLabelImage(await archive.read(entry))
          if (classEntry) classes = (await decodeLabelImage(await archive.read(classEntry))).labels
        } catch (error) {
          if (error instanceof HttpError) throw error
          dataset.problems.push({ source: entry.path, message: (error as Error).message })
          continue
        }
        const part = readLabelImages(
          {
            fileName: image?.fileName ?? stem,
            width: decoded.width,
            height: decoded.height,
            instances: decoded.labels,
            classes,
            classNames,
          },
          { as: options.labelsAs },
          entry.path,
        )
        dataset.images.push(part.image)
        merge(dataset, part)
      }
      addClasses(
        dataset,
        [...classNames.values()].map((name) => ({ name })),
      )
      break
    }
  }
  return dataset
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

export type { ImportedImage }
