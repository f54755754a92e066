// Train to live on the CPU: 20 done 256² synthetic images, an editor of the project open in
// headless Chromium on v0, a real CPU worker (every core) already waiting; Train is pressed in the
// Training tab with the server's default budget, and the clock stops when the open editor shows
// v1 ready. The parts come from the job's timings; swap is the job's finish to v1 ready.
// Target on this machine (2 cores): train_to_live_s_cpu ≤ 300 s. One run: it is minutes long.
import { AppPages } from '../e2e/fixtures/AppPages.ts'
import { openBrowser } from '../e2e/fixtures/browser.ts'
import { ADMIN_PASSWORD, startTestServer } from '../server/test/harness.ts'
import { labelledProject, syntheticImages } from '../server/test/labelledProject.ts'
import { ModelVersionList, TrainingJobList } from '../shared/schemas/training.ts'
import { type CpuWorker, startCpuWorker, stepsOf, waitForJob } from './cpuWorker.ts'
import { round } from './stats.ts'

const IMAGES = 20
const SIZE = 256
/** Generous: the default budget is minutes, and a busy machine slows every phase. */
const JOB_TIMEOUT_MS = 30 * 60_000

export async function run(): Promise<Record<string, number>> {
  const server = await startTestServer()
  const { admin } = server
  const browser = await openBrowser(server.url)
  let worker: CpuWorker | undefined
  try {
    const { projectId, imageIds } = await labelledProject(
      admin,
      await syntheticImages(IMAGES, SIZE),
      'Train bench',
    )
    const { page, context } = browser
    const readyOn = (version: string) =>
      page.locator(`[data-testid="model.status"][data-state="ready"][data-version="${version}"]`)
    await new AppPages(page).login('admin', ADMIN_PASSWORD)
    // The editor is open and settled on v0 (encoded, nothing loading) before anything starts.
    await page.goto(`/projects/${projectId}/images/${imageIds[0]}`)
    await readyOn('v0').waitFor({ timeout: 180_000 })
    worker = await startCpuWorker(admin, 'train bench')

    // Train from the Training tab in a second tab of the same browser, as a user would, with no
    // minutes entered: the server's default budget applies.
    const training = await context.newPage()
    await training.goto(`/projects/${projectId}/training`)
    const train = training.getByTestId('training.train')
    await train.filter({ hasText: `Train on ${IMAGES} images` }).waitFor()
    const liveV1 = readyOn('v1').waitFor({ timeout: JOB_TIMEOUT_MS })
    liveV1.catch(() => {})
    const started = Date.now()
    await train.click()
    let jobs = TrainingJobList.parse(
      (await admin.request('GET', `/api/projects/${projectId}/jobs`)).body,
    ).jobs
    for (let tries = 0; jobs.length === 0 && tries < 100; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      jobs = TrainingJobList.parse(
        (await admin.request('GET', `/api/projects/${projectId}/jobs`)).body,
      ).jobs
    }
    if (jobs.length !== 1) throw new Error(`expected one job after Train, found ${jobs.length}`)
    const job = await waitForJob(admin, projectId, jobs[0].id, worker, JOB_TIMEOUT_MS)
    if (job.resultVersion?.name !== 'v1')
      throw new Error(`the job made ${job.resultVersion?.name}, not v1`)
    // A version the promotion rule leaves a candidate is promoted at once by hand (an owner's
    // click) so that the editor still swaps; train_auto_promoted then says 0.
    const versions = ModelVersionList.parse(
      (await admin.request('GET', `/api/projects/${projectId}/models`)).body,
    )
    const autoPromoted = versions.currentId === job.resultVersion.id
    const metrics = versions.versions.find((v) => v.id === job.resultVersion?.id)?.metrics
    console.log(`v1 on the job's validation images: ${JSON.stringify(metrics?.validation)}`)
    console.log(`v0 on the same images: ${JSON.stringify(metrics?.baseValidation)}`)
    if (!autoPromoted) {
      const promoted = await admin.request(
        'POST',
        `/api/projects/${projectId}/models/${job.resultVersion.id}/promote`,
      )
      if (promoted.status !== 200) throw new Error(`promote: ${JSON.stringify(promoted.body)}`)
    }
    await liveV1
    const live = Date.now()
    await training.close()

    const timings = job.timings ?? {}
    const seconds = (phase: string) => {
      const value = timings[phase]
      if (value === undefined) throw new Error(`the job's timings have no ${phase}`)
      return round(value)
    }
    console.log(
      `job ${job.id}: budget ${job.config.minutes} min, ${stepsOf(job)} steps; timings ${JSON.stringify(timings)}; ${autoPromoted ? 'promoted automatically' : 'left a candidate, promoted by hand'}`,
    )
    return {
      train_to_live_s_cpu: round((live - started) / 1000),
      train_queue_wait_s: seconds('queueWait'),
      train_data_s: seconds('download'),
      train_training_s: seconds('train'),
      train_evaluate_s: seconds('evaluate'),
      train_export_s: seconds('export'),
      train_upload_s: seconds('upload'),
      train_swap_s: round((live - Date.parse(job.finishedAt ?? '')) / 1000),
      train_images: job.trainingSet.images,
      train_steps: stepsOf(job),
      train_budget_minutes: job.config.minutes,
      train_auto_promoted: autoPromoted ? 1 : 0,
    }
  } finally {
    await worker?.stop()
    await browser.close()
    await server.close()
  }
}
