// What the learning loop gains on a domain v0 never saw (../shared/data/dsb2018_tissue_public:
// stained tissue and brightfield): K of its images labelled and marked done in a project, Train
// through the API with a real CPU worker (every core), the new version saved to
// bench-results/finetune-model/ (`npm run eval -- --model` loads it), and v0 and the new version
// evaluated on the other images with the evaluation code of `npm run eval`. Long: 15 minutes of
// training by default (BENCH_FINETUNE_MINUTES and BENCH_FINETUNE_K change the budget and K), and
// each model's evaluation takes minutes on a few cores (about 10 for 50 test images on 2 busy ones).
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { type EvaluationResult, evaluateModel } from '../server/src/models/evaluateModel.ts'
import { listLabelledImages, readLabelledImage } from '../server/src/models/labelledFolder.ts'
import { loadSegmenter, SHIPPED_MODEL_DIR } from '../server/src/models/loadModel.ts'
import { startTestServer } from '../server/test/harness.ts'
import { type LabelledImageFile, labelledProject } from '../server/test/labelledProject.ts'
import { ModelCard } from '../shared/schemas/modelCard.ts'
import { ModelVersionList, TrainingJob } from '../shared/schemas/training.ts'
import { type CpuWorker, startCpuWorker, stepsOf, waitForJob } from './cpuWorker.ts'
import { round } from './stats.ts'
import { type ManifestRow, readTissueManifest, TISSUE_DATA } from './tissueData.ts'

const DATA = TISSUE_DATA
const MODEL_OUT = path.resolve(import.meta.dirname, '../bench-results/finetune-model')
const SPLIT_SALT = 'tessera-finetune-v1:'
const K = Number(process.env.BENCH_FINETUNE_K ?? 20)
const MINUTES = Number(process.env.BENCH_FINETUNE_MINUTES ?? 15)

/**
 * The fixed split: per kind, ids ordered by sha256(salt + id), the first round(K × n_kind / n)
 * into training; the rest is the test set.
 */
function splitForFinetune(rows: ManifestRow[], k: number): { train: string[]; test: string[] } {
  const hash = (id: string) =>
    createHash('sha256')
      .update(SPLIT_SALT + id)
      .digest('hex')
  const train: string[] = []
  const test: string[] = []
  const kinds = [...new Set(rows.map((row) => row.kind))].sort()
  for (const kind of kinds) {
    const ids = rows
      .filter((row) => row.kind === kind)
      .map((row) => row.id)
      .sort((a, b) => (hash(a) < hash(b) ? -1 : hash(a) > hash(b) ? 1 : 0))
    const take = Math.round((k * ids.length) / rows.length)
    train.push(...ids.slice(0, take))
    test.push(...ids.slice(take))
  }
  return { train, test }
}

const entryOf = (id: string) => ({
  id,
  image: path.join(DATA, 'images', `${id}.png`),
  label: path.join(DATA, 'labels', `${id}.png`),
})

/** Saves a version's files under the names its card gives them (what loadModel reads). */
async function saveVersion(
  download: (file: string) => Promise<Buffer>,
  dir: string,
): Promise<ModelCard> {
  const cardBytes = await download('card')
  const card = ModelCard.parse(JSON.parse(cardBytes.toString('utf8')))
  if (
    card.encoder.file !== card.files.encoder.path ||
    card.decoder.file !== card.files.decoder.path
  )
    throw new Error(`card ${card.version}: encoder/decoder files disagree with its files list`)
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(dir, { recursive: true })
  for (const [name, info] of Object.entries(card.files)) {
    if (!info || path.basename(info.path) !== info.path)
      throw new Error(`card ${card.version}: file ${name} is not a plain name`)
    const bytes = await download(name)
    const sha256 = createHash('sha256').update(bytes).digest('hex')
    if (sha256 !== info.sha256)
      throw new Error(`${name}: sha256 ${sha256} is not the card's ${info.sha256}`)
    fs.writeFileSync(path.join(dir, info.path), bytes)
  }
  fs.writeFileSync(path.join(dir, 'card.json'), cardBytes)
  return card
}

