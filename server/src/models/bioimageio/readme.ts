// README.md of a bioimage.io package: what the model does, its input and how the app's
// normalisation differs from the description's, the outputs, the instance proposals and the
// click decoder in prose, training, validation metrics, test tensors, citation and licence.
// Pure: everything comes from the card and the package source.
import { HIGH_PERCENTILE, LOW_PERCENTILE } from '../../../../shared/ml/normalization.ts'
import type { EncoderTensors } from './encoderTensors.ts'
import {
  CITATIONS,
  cardRecord,
  MODEL_LICENSE,
  type PackageSource,
  taskSentence,
} from './packageSource.ts'
import { REPRODUCIBILITY } from './rdf.ts'

export interface ReadmeFacts {
  name: string
  /** The test image's description (size, seed) and the tolerance the server's test applies. */
  testImage: string
  opsetVersion: number
  onnxRuntime: string
}

const METRIC_LABELS: Record<string, string> = {
  n_images: 'images',
  n_objects: 'objects',
  iou_at_1click: 'IoU after 1 click',
  noc85: 'NoC85 (clicks to IoU 0.85)',
  noc90: 'NoC90 (clicks to IoU 0.90)',
  auto_ap50: 'automatic AP50',
  auto_mean_matched_iou: 'automatic mean matched IoU',
  foreground_iou: 'foreground IoU',
}

const format = (value: unknown) =>
  typeof value === 'number'
    ? Number.isInteger(value)
      ? String(value)
      : value.toFixed(3)
    : String(value)

/** Entries of `metrics` that are evaluation results (objects with known metric keys). */
function metricSets(metrics: Record<string, unknown>): [string, Record<string, unknown>][] {
  return Object.entries(metrics).flatMap(([key, value]) => {
    const record = cardRecord(value)
    return Object.keys(record).some((k) => k in METRIC_LABELS) ? [[key, record]] : []
  })
}

function metricsTable(sets: [string, Record<string, unknown>][]): string[] {
  if (sets.length === 0) return []
  const keys = Object.keys(METRIC_LABELS).filter((key) => sets.some(([, set]) => key in set))
  return [
    `| metric | ${sets.map(([name]) => name).join(' | ')} |`,
    `| --- | ${sets.map(() => '---').join(' | ')} |`,
    ...keys.map(
      (key) =>
        `| ${METRIC_LABELS[key]} | ${sets.map(([, set]) => (key in set ? format(set[key]) : '—')).join(' | ')} |`,
    ),
  ]
}

function proposalsSection(source: PackageSource): string[] {
  const p = source.card.proposals
  const connectivity = typeof p.connectivity === 'number' ? p.connectivity : 4
  const tuning = cardRecord(p.tuning)
  const lines = [
    '## Instance proposals (post-processing)',
    '',
    `Tessera turns \`foreground\` and \`distance\` into instances as follows (the card's \`proposals\` section; \`shared/ml/proposals.ts\` in Tessera, \`tessera_trainer/proposals.py\` in its trainer).`,
    `A pixel is foreground where the foreground probability is above ${p.foregroundThreshold}.`,
    `Seeds are the ${connectivity}-connected components of the foreground pixels whose distance probability is also above ${p.seedThreshold}; a seed needs at least ${p.minSeedArea} pixels, smaller ones are discarded, and seeds are numbered in raster order (first pixel top to bottom, left to right).`,
    `The seeds then grow through the foreground one ${connectivity}-connected pixel layer at a time, like a flood fill in rings; a pixel that several seeds reach in the same layer goes to the seed with the lowest number.`,
    'Foreground components that no seed reached become objects of their own.',
    `Objects with fewer than ${p.minArea} pixels are dropped, and each remaining object's score is the mean foreground probability over its pixels.`,
    'The thresholds apply to probabilities, i.e. to the outputs of this package after its sigmoid (on the raw ONNX logits a probability threshold of 0.5 is a logit threshold of 0).',
  ]
  if (typeof tuning.method === 'string') {
    lines.push(
      '',
      `The four values were chosen by ${tuning.method}${typeof tuning.trainingAp50Before === 'number' ? `: AP50 on the training images ${format(tuning.trainingAp50Before)} before, ${format(tuning.trainingAp50After)} after; on held-out images ${format(tuning.heldOutAp50Before)} before, ${format(tuning.heldOutAp50After)} after` : ''}.`,
    )
  }
  return lines
}

