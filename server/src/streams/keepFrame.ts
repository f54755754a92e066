// Keep: a held frame becomes an image of the project (its samples as a TIFF, dtype kept, through
// the same ingest as any upload) with its detections as model suggestions, so it enters the
// labelling and training loop. One image per frame: a frame kept twice returns the same image.
import { createAnnotation, modelOrigin } from '../../../shared/doc/index.ts'
import { maskToPolygons } from '../../../shared/geometry/maskToPolygons.ts'
import type { FrameObject } from '../../../shared/schemas/streams.ts'
import type { AppContext } from '../app.ts'
import type { CollabServer } from '../collab/collabServer.ts'
import { HttpError } from '../http/HttpError.ts'
import { encodeTiff, type TiffSamples } from '../images/encodeTiff.ts'
import { getImageRow } from '../images/imageRecords.ts'
import { ingestImages } from '../images/ingestImages.ts'
import type { HeldFrame } from './liveStream.ts'
import type { StreamHub } from './StreamHub.ts'
import { keptImageOf, recordKeptFrame, type StreamRecord } from './streamRecords.ts'

export interface KeptFrameResult {
  imageId: number
  created: boolean
  suggestions: number
}

/** Keeps in progress, so that two Keeps of one frame at once make one image. */
const inProgress = new WeakMap<StreamHub, Map<string, Promise<KeptFrameResult>>>()

export function keepFrame(
  context: AppContext,
  collab: Pick<CollabServer, 'transact'>,
  hub: StreamHub,
  stream: StreamRecord,
  frame: HeldFrame,
  userId: number | null,
): Promise<KeptFrameResult> {
  const { seriesId, frame: number } = frame.summary
  const key = `${stream.id}/${String(seriesId)}/${number}`
  let running = inProgress.get(hub)
  if (!running) {
    running = new Map()
    inProgress.set(hub, running)
  }
  const existing = running.get(key)
  if (existing) return existing.then((result) => ({ ...result, created: false }))
  const promise = storeFrame(context, collab, hub, stream, frame, userId).finally(() =>
    running.delete(key),
  )
  running.set(key, promise)
  return promise
}

async function storeFrame(
  context: AppContext,
  collab: Pick<CollabServer, 'transact'>,
  hub: StreamHub,
  stream: StreamRecord,
  frame: HeldFrame,
  userId: number | null,
): Promise<KeptFrameResult> {
  const { db } = context
  const { summary } = frame
  const kept = keptImageOf(db, stream.id, summary.seriesId, summary.frame)
  if (kept !== null) return { imageId: kept, created: false, suggestions: 0 }
  const tiff = encodeTiff(
    [
      {
        width: summary.width,
        height: summary.height,
        channels: frame.channels,
        samples: tiffSamples(frame.samples),
      },
    ],
    { compression: 'deflate' },
  )
  const name = `${stream.name} s${String(summary.seriesId)} f${summary.frame}.tif`
  const upload = await ingestImages(context, {
    projectId: stream.projectId,
    // Null for a frame kept automatically whose token's creator is gone (images allow it).
    userId,
    files: [{ name, bytes: tiff }],
  })
  const info = upload.images[0]
  if (!info) throw new HttpError(500, 'The frame was not stored as an image')
  // Bytes the project had already (an identical frame): that image, without new suggestions.
  const fresh = upload.duplicates.length === 0
  let suggestions = 0
  if (fresh) {
    const row = getImageRow(db, stream.projectId, info.id)
    const versionName = summary.modelVersion.name
    const origin = modelOrigin(versionName)
    collab.transact(
      { imageId: row.id, projectId: stream.projectId, image: row },
      (doc) => {
        for (const object of frame.objects) {
          for (const polygon of objectPolygons(object, frame.labels, summary.width)) {
            createAnnotation(
              doc,
              {
                kind: 'polygon',
                geometry: polygon,
                classId: null,
                origin: { type: 'model', modelVersion: versionName, score: clamp(object.score) },
              },
              origin,
              row,
            )
            suggestions++
          }
        }
      },
      origin,
    )
  }
  recordKeptFrame(db, stream.id, summary.seriesId, summary.frame, info.id)
  hub.markKept(stream.id, summary.seriesId, summary.frame, info.id)
  context.log.info(
    `stream ${stream.id}: frame ${summary.frame} of series ${String(summary.seriesId)} kept as image ${info.id} with ${suggestions} suggestions`,
  )
  return { imageId: info.id, created: true, suggestions }
}

/** The object's outline(s) from the label image, within its box; tiny slivers are left out. */
function objectPolygons(object: FrameObject, labels: Uint32Array, width: number) {
  const x0 = Math.max(0, Math.floor(object.bbox.x))
  const y0 = Math.max(0, Math.floor(object.bbox.y))
  const height = labels.length / width
  const x1 = Math.min(width, Math.ceil(object.bbox.x + object.bbox.width))
  const y1 = Math.min(height, Math.ceil(object.bbox.y + object.bbox.height))
  const w = x1 - x0
  const h = y1 - y0
  if (w <= 0 || h <= 0) return []
  const mask = new Uint8Array(w * h)
  for (let y = 0; y < h; y++) {
    const row = (y0 + y) * width + x0
    for (let x = 0; x < w; x++) if (labels[row + x] === object.id) mask[y * w + x] = 1
  }
  return maskToPolygons(mask, w, h, { originX: x0, originY: y0, tolerance: 0.5 }).filter(
    (polygon) => polygon.rings[0] && polygon.rings[0].length >= 6,
  )
}

/** TIFF keeps uint8, uint16 and float32; uint32 samples go as float32 (exact up to 2^24). */
function tiffSamples(samples: HeldFrame['samples']): TiffSamples {
  return samples instanceof Uint32Array ? Float32Array.from(samples) : samples
}

const clamp = (score: number) => (Number.isFinite(score) ? Math.min(1, Math.max(0, score)) : 1)
