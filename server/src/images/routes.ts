// Routes for a project's images: upload, listing, metadata, thumbnail, display tiles, raw
// samples (for 16-bit window/level and model input) and deletion.
import { z } from 'zod'
import { ImageInfo, ImageList, UploadResult } from '../../../shared/schemas/images.ts'
import type { AppContext } from '../app.ts'
import type { ApiRouter } from '../http/ApiRouter.ts'
import { HttpError } from '../http/HttpError.ts'
import { readMultipartFiles } from '../http/readMultipartFiles.ts'
import { getImageRow, listImageRows, type StoredTiles, toImageInfo } from './imageRecords.ts'
import { deleteImage, ingestImages } from './ingestImages.ts'
import { BYTES_PER_SAMPLE } from './planUpload.ts'

const Id = z.coerce.number().int().positive()
const ProjectParams = z.object({ projectId: Id })
const ImageParams = ProjectParams.extend({ imageId: Id })
const TileParams = ImageParams.extend({
  column: z.coerce.number().int().min(0),
  row: z.coerce.number().int().min(0),
})
const Region = z.object({
  x: z.coerce.number().int().min(0).optional(),
  y: z.coerce.number().int().min(0).optional(),
  width: z.coerce.number().int().positive().optional(),
  height: z.coerce.number().int().positive().optional(),
})

const CACHE = 'private, max-age=86400'

export function registerImageRoutes(api: ApiRouter, context: AppContext): void {
  const { db, blobs, config } = context
  const tag = 'images'
  const base = '/api/projects/:projectId/images'

  api.route({
    method: 'post',
    path: base,
    summary: 'Upload PNG, JPEG or TIFF images (multipart field "files"); all or nothing',
    tag,
    auth: 'user',
    projectRole: 'annotator',
    params: ProjectParams,
    multipart: { fields: { files: 'One or more image files' } },
    response: UploadResult,
    status: 201,
    handler: async ({ params, principal, req, res }) => {
      const files = await readMultipartFiles(req, {
        maxFileBytes: config.maxUploadBytes,
        maxTotalBytes: config.maxUploadBytes,
        maxFiles: 1000,
      })
      try {
        return await ingestImages(context, {
          projectId: params.projectId,
          userId: principal!.userId,
          files: files.filter((f) => f.field === 'files'),
        })
      } catch (error) {
        // Every decode worker busy and the queue full: say when to come back.
        const retry = (error as HttpError).details as { retryAfterSeconds?: number } | undefined
        if (error instanceof HttpError && retry?.retryAfterSeconds) {
          res.set('Retry-After', String(retry.retryAfterSeconds))
        }
        throw error
      }
    },
  })

  api.route({
    method: 'get',
    path: base,
    summary: "A project's images with their metadata and status",
    tag,
    auth: 'user',
    projectRole: 'viewer',
    params: ProjectParams,
    response: ImageList,
    handler: ({ params }) => ({ images: listImageRows(db, params.projectId).map(toImageInfo) }),
  })

  api.route({
    method: 'get',
    path: `${base}/:imageId`,
    summary: "One image's metadata and per-channel statistics",
    tag,
    auth: 'user',
    projectRole: 'viewer',
    params: ImageParams,
    response: ImageInfo,
    handler: ({ params }) => toImageInfo(getImageRow(db, params.projectId, params.imageId)),
  })

  api.route({
    method: 'get',
    path: `${base}/:imageId/thumbnail`,
    summary: 'PNG thumbnail, longest side at most 256 pixels',
    tag,
    auth: 'user',
    projectRole: 'viewer',
    params: ImageParams,
    response: { contentType: 'image/png', description: 'PNG thumbnail' },
    handler: async ({ params, res }) => {
      const row = getImageRow(db, params.projectId, params.imageId)
      res.set({
        'Content-Type': 'image/png',
        'Cache-Control': CACHE,
        ETag: `"${row.thumbnail_key}"`,
      })
      res.send(await blobs.get(row.thumbnail_key))
    },
  })

  api.route({
    method: 'get',
    path: `${base}/:imageId/display/:column/:row`,
    summary: 'One PNG tile of the 8-bit auto-contrasted display rendition',
    tag,
    auth: 'user',
    projectRole: 'viewer',
    params: TileParams,
    response: { contentType: 'image/png', description: 'PNG tile' },
    handler: async ({ params, res }) => {
      const row = getImageRow(db, params.projectId, params.imageId)
      const tiles = JSON.parse(row.tiles_json) as StoredTiles
      if (params.column >= tiles.columns || params.row >= tiles.rows) {
        throw new HttpError(
          404,
          `No tile ${params.column}/${params.row}; the grid is ${tiles.columns}×${tiles.rows}`,
        )
      }
      const key = tiles.keys[params.row * tiles.columns + params.column]
      res.set({ 'Content-Type': 'image/png', 'Cache-Control': CACHE, ETag: `"${key}"` })
      res.send(await blobs.get(key))
    },
  })

  api.route({
    method: 'get',
    path: `${base}/:imageId/raw`,
    summary: 'Raw samples of the image or a region: little-endian, interleaved, in the image dtype',
    tag,
    auth: 'user',
    projectRole: 'viewer',
    params: ImageParams,
    query: Region,
    response: { contentType: 'application/octet-stream', description: 'Raw samples' },
    handler: async ({ params, query, res }) => {
      const row = getImageRow(db, params.projectId, params.imageId)
      const x = query.x ?? 0
      const y = query.y ?? 0
      const width = query.width ?? row.width - x
      const height = query.height ?? row.height - y
      if (x + width > row.width || y + height > row.height || width <= 0 || height <= 0) {
        throw new HttpError(
          400,
          `Region ${x},${y} ${width}×${height} is outside the ${row.width}×${row.height} image`,
        )
      }
      const raw = await blobs.get(row.raw_key)
      const pixelBytes = row.channels * BYTES_PER_SAMPLE[row.dtype]
      let body: Buffer = raw
      if (x !== 0 || y !== 0 || width !== row.width || height !== row.height) {
        body = Buffer.alloc(width * height * pixelBytes)
        for (let r = 0; r < height; r++) {
          const start = ((y + r) * row.width + x) * pixelBytes
          raw.copy(body, r * width * pixelBytes, start, start + width * pixelBytes)
        }
      }
      res.set({
        'Content-Type': 'application/octet-stream',
        'Cache-Control': CACHE,
        // From the content key: Express would otherwise hash the whole body (hundreds of MB for
        // an image at the pixel limit) on the event loop to make one.
        ETag: `"${row.raw_key}-${x}-${y}-${width}-${height}"`,
        'X-Tessera-Width': String(width),
        'X-Tessera-Height': String(height),
        'X-Tessera-Channels': String(row.channels),
        'X-Tessera-Dtype': row.dtype,
        'Access-Control-Expose-Headers':
          'X-Tessera-Width, X-Tessera-Height, X-Tessera-Channels, X-Tessera-Dtype',
      })
      res.send(body)
    },
  })

  api.route({
    method: 'delete',
    path: `${base}/:imageId`,
    summary: 'Delete an image (its blobs go when no other image uses them)',
    tag,
    auth: 'user',
    projectRole: 'owner',
    params: ImageParams,
    handler: async ({ params }) => {
      const row = getImageRow(db, params.projectId, params.imageId)
      await deleteImage(context, row)
      return undefined
    },
  })
}
