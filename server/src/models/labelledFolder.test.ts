import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import sharp from 'sharp'
import { afterEach, describe, expect, it } from 'vitest'
import { listLabelledImages, readLabelledImage } from './labelledFolder.ts'

const folders: string[] = []
afterEach(() => {
  for (const folder of folders.splice(0)) fs.rmSync(folder, { recursive: true, force: true })
})

async function makeFolder(files: Record<string, Buffer>) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-dataset-'))
  folders.push(root)
  fs.mkdirSync(path.join(root, 'images'))
  fs.mkdirSync(path.join(root, 'labels'))
  for (const [name, bytes] of Object.entries(files)) fs.writeFileSync(path.join(root, name), bytes)
  return root
}

const grey8 = (width: number, height: number, fill: (i: number) => number) =>
  sharp(
    Uint8Array.from({ length: width * height }, (_, i) => fill(i)),
    {
      raw: { width, height, channels: 1 },
    },
  )
    .toColourspace('b-w')
    .png()
    .toBuffer()
const labels16 = (width: number, height: number, fill: (i: number) => number) =>
  sharp(
    Uint16Array.from({ length: width * height }, (_, i) => fill(i)),
    {
      raw: { width, height, channels: 1 },
    },
  )
    .toColourspace('grey16')
    .png()
    .toBuffer()

describe('labelled folders', () => {
  it('reads images and 16-bit instance labels exactly', async () => {
    const root = await makeFolder({
      'images/a.png': await grey8(4, 3, (i) => i * 10),
      'labels/a.png': await labels16(4, 3, (i) => (i < 6 ? 0 : 300 + (i % 2))),
    })
    const entries = listLabelledImages(root)
    expect(entries.map((e) => e.id)).toEqual(['a'])
    const image = await readLabelledImage(entries[0])
    expect(image).toMatchObject({ width: 4, height: 3, channels: 1 })
    expect([...image.pixels]).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110])
    expect([...image.labels]).toEqual([0, 0, 0, 0, 0, 0, 300, 301, 300, 301, 300, 301])
  })

  it('names the file at fault', async () => {
    expect(() => listLabelledImages('/nonexistent/folder')).toThrow(/Folder not found/)
    const missingLabel = await makeFolder({ 'images/b.png': await grey8(2, 2, () => 1) })
    expect(() => listLabelledImages(missingLabel)).toThrow(/No label image for b/)
    const wrongSize = await makeFolder({
      'images/c.png': await grey8(4, 4, () => 1),
      'labels/c.png': await labels16(3, 4, () => 1),
    })
    await expect(readLabelledImage(listLabelledImages(wrongSize)[0])).rejects.toThrow(
      /labels\/c\.png is 3×4 but its image .*c\.png is 4×4/,
    )
    const unreadable = await makeFolder({
      'images/d.png': Buffer.from('not a png at all'),
      'labels/d.png': await labels16(2, 2, () => 1),
    })
    await expect(readLabelledImage(listLabelledImages(unreadable)[0])).rejects.toThrow(
      /Cannot read image .*images\/d\.png/,
    )
  })
})