/** A folder of symlinks in the images/ + labels/ layout that evaluation reads. */
function testFolder(ids: string[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-finetune-test-'))
  for (const sub of ['images', 'labels']) {
    fs.mkdirSync(path.join(dir, sub))
    for (const id of ids)
      fs.symlinkSync(path.join(DATA, sub, `${id}.png`), path.join(dir, sub, `${id}.png`))
  }
  return dir
}

/** As `npm run eval -- --data DIR --model MODEL` computes it. */
async function evaluateOn(dataDir: string, modelDir: string): Promise<EvaluationResult> {
  const entries = listLabelledImages(dataDir)
  const segmenter = await loadSegmenter(modelDir)
  async function* images() {
    for (const entry of entries) yield await readLabelledImage(entry)
  }
  try {
    // Minutes per model on a few cores: a line every ten images says it is moving.
    let done = 0
    return await evaluateModel(segmenter, images(), () => {
      done++
      if (done % 10 === 0 || done === entries.length)
        console.log(`${segmenter.card.version}: evaluated ${done}/${entries.length} images`)
    })
  } finally {
    await segmenter.release()
  }
}

/** Trains a new version from v0 on the images through the app and its worker; saves it. */
async function trainThroughApp(ids: string[]): Promise<{ job: TrainingJob; objects: number }> {
  const files: LabelledImageFile[] = []
  for (const id of ids) {
    const entry = entryOf(id)
    // The labels as labelledFolder decodes them for evaluation; the image as the original file.
    const { width, height, labels } = await readLabelledImage(entry)
    files.push({ name: `${id}.png`, bytes: fs.readFileSync(entry.image), width, height, labels })
  }
  const server = await startTestServer()
  const { admin } = server
  let worker: CpuWorker | undefined
  try {
    const { projectId, objects } = await labelledProject(admin, files, 'Finetune bench')
    worker = await startCpuWorker(admin, 'finetune bench')
    const created = await admin.request('POST', `/api/projects/${projectId}/jobs`, {
      minutes: MINUTES,
    })
    if (created.status !== 201) throw new Error(`Train: ${JSON.stringify(created.body)}`)
    const jobId = TrainingJob.parse(created.body).id
    // The budget plus download, evaluation, export and upload on a slow CPU.
    const job = await waitForJob(admin, projectId, jobId, worker, (MINUTES + 30) * 60_000)
    const versions = ModelVersionList.parse(
      (await admin.request('GET', `/api/projects/${projectId}/models`)).body,
    )
    const version = versions.versions.find((v) => v.id === job.resultVersion?.id)
    if (!version) throw new Error(`job ${jobId}: version ${job.resultVersion?.id} is not listed`)
    await saveVersion(async (file) => {
      // The bytes as served (the client of the harness would parse the JSON files).
      const response = await fetch(
        `${server.url}/api/projects/${projectId}/models/${version.id}/files/${file}`,
        { headers: { cookie: admin.cookieHeader() } },
      )
      if (response.status !== 200) throw new Error(`download ${file}: status ${response.status}`)
      return Buffer.from(await response.arrayBuffer())
    }, MODEL_OUT)
    console.log(
      `job ${jobId}: ${stepsOf(job)} steps in ${job.timings?.train ?? '?'} s; ${version.name} (${version.state}) saved to ${MODEL_OUT}`,
    )
    return { job, objects }
  } finally {
    await worker?.stop()
    await server.close()
  }
}

export async function run(): Promise<Record<string, number>> {
  if (!fs.existsSync(path.join(DATA, 'manifest.csv')))
    throw new Error(
      `The finetune benchmark needs ${DATA} (dsb2018_tissue_public, beside the project in ../shared/data); it is not there`,
    )
  if (!(Number.isInteger(K) && K > 0))
    throw new Error(`BENCH_FINETUNE_K must be a positive integer, not ${K}`)
  if (!(MINUTES > 0)) throw new Error(`BENCH_FINETUNE_MINUTES must be positive, not ${MINUTES}`)
  const { train, test } = splitForFinetune(readTissueManifest(), K)
  console.log(
    `finetune: ${train.length} training images, ${test.length} test images, ${MINUTES} min`,
  )
  const { job } = await trainThroughApp(train)

  const testDir = testFolder(test)
  try {
    const before = await evaluateOn(testDir, SHIPPED_MODEL_DIR)
    const after = await evaluateOn(testDir, MODEL_OUT)
    console.log(`evaluation: v0 ${round(before.seconds)} s, new ${round(after.seconds)} s`)
    return {
      finetune_ap50_before: round(before.auto_ap50, 3),
      finetune_ap50_after: round(after.auto_ap50, 3),
      finetune_noc85_before: round(before.noc85, 3),
      finetune_noc85_after: round(after.noc85, 3),
      finetune_iou1_before: round(before.iou_at_1click, 3),
      finetune_iou1_after: round(after.iou_at_1click, 3),
      finetune_minutes: round((job.timings?.train ?? Number.NaN) / 60, 2),
      k: train.length,
      test_images: before.n_images,
      test_objects: before.n_objects,
    }
  } finally {
    fs.rmSync(testDir, { recursive: true, force: true })
  }
}