function decoderSection(source: PackageSource): string[] {
  const { card } = source
  const click = card.clickEncoding
  const stride = card.input.featureStride
  const refinement = cardRecord(card.decoder.refinement)
  const tensor = (t: { name: string; shape: (string | number)[]; meaning?: unknown }) =>
    `- \`${t.name}\` [${t.shape.join(', ')}]${typeof t.meaning === 'string' ? `: ${t.meaning}` : ''}`
  return [
    '## The click decoder',
    '',
    "Interactive segmentation needs a second network that bioimage.io cannot describe as part of this model (it runs once per click, on a crop of the encoder's outputs): `decoder.onnx`, attached, with every setting it needs in `card.json` (also under `config.tessera` in `rdf.yaml`).",
    '',
    `1. Run the encoder once on the normalised image (padded with zeros on the bottom and right to a multiple of ${card.input.sizeMultiple}).`,
    `2. For a click at pixel (x, y), take a crop of ${card.input.clickCropSize} × ${card.input.clickCropSize} pixels around it whose origin is a multiple of ${stride}, so that feature cells line up; cut \`features\` (1/${stride} resolution) and \`details\` to it.`,
    `3. Encode the clicks of the object so far (positive and negative) as two maps at 1/${stride} of the crop: ${typeof click.formula === 'string' ? click.formula : 'a Gaussian per click'}, with sigma ${click.sigmaPixels} pixels. Encode exactly so: the decoder reads distances back from these values.`,
    "4. Run the decoder on `features`, the click maps and `previousMask` (channel 0 of the previous click's `coarse` output for the same object; a constant -20 for the first click).",
    `5. ${typeof refinement.formula === 'string' ? `Refine to full resolution: ${refinement.formula}` : 'Refine `coarse` to full resolution with `details`'}. (maskThreshold is ${click.maskThreshold}.)`,
    ...(typeof click.consistency === 'string'
      ? [`6. Click consistency: ${click.consistency}.`]
      : []),
    '',
    'Decoder inputs:',
    ...card.decoder.inputs.map(tensor),
    '',
    'Decoder outputs:',
    ...card.decoder.outputs.map(tensor),
  ]
}

function trainingSection(source: PackageSource): string[] {
  const { card, version } = source
  const training = cardRecord(card.training)
  const data = cardRecord(training.data)
  const trainer = cardRecord(card.trainer)
  const lines = ['## Training', '']
  if (version.projectId === null) {
    lines.push(
      `A base version shipped with Tessera, trained by ${[trainer.name, trainer.version].filter(Boolean).join(' ') || "Tessera's trainer"}${typeof trainer.torch === 'string' ? ` (PyTorch ${trainer.torch})` : ''}.`,
    )
  } else {
    lines.push(
      `Fine-tuned by Tessera's trainer${version.parent ? ` from ${version.parent.name}` : ''} on the labelled images of the project "${source.project.name}": ${version.trainingSet.images} images with ${version.trainingSet.objects} objects${version.trainingSet.hash ? ` (training set hash ${version.trainingSet.hash})` : ''}${version.triggeredBy ? `, started by ${version.triggeredBy}` : ''}. Those images are not part of this package.`,
    )
  }
  const real = Array.isArray(data.real) ? data.real.map(cardRecord) : []
  for (const set of real) {
    lines.push(
      `- Real images: ${set.name}${typeof set.trainImages === 'number' ? `, ${set.trainImages} for training and ${set.heldOutImages} held out` : ''}.`,
    )
  }
  const synthetic = cardRecord(data.synthetic)
  if (typeof synthetic.images === 'number')
    lines.push(
      `- Synthetic images: ${synthetic.images}${typeof synthetic.note === 'string' ? ` (${synthetic.note})` : ''}.`,
    )
  if (typeof data.augmentations === 'string') lines.push(`- Augmentations: ${data.augmentations}.`)
  if (typeof training.losses === 'string') lines.push(`- Losses: ${training.losses}.`)
  if (typeof training.steps === 'number')
    lines.push(
      `- ${training.steps} steps in ${String(training.seconds)} s on ${training.device ?? 'an unnamed device'}${typeof training.seed === 'number' ? `, seed ${training.seed}` : ''}.`,
    )
  if (typeof training.command === 'string') lines.push(`- Command: \`${training.command}\``)
  if (training.initialisedFrom && typeof training.initialisedFrom === 'object')
    lines.push(
      "- Initialised from earlier training stages, each described in card.json's training.initialisedFrom.",
    )
  return lines
}

