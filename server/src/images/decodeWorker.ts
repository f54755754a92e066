// The body of a decode worker thread (started by DecodeWorkers): holds one uploaded file and the
// display image of its page decoded last, and answers one request at a time, so that no decoding,
// statistics or PNG encoding runs on the server's event loop. Never touches the database or blobs.
import { parentPort } from 'node:worker_threads'
import { channelStats } from '../../../shared/ml/normalization.ts'
import { sha256Hex } from '../blobs/BlobStore.ts'
import { HttpError } from '../http/HttpError.ts'
import type { DecodedResult, DecodeReply, DecodeRequest, KeyedBytes } from './DecodeWorkers.ts'
import { decodePage } from './decodePage.ts'
import {
  type DisplayImage,
  displayImage,
  displayTile,
  type TileGrid,
  thumbnail,
  tileGrid,
} from './renditions.ts'

let file: Extract<DecodeRequest, { method: 'open' }> | null = null
let current: { display: DisplayImage; grid: TileGrid } | null = null

const keyed = (bytes: Uint8Array): KeyedBytes => ({ bytes, sha256: sha256Hex(bytes) })

function currentPage() {
  if (!current) throw new Error('no page decoded')
  return current
}

async function answer(
  request: DecodeRequest,
): Promise<{ result: unknown; transfer: ArrayBuffer[] }> {
  switch (request.method) {
    case 'open':
      file = request
      current = null
      return { result: null, transfer: [] }
    case 'decode': {
      if (!file) throw new Error('no file open')
      current = null // the previous page's display image can go before this one is decoded
      const { samples, width, height, channels, dtype } = await decodePage(
        file.name,
        file.bytes,
        request.header,
      )
      const stats = channelStats(samples, channels)
      const grid = tileGrid(width, height, request.tileSize)
      current = { display: displayImage(samples, width, height, channels, stats), grid }
      const raw = keyed(new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength))
      const result: DecodedResult = { channels, dtype, stats, grid, raw }
      // Transferred, not copied: the samples leave this thread.
      return { result, transfer: [samples.buffer as ArrayBuffer] }
    }
    case 'tile': {
      const { display, grid } = currentPage()
      return { result: keyed(await displayTile(display, grid, request.index)), transfer: [] }
    }
    case 'thumbnail':
      return { result: keyed(await thumbnail(currentPage().display)), transfer: [] }
    case 'close':
      file = null
      current = null
      return { result: null, transfer: [] }
  }
}

const port = parentPort!
port.on('message', async ({ id, request }: { id: number; request: DecodeRequest }) => {
  let reply: DecodeReply
  let transfer: ArrayBuffer[] = []
  try {
    const answered = await answer(request)
    reply = { id, result: answered.result }
    transfer = answered.transfer
  } catch (error) {
    const status = error instanceof HttpError ? error.status : 500
    reply = { id, error: { status, message: (error as Error).message } }
  }
  port.postMessage(reply, transfer)
})
