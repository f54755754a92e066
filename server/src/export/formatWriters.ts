// How each export format lays out its archive, over the pure writers of shared/formats: COCO is
// one JSON entry streamed image by image; the others write files per image and a few files for
// the whole dataset at the end. The layouts are listed in the README ("Datasets").

import { cocoAnnotations, cocoCategories, cocoImage } from '../../../shared/formats/coco.ts'
import type { ClassTable, ConversionReport } from '../../../shared/formats/dataset.ts'
import { geojsonFeatureCollection } from '../../../shared/formats/geojson.ts'
import { labelImagesFor, labelMapJson } from '../../../shared/formats/labelMask.ts'
import { vocXml } from '../../../shared/formats/voc.ts'
import { yoloDataYaml, yoloLabelFile } from '../../../shared/formats/yolo.ts'
import type { AnnotationRecord } from '../../../shared/schemas/annotation.ts'
import type { ExportFormat } from '../../../shared/schemas/datasets.ts'
import type { ExportImage } from './datasetExport.ts'
import { encodeLabelPng, encodeLabelTiff } from './labelImageFiles.ts'
import type { WriteChunk, ZipWriter } from './ZipWriter.ts'

/** One JSON (or text) entry for the whole dataset, written as images are read. */
export interface SingleFileWriter {
  kind: 'single-file'
  path: string
  imagesFolder: string
  begin(write: WriteChunk, images: readonly ExportImage[]): Promise<void>
  addImage(item: ExportImage, annotations: AnnotationRecord[], write: WriteChunk): Promise<void>
  end(write: WriteChunk): Promise<void>
}

/** Files per image, then dataset-wide files. */
export interface PerImageWriter {
  kind: 'per-image'
  imagesFolder: string
  addImage(item: ExportImage, annotations: AnnotationRecord[], zip: ZipWriter): Promise<void>
  finish(zip: ZipWriter, images: readonly ExportImage[]): Promise<void>
}

export type FormatWriter = SingleFileWriter | PerImageWriter

/** Annotations are joined into chunks of about this many characters before they are written. */
const CHUNK_CHARS = 256 * 1024

function cocoWriter(table: ClassTable, report: ConversionReport): SingleFileWriter {
  let nextAnnotationId = 1
  let first = true
  let pending = ''
  return {
    kind: 'single-file',
    path: 'annotations/instances.json',
    imagesFolder: 'images',
    async begin(write, images) {
      const info = {
        description: 'Exported by Tessera',
        version: '1.0',
        date_created: new Date().toISOString(),
      }
      // Images and categories first: all known before any document is read.
      const imageEntries = images.map((item) =>
        JSON.stringify(cocoImage(item.image, item.image.id)),
      )
      await write(
        `{"info":${JSON.stringify(info)},"licenses":[],"categories":${JSON.stringify(cocoCategories(table))},"images":[\n${imageEntries.join(',\n')}\n],"annotations":[\n`,
      )
    },
    async addImage(item, annotations, write) {
      const entries = cocoAnnotations(
        item.image,
        item.image.id,
        annotations,
        table,
        nextAnnotationId,
        report,
      )
      nextAnnotationId += entries.length
      for (const entry of entries) {
        pending += (first ? '' : ',\n') + JSON.stringify(entry)
        first = false
      }
      if (pending.length >= CHUNK_CHARS) {
        await write(pending)
        pending = ''
      }
    },
    async end(write) {
      await write(`${pending}\n]}\n`)
      pending = ''
    },
  }
}

function yoloWriter(
  table: ClassTable,
  report: ConversionReport,
  task: 'detect' | 'segment',
): PerImageWriter {
  return {
    kind: 'per-image',
    imagesFolder: 'images',
    async addImage(item, annotations, zip) {
      await zip.file(
        `labels/${item.image.stem}.txt`,
        yoloLabelFile(item.image, annotations, table, task, report),
      )
    },
    async finish(zip) {
      await zip.file('data.yaml', yoloDataYaml(table, task))
    },
  }
}

function vocWriter(table: ClassTable, report: ConversionReport): PerImageWriter {
  return {
    kind: 'per-image',
    imagesFolder: 'JPEGImages',
    async addImage(item, annotations, zip) {
      const xml = vocXml(item.image, annotations, table, report, {
        folder: 'JPEGImages',
        depth: item.row.channels,
      })
      await zip.file(`Annotations/${item.image.stem}.xml`, xml)
    },
    async finish(zip, images) {
      await zip.file(
        'ImageSets/Main/default.txt',
        images.map((item) => `${item.image.stem}\n`).join(''),
      )
      await zip.file('labels.txt', table.classes.map((c) => `${c.name}\n`).join(''))
    },
  }
}

function maskWriter(table: ClassTable, report: ConversionReport): PerImageWriter {
  return {
    kind: 'per-image',
    imagesFolder: 'images',
    async addImage(item, annotations, zip) {
      const { width, height, stem } = item.image
      const { instances, classes } = labelImagesFor(item.image, annotations, table, report)
      // PNG deflates already; the TIFF is stored uncompressed and compressed by the archive.
      await zip.file(`instances/${stem}.png`, await encodeLabelPng(instances, width, height), {
        compress: false,
      })
      await zip.file(`instances/${stem}.tif`, await encodeLabelTiff(instances, width, height))
      await zip.file(`classes/${stem}.png`, await encodeLabelPng(classes, width, height), {
        compress: false,
      })
    },
    async finish(zip) {
      await zip.file('labelmap.json', labelMapJson(table))
    },
  }
}

function geojsonWriter(table: ClassTable, report: ConversionReport): PerImageWriter {
  return {
    kind: 'per-image',
    imagesFolder: 'images',
    async addImage(item, annotations, zip) {
      const collection = geojsonFeatureCollection(item.image, annotations, table, report)
      await zip.file(`geojson/${item.image.stem}.geojson`, JSON.stringify(collection))
    },
    async finish() {},
  }
}

export function formatWriter(
  format: ExportFormat,
  table: ClassTable,
  report: ConversionReport,
): FormatWriter {
  switch (format) {
    case 'coco':
      return cocoWriter(table, report)
    case 'yolo-detect':
      return yoloWriter(table, report, 'detect')
    case 'yolo-segment':
      return yoloWriter(table, report, 'segment')
    case 'voc':
      return vocWriter(table, report)
    case 'masks':
      return maskWriter(table, report)
    case 'geojson':
      return geojsonWriter(table, report)
  }
}
