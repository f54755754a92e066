// Reads the header of every page of every file of an upload, never their pixels, and checks them
// against the budgets: pixels per image, pages and bytes of decoded samples per upload, sample
// types Tessera reads. Every refusal happens here, before anything is decoded or allocated.
import sharp from 'sharp'
import type { ImageDtype } from '../../../shared/schemas/images.ts'
import { HttpError } from '../http/HttpError.ts'
import { countTiffPages } from './countTiffPages.ts'
import type { ImageFormat } from './detectFormat.ts'

export interface UploadBudgets {
  maxImagePixels: number
  maxUploadPages: number
  maxUploadDecodedBytes: number
}

/** What decoding one page will give, from its header. */
export interface PageHeader {
  page: number
  pageCount: number
  width: number
  height: number
  channels: number
  dtype: ImageDtype
  /** libvips's sample format and colour space, which the decoder asks for unchanged. */
  depth: 'uchar' | 'ushort' | 'float'
  space: string
  hasAlpha: boolean
}

export interface FileToPlan {
  name: string
  bytes: Uint8Array
  format: ImageFormat
}

const DTYPE_OF_DEPTH: Record<string, ImageDtype | undefined> = {
  uchar: 'uint8',
  ushort: 'uint16',
  float: 'float32',
}
export const BYTES_PER_SAMPLE: Record<ImageDtype, number> = { uint8: 1, uint16: 2, float32: 4 }

const count = (n: number) => n.toLocaleString('en')

async function readHeader(file: FileToPlan, page: number): Promise<sharp.Metadata> {
  try {
    return await sharp(file.bytes, { page, limitInputPixels: false }).metadata()
  } catch (error) {
    throw new HttpError(
      422,
      `${file.name} could not be read as ${file.format.toUpperCase()}: ${(error as Error).message}`,
    )
  }
}

/** The page headers of each file, in order, once every budget is met; else a 413 or 422. */
export async function planUpload(
  files: FileToPlan[],
  budgets: UploadBudgets,
): Promise<PageHeader[][]> {
  const { maxImagePixels, maxUploadPages, maxUploadDecodedBytes } = budgets
  let pagesSoFar = 0
  let bytesSoFar = 0
  const plans: PageHeader[][] = []
  for (const file of files) {
    // A chain cut short before its first page is libvips's to report, when it reads page 0.
    const pageCount =
      file.format === 'tiff'
        ? Math.max(1, countTiffPages(file.bytes, maxUploadPages - pagesSoFar))
        : 1
    if (pagesSoFar + pageCount > maxUploadPages) {
      const what = pagesSoFar > 0 ? ` with the ${count(pagesSoFar)} before it` : ''
      throw new HttpError(
        413,
        `${file.name} has ${pageCount > maxUploadPages ? 'more than ' : ''}${count(Math.min(pageCount, maxUploadPages))} pages${what}; this server decodes at most ${count(maxUploadPages)} pages per upload`,
      )
    }
    const first = await readHeader(file, 0)
    const pages: PageHeader[] = []
    for (let page = 0; page < pageCount; page++) {
      const meta = page === 0 ? first : await readHeader(file, page)
      const { width = 0, height = 0 } = meta
      const where = pageCount > 1 ? `${file.name} (page ${page + 1} of ${pageCount})` : file.name
      if (width * height > maxImagePixels) {
        throw new HttpError(
          413,
          `${where} has ${width}×${height} = ${count(width * height)} pixels, more than this server's limit of ${count(maxImagePixels)}`,
        )
      }
      const dtype = DTYPE_OF_DEPTH[meta.depth ?? '']
      if (!dtype) {
        throw new HttpError(
          422,
          `${where} has ${meta.depth} samples; Tessera reads 8-bit, 16-bit unsigned and 32-bit float images`,
        )
      }
      const channels = meta.channels ?? 1
      if (channels > 4) {
        throw new HttpError(422, `${where} has ${channels} channels; at most 4 are supported`)
      }
      bytesSoFar += width * height * channels * BYTES_PER_SAMPLE[dtype]
      if (bytesSoFar > maxUploadDecodedBytes) {
        throw new HttpError(
          413,
          `This upload would decode to more than ${count(maxUploadDecodedBytes)} bytes of samples, this server's limit per upload (${where}: ${width}×${height}, ${channels} × ${dtype}, brings it to ${count(bytesSoFar)})`,
        )
      }
      pages.push({
        page,
        pageCount,
        width,
        height,
        channels,
        dtype,
        depth: meta.depth as PageHeader['depth'],
        space: meta.space ?? 'b-w',
        // TIFF extra samples are data (a second fluorescence channel), not transparency.
        hasAlpha: first.hasAlpha === true && file.format !== 'tiff',
      })
    }
    pagesSoFar += pageCount
    plans.push(pages)
  }
  return plans
}