function validationSection(source: PackageSource): string[] {
  const card = metricSets(source.card.metrics)
  // A base version's metrics are its card's; a project version's are the server's evaluation.
  const { validation, baseValidation } = source.version.metrics
  const server =
    source.version.projectId === null
      ? []
      : metricSets({ [source.version.name]: validation, base: baseValidation })
  const protocol = cardRecord(source.card.metrics).protocol
  const lines = ['## Validation', '']
  lines.push(
    'Click metrics follow the RITM protocol: clicks are simulated on each object (the first at its interior point farthest from the boundary, each next one at the centre of the largest error region, positive or negative) until the IoU reaches 0.85 or 0.90, at most 20 clicks. Automatic AP50 is TP / (TP + FP + FN) of the instance proposals at IoU 0.5, averaged over images (DSB2018 / StarDist style).',
  )
  if (typeof protocol === 'string') lines.push(`Protocol of the card: ${protocol}.`)
  if (card.length > 0) lines.push('', 'From the model card:', '', ...metricsTable(card))
  if (server.length > 0)
    lines.push(
      '',
      "Tessera's evaluation of this version against its base, on the project's validation images:",
      '',
      ...metricsTable(server),
    )
  lines.push(
    '',
    "To validate on unseen data, label a few images in Tessera (or load instance label images), run the encoder with the preprocessing above, build the proposals as described, and match them to the labels at IoU 0.5; Tessera's `npm run eval` does this for a folder of images and label images.",
  )
  return lines
}

