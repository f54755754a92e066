// `npm run eval -- --data DIR [--model DIR] [--out FILE]`: evaluates a model version (default the
// shipped v0) on a folder in the images/ + labels/ layout and prints and writes the metrics.
import fs from 'node:fs'
import { parseArgs } from 'node:util'
import { evaluateModel } from './evaluateModel.ts'
import { DatasetError, listLabelledImages, readLabelledImage } from './labelledFolder.ts'
import { loadSegmenter, SHIPPED_MODEL_DIR } from './loadModel.ts'

const usage = 'usage: npm run eval -- --data DIR [--model DIR] [--out FILE]'

async function main() {
  const { values } = parseArgs({
    options: {
      data: { type: 'string' },
      model: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean' },
    },
  })
  if (values.help || !values.data) {
    console.error(usage)
    process.exit(values.help ? 0 : 2)
  }
  const entries = listLabelledImages(values.data)
  const segmenter = await loadSegmenter(values.model ?? SHIPPED_MODEL_DIR)
  async function* images() {
    for (const entry of entries) yield await readLabelledImage(entry)
  }
  const result = await evaluateModel(segmenter, images(), (id, objects) =>
    console.error(`evaluated ${id} (${objects} objects)`),
  )
  const report = { model: segmenter.card.version, data: values.data, ...result }
  const text = JSON.stringify(report, null, 2)
  console.log(text)
  if (values.out) fs.writeFileSync(values.out, `${text}\n`)
}

main().catch((error) => {
  console.error(error instanceof DatasetError ? `error: ${error.message}` : error)
  process.exit(error instanceof DatasetError ? 2 : 1)
})
