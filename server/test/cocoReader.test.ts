// pycocotools, the reader COCO datasets are made for, decodes what the COCO writer writes: every
// polygon and RLE mask gives exactly the pixels our rasteriser gives, and an RLE's area is the
// `area` we wrote. pycocotools is no Debian package: the test runs where TESSERA_COCO_PYTHON
// names a Python that has it (a venv from a local wheel), and is skipped, saying so, elsewhere.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { imageSample, testTable } from '../../shared/formats/arbitraryDataset.ts'
import { writeCoco } from '../../shared/formats/coco.ts'
import { emptyReport } from '../../shared/formats/dataset.ts'
import { rasterizeGeometry } from '../../shared/geometry/rasterize.ts'

const PYTHON = process.env.TESSERA_COCO_PYTHON ?? '/usr/bin/python3'
const SCRIPT = path.join(import.meta.dirname, 'outsideReaders', 'check_coco.py')

function hasPycocotools(): boolean {
  try {
    execFileSync(PYTHON, ['-c', 'import pycocotools'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

const available = hasPycocotools()
if (!available)
  console.warn(
    `pycocotools is not importable by ${PYTHON}: set TESSERA_COCO_PYTHON to a Python that has it to run the COCO outside-reader test`,
  )

describe.skipIf(!available)('COCO read by pycocotools', () => {
  test('polygons and RLE masks decode to our pixels; RLE areas match', () => {
    const samples = fc.sample(imageSample({ kinds: ['polygon', 'mask', 'box'], maxObjects: 8 }), {
      numRuns: 40,
      seed: 2017,
    })
    const table = testTable()
    const images = samples.map((s, i) => ({
      ...s,
      image: { ...s.image, id: i + 1, fileName: `image-${i + 1}.png`, stem: `image-${i + 1}` },
    }))
    const coco = writeCoco(images, table, emptyReport())
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-coco-'))
    try {
      const file = path.join(dir, 'instances.json')
      fs.writeFileSync(file, JSON.stringify(coco))
      const decoded = JSON.parse(
        execFileSync(PYTHON, [SCRIPT, file], { encoding: 'utf8', maxBuffer: 64 << 20 })
          .split('\n')
          .filter(Boolean)
          .pop()!,
      )
      let checked = 0
      for (const annotation of coco.annotations) {
        const found = decoded[String(annotation.id)]
        if (!found) continue // a box: bbox only, no segmentation
        const { image, annotations } = images[annotation.image_id - 1]
        const source = annotations.find((a) => a.id === annotation.tessera.annotationId)!
        const mask = rasterizeGeometry(source, image.width, image.height, { x: 0, y: 0 })!
        let pixels = 0
        let fingerprint = 0
        for (let i = 0; i < mask.length; i++) {
          if (mask[i] === 0) continue
          pixels++
          fingerprint += i
        }
        expect(found.pixels, `annotation ${annotation.id} (${source.kind})`).toBe(pixels)
        expect(found.fingerprint).toBe(fingerprint)
        if (found.rleArea !== undefined) expect(found.rleArea).toBe(annotation.area)
        checked++
      }
      expect(checked).toBeGreaterThan(40)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