export function buildReadme(
  source: PackageSource,
  tensors: EncoderTensors,
  facts: ReadmeFacts,
): string {
  const { card, version } = source
  const normalization = cardRecord(card.input.normalization)
  const outputRows = tensors.outputs.map((output) => {
    const size = output.scale === 1 ? 'H × W' : `H/${output.scale} × W/${output.scale}`
    const values = output.probability ? 'probability (sigmoid of the ONNX logit)' : 'float32'
    return `| \`${output.id}\` | ${output.channels} × ${size} | ${values} | ${output.meaning} |`
  })
  const lines = [
    `# ${facts.name}`,
    '',
    `${taskSentence(card.task)}This package holds model version **${version.name}** of [Tessera](#citation), the collaborative labelling app, exported from the project "${source.project.name}"${version.projectId === null ? ' (a base version, the same in every project)' : ''}${version.parent ? `; its parent version is ${version.parent.name}` : ''}.`,
    '',
    'The model is the image encoder (`encoder.onnx`, ONNX opset ' +
      `${facts.opsetVersion}). One pass over an image gives the automatic head, \`foreground\` and \`distance\`, from which Tessera proposes object instances, and two feature maps, \`features\` and \`details\`, which Tessera's click decoder (\`decoder.onnx\`) turns into a mask for each click. bioimage.io tools can run the encoder and its automatic head; the instance proposals and the click decoder are described below.`,
    '',
    '## Files',
    '',
    '- `rdf.yaml`: the bioimage.io model description (format 0.5.7).',
    '- `encoder.onnx`: the weights (the model).',
    '- `decoder.onnx`: the click decoder (an attachment).',
    "- `card.json`: Tessera's model card of this version, as Tessera stores it (an attachment).",
    '- `test_input_raw.npy`, `test_output_<id>.npy`: test tensors.',
    '',
    '## Input and normalisation',
    '',
    `Input \`raw\`: float32 [batch, ${tensors.input.channels}, y, x], raw intensities of any range; y and x multiples of ${card.input.sizeMultiple}, at least ${card.input.sizeMultiple}. ${typeof card.input.channelSelection === 'string' ? `Channels: ${card.input.channelSelection}.` : ''}`,
    '',
    `The description's preprocessing: \`scale_range\` per channel over y and x (each sample on its own) with min_percentile ${LOW_PERCENTILE} and max_percentile ${HIGH_PERCENTILE}, eps 1e-6, then \`clip\` to [0, 1]${card.input.polarity === 'dark' ? ', then `scale_linear` with gain −1 and offset 1: this version was fine-tuned on dark objects on a bright background (stained tissue, brightfield), and reads them inverted so that they come in bright' : ''}. This is Tessera's normalisation${typeof normalization.formula === 'string' ? ` (${normalization.formula})` : ''} as closely as the specification can say it. It differs in these points:`,
    '',
    `- **Fallback.** ${typeof normalization.fallback === 'string' ? `Tessera: ${normalization.fallback}.` : ''} Where p${HIGH_PERCENTILE} ≤ p${LOW_PERCENTILE} (a sparse image: fewer than 0.1 % bright pixels over a flat background) Tessera scales from p${LOW_PERCENTILE} to the maximum; \`scale_range\` divides by eps instead, so every pixel above p${LOW_PERCENTILE} becomes 1 after the clip. A flat channel (max = p${LOW_PERCENTILE}) is all zeros in both.`,
    `- **Statistics over the whole image.** ${typeof normalization.statistics === 'string' ? `Tessera: ${normalization.statistics}.` : ''} Tessera computes the percentiles once per image, then tiles (${card.input.tileSize} pixels, overlap ${typeof card.input.tileOverlap === 'number' ? card.input.tileOverlap : 'some'}); a tool that tiles must not compute them per tile.`,
    '- **eps.** Tessera divides by (high − low) exactly; `scale_range` by (high − low + 1e-6), a relative difference of 1e-6 / (high − low), below float32 rounding for raw intensities.',
    `- **Non-finite values.** Tessera leaves NaN and ±Infinity out of the percentiles and sets NaN pixels to ${card.input.polarity === 'dark' ? '1 (0 before the inversion)' : '0'}.`,
    ...(card.input.polarity === 'dark'
      ? [
          '- **Missing channels.** Tessera feeds 0 to a model channel the image lacks (a grey image on a two-channel model), not the inverted 1; give such a channel as all zeros after the preprocessing.',
        ]
      : []),
    '- **Rounding.** Tessera computes in float64 and rounds once to float32.',
    `- **Padding.** Tessera pads the normalised image with zeros on the bottom and right to a multiple of ${card.input.sizeMultiple} and crops the outputs back; a bioimage.io tool pads by its own rule.`,
    '',
    '## Outputs',
    '',
    `All outputs are float32 [batch, channels, y, x]; H and W are the input's height and width.`,
    '',
    "| id | channels × size | values | the card's meaning of the ONNX output |",
    '| --- | --- | --- | --- |',
    ...outputRows,
    '',
    'The ONNX graph outputs logits for `foreground` and `distance`; the description applies a `sigmoid` as postprocessing, so the package (and its test outputs) give probabilities. `features` and `details` are passed on unchanged.',
    '',
    ...proposalsSection(source),
    '',
    ...decoderSection(source),
    '',
    ...trainingSection(source),
    '',
    ...validationSection(source),
    '',
    '## Test tensors',
    '',
    `${facts.testImage} The outputs were computed when this package was built, with Tessera's own normalisation and onnxruntime-node ${facts.onnxRuntime}. bioimage.io tools should reproduce them within an absolute ${REPRODUCIBILITY.absolute_tolerance} plus a relative ${REPRODUCIBILITY.relative_tolerance} (config.bioimageio.reproducibility_tolerance).`,
    '',
    '## Citation',
    '',
    `Cite the model as: ${facts.name}, exported by Tessera (collaborative labelling with an in-browser segmentation model) on request of a member of the project "${source.project.name}". Its base model's data and the evaluation protocol:`,
    '',
    ...CITATIONS.map(
      (entry) => `- ${entry.text} ${'doi' in entry ? `https://doi.org/${entry.doi}` : entry.url}`,
    ),
    '',
    '## Licence',
    '',
    `${MODEL_LICENSE} for the weights, the decoder and this description: they were trained by Tessera's trainer (tessera_trainer). The base model's real training images (DSB2018, BBBC038) are CC0.${version.projectId === null ? '' : " The project's own images are not included; their owners decide how they may be used."}`,
    '',
  ]
  return lines.join('\n')
}
