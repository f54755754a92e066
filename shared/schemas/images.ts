// HTTP bodies of images: metadata, per-channel statistics, raw pixel layout.
import { z } from 'zod'

export const ImageDtype = z.enum(['uint8', 'uint16', 'float32'])
export type ImageDtype = z.infer<typeof ImageDtype>
export const ImageStatus = z.enum(['new', 'in_progress', 'done', 'reviewed'])
export type ImageStatus = z.infer<typeof ImageStatus>

/** Statistics of one channel, in the image's own units. */
export const ChannelStats = z.object({
  min: z.number(),
  max: z.number(),
  mean: z.number(),
  /** Percentiles 0.1, 1, 50, 99 and 99.9, keyed by their number as a string. */
  percentiles: z.object({
    '0.1': z.number(),
    '1': z.number(),
    '50': z.number(),
    '99': z.number(),
    '99.9': z.number(),
  }),
})
export type ChannelStats = z.infer<typeof ChannelStats>

export const ImageInfo = z.object({
  id: z.number().int(),
  projectId: z.number().int(),
  name: z.string(),
  sha256: z.string(),
  format: z.enum(['png', 'jpeg', 'tiff']),
  bytes: z.number().int(),
  page: z.number().int(),
  pageCount: z.number().int(),
  width: z.number().int(),
  height: z.number().int(),
  channels: z.number().int().min(1).max(4),
  dtype: ImageDtype,
  stats: z.array(ChannelStats),
  status: ImageStatus,
  createdAt: z.string(),
  /** Tiling of the display rendition: a grid of tiles of tileSize pixels. */
  tiles: z.object({
    tileSize: z.number().int(),
    columns: z.number().int(),
    rows: z.number().int(),
  }),
})
export type ImageInfo = z.infer<typeof ImageInfo>
export const ImageList = z.object({ images: z.array(ImageInfo) })

export const UploadResult = z.object({
  images: z.array(ImageInfo),
  /** Files that were already in the project (same bytes): their existing images are returned. */
  duplicates: z.array(z.string()),
})
export type UploadResult = z.infer<typeof UploadResult>
