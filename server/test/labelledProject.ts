// A project whose images are labelled and marked done the way people do it: uploaded through the
// API, each instance of a ground-truth label image written as a mask annotation by a stock
// y-websocket client, the image's status set to done in its document. Used by the training-loop
// tests, the e2e test and the train / finetune benchmarks.
import sharp from 'sharp'
import type * as Y from 'yjs'
import { createAnnotation, setReviewState, userOrigin } from '../../shared/doc/index.ts'
import { encodeMaskRle } from '../../shared/geometry/mask.ts'
import { generateNuclei } from '../src/demo/syntheticNuclei.ts'
import { connect, synced, tokenFor } from './collabClients.ts'
import { ADMIN_PASSWORD, type ApiClient } from './harness.ts'
import { waitUntil } from './workerRun.ts'

export interface LabelledImageFile {
  name: string
  /** The file as uploaded (PNG, TIFF, JPEG). */
  bytes: Uint8Array
  width: number
  height: number
  /** Instance labels, row-major, 0 = background. */
  labels: ArrayLike<number>
}

/** Synthetic 16-bit fluorescence nuclei with their instance labels. */
export async function syntheticImages(
  count: number,
  size: number,
  seed = 100,
): Promise<LabelledImageFile[]> {
  const files: LabelledImageFile[] = []
  for (let i = 0; i < count; i++) {
    const spec = {
      seed: seed + i,
      width: size,
      height: size,
      channels: 1 as const,
      count: Math.max(4, Math.round((size * size) / 4000)),
      radius: [7, 14] as [number, number],
    }
    const { pixels, labels } = generateNuclei(spec)
    const bytes = await sharp(pixels, { raw: { width: size, height: size, channels: 1 } })
      .toColourspace('grey16')
      .png()
      .toBuffer()
    files.push({ name: `synthetic-${seed + i}.png`, bytes, width: size, height: size, labels })
  }
  return files
}

/** Writes each instance of a label image into the document as a mask annotation. */
export function writeInstanceMasks(
  doc: Y.Doc,
  image: { width: number; height: number; labels: ArrayLike<number> },
  classId: number | null,
  origin: ReturnType<typeof userOrigin>,
): number {
  const { width, height, labels } = image
  const boxes = new Map<number, [number, number, number, number]>()
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const label = labels[y * width + x]
      if (label === 0) continue
      const box = boxes.get(label)
      if (!box) boxes.set(label, [x, y, x, y])
      else {
        box[0] = Math.min(box[0], x)
        box[1] = Math.min(box[1], y)
        box[2] = Math.max(box[2], x)
        box[3] = Math.max(box[3], y)
      }
    }
  }
  doc.transact(() => {
    for (const [label, [x0, y0, x1, y1]] of boxes) {
      const w = x1 - x0 + 1
      const h = y1 - y0 + 1
      const data = new Uint8Array(w * h)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++)
          data[y * w + x] = labels[(y0 + y) * width + x0 + x] === label ? 1 : 0
      createAnnotation(
        doc,
        {
          kind: 'mask',
          geometry: encodeMaskRle({ x: x0, y: y0, width: w, height: h, data }),
          classId,
        },
        origin,
      )
    }
  }, origin)
  return boxes.size
}

/**
 * Creates a project with a `nucleus` class, uploads the images and labels every one of them as
 * done (as the admin, through the collaboration socket). Returns the ids.
 */
export async function labelledProject(
  admin: ApiClient,
  files: LabelledImageFile[],
  name = `Training ${Date.now()}`,
): Promise<{ projectId: number; classId: number; imageIds: number[]; objects: number }> {
  const projectId = (await admin.request('POST', '/api/projects', { name })).body.id as number
  const classId = (
    await admin.request('POST', `/api/projects/${projectId}/classes`, {
      name: 'nucleus',
      color: '#e6194b',
    })
  ).body.id as number
  const imageIds: number[] = []
  for (let start = 0; start < files.length; start += 10) {
    const form = new FormData()
    for (const file of files.slice(start, start + 10))
      form.append('files', new Blob([file.bytes as Uint8Array<ArrayBuffer>]), file.name)
    const upload = await admin.request('POST', `/api/projects/${projectId}/images`, form)
    if (upload.status !== 201) throw new Error(`upload failed: ${JSON.stringify(upload.body)}`)
    imageIds.push(...(upload.body.images as { id: number }[]).map((image) => image.id))
  }
  const token = await tokenFor(admin.baseUrl, 'admin', ADMIN_PASSWORD)
  const me = (await admin.request('GET', '/api/auth/me')).body
  const origin = userOrigin(me.user.id)
  let objects = 0
  for (let i = 0; i < files.length; i++) {
    const client = connect(admin.baseUrl, imageIds[i], token)
    try {
      await synced(client)
      objects += writeInstanceMasks(client.doc, files[i], classId, origin)
      setReviewState(client.doc, { status: 'done' }, origin)
      await waitUntil(
        async () =>
          (await admin.request('GET', `/api/projects/${projectId}/images/${imageIds[i]}`)).body
            .status,
        (status) => status === 'done',
        20_000,
        `image ${imageIds[i]} done`,
        50,
      )
    } finally {
      client.destroy()
    }
  }
  return { projectId, classId, imageIds, objects }
}

/** A worker token made by the admin (shown once). */
export async function workerToken(admin: ApiClient, name = 'test worker'): Promise<string> {
  const response = await admin.request('POST', '/api/admin/worker-tokens', { name })
  if (response.status !== 201) throw new Error(`no worker token: ${JSON.stringify(response.body)}`)
  return response.body.token as string
}
