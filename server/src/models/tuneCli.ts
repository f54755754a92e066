// `npm run tune-proposals -- --data DIR [--model DIR]`: sets a model version's proposal
// thresholds (card.proposals) by grid search on the images of DIR that are not held out (the
// trainer's rule), and records the search and the held-out AP50 before and after in the card.
import fs from 'node:fs'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { DatasetError, listLabelledImages, readLabelledImage } from './labelledFolder.ts'
import { loadSegmenter, SHIPPED_MODEL_DIR } from './loadModel.ts'
import {
  bestProposalOptions,
  encodeHeads,
  isHeldOut,
  PROPOSAL_GRID,
  proposalAp50,
} from './tuneProposals.ts'

const usage = 'usage: npm run tune-proposals -- --data DIR [--model DIR]'

async function main() {
  const { values } = parseArgs({
    options: { data: { type: 'string' }, model: { type: 'string' }, help: { type: 'boolean' } },
  })
  if (values.help || !values.data) {
    console.error(usage)
    process.exit(values.help ? 0 : 2)
  }
  const dir = values.model ?? SHIPPED_MODEL_DIR
  const entries = listLabelledImages(values.data)
  const segmenter = await loadSegmenter(dir)
  async function* read(heldOut: boolean) {
    for (const entry of entries.filter((e) => isHeldOut(e.id) === heldOut))
      yield await readLabelledImage(entry)
  }
  const training = await encodeHeads(segmenter, read(false))
  const heldOut = await encodeHeads(segmenter, read(true))
  if (training.length === 0)
    throw new DatasetError(`${values.data}: no image outside the held-out part`)
  const before = segmenter.card.proposals
  const best = bestProposalOptions(training)
  const tuning = {
    method: 'grid search maximising mean AP50 on the images not held out',
    data: values.data,
    trainingImages: training.length,
    heldOutImages: heldOut.length,
    grid: PROPOSAL_GRID,
    trainingAp50Before: proposalAp50(training, before),
    trainingAp50After: best.ap50,
    heldOutAp50Before: proposalAp50(heldOut, before),
    heldOutAp50After: proposalAp50(heldOut, best.options),
  }
  await segmenter.release()
  const cardPath = path.join(dir, 'card.json')
  const card = JSON.parse(fs.readFileSync(cardPath, 'utf8'))
  card.proposals = { ...card.proposals, ...best.options, tuning }
  fs.writeFileSync(cardPath, `${JSON.stringify(card, null, 2)}\n`)
  console.log(JSON.stringify({ options: best.options, ...tuning }, null, 2))
}

main().catch((error) => {
  console.error(error instanceof DatasetError ? `error: ${error.message}` : error)
  process.exit(error instanceof DatasetError ? 2 : 1)
})
