// Live instrument streams as a person sees them, on a real server with the real model: an owner
// creates a stream, a flag rule and an instrument token on the Streams tab; the detector
// simulator sends a series over the ingest socket; the live view shows frames arriving (figures,
// counters and a loaded picture), the flagged frames' events appear in the log, and Keep turns
// the shown frame into an image of the project, listed on the Images tab.
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type SimulatorRun,
  simulateDetector,
  syntheticFrames,
} from '../server/src/streams/simulator.ts'
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../server/test/harness.ts'
import { AppPages } from './fixtures/AppPages.ts'
import { type BrowserSession, openBrowser } from './fixtures/browser.ts'
import { StreamsPage } from './fixtures/StreamsPage.ts'
import { seedProject } from './fixtures/seedProject.ts'

/** Frames of the series, one in LARGE_EVERY with a large nucleus; sent at RATE a second. */
const FRAMES = 30
const LARGE_EVERY = 10
const RATE = 5
const SIZE = 256

let server: TestServer
let projectId: number
let session: BrowserSession | undefined
let run: SimulatorRun | undefined
let other: BrowserSession | undefined
/** Where to save screenshots of the live view (none when unset). */
const screenshots = process.env.TESSERA_E2E_SCREENSHOTS

beforeAll(async () => {
  server = await startTestServer()
  ;({ projectId } = await seedProject(server.admin, {
    name: 'Beamline',
    width: 64,
    height: 64,
    roles: { viola: 'viewer', anna: 'annotator' },
  }))
})

afterAll(async () => {
  run?.close()
  await other?.close()
  await session?.close()
  await server?.close()
})

async function shoot(name: string) {
  if (!screenshots || !session) return
  fs.mkdirSync(screenshots, { recursive: true })
  await session.page.screenshot({ path: path.join(screenshots, name), fullPage: true })
}

describe('the Streams tab', () => {
  it('shows frames arriving, logs the flagged frames and keeps a frame as an image', async () => {
    const series = syntheticFrames({
      width: SIZE,
      height: SIZE,
      count: FRAMES,
      seed: 7,
      dtype: 'uint16',
      largeEvery: LARGE_EVERY,
    })
    expect(series.large.size).toBe(FRAMES / LARGE_EVERY)
    // Between the largest normal nucleus and the smallest large one.
    const threshold = Math.round((series.normalMaxArea + series.largeArea) / 2)

    session = await openBrowser(server.url)
    await new AppPages(session.page).login('admin', ADMIN_PASSWORD)
    const streams = new StreamsPage(session.page)
    await streams.open(projectId)
    await session.page.getByTestId('streams.empty').waitFor()

    // The owner sets it all up in the tab: a stream that queues (no frame is dropped), a flag
    // rule on object area, and a token for the instrument.
    const streamId = await streams.createStream('Detector A', { queue: 64 })
    const rule = await streams.addRule({
      name: 'Large nucleus',
      metric: 'object_area',
      op: '>=',
      value: threshold,
      action: 'flag',
    })
    await expect(rule.textContent()).resolves.toContain(`area (px) ≥ ${threshold}`)
    const token = await streams.createToken('simulator')
    expect(token).toMatch(/^tsi_/)
    await session.page.getByTestId('streams.events.empty').waitFor()
    await expect(
      session.page.getByTestId('streams.series.connection').getAttribute('data-connected'),
    ).resolves.toBe('0')

    // The instrument: the simulator over the real ingest socket.
    await streams.recordLive()
    run = await simulateDetector({
      url: `${server.url.replace(/^http/, 'ws')}/streams/${streamId}/ingest`,
      token,
      seriesId: 1,
      shape: [SIZE, SIZE],
      dtype: 'uint16',
      channels: 1,
      frames: series.frames,
      rate: RATE,
    })

    // Frames arrive: the picture shows, and the figures and counters move while they do.
    const firstLarge = Math.min(...series.large)
    await streams.event(firstLarge, 'flag').waitFor({ timeout: 60_000 })
    const picture = await streams.picture()
    expect(picture.complete).toBe(true)
    expect(picture.width).toBe(SIZE)
    expect(picture.height).toBe(SIZE)
    await shoot('streams-live.png')
    await run.done
    const last = FRAMES - 1
    await streams.waitForShownFrame(last)
    await session.page
      .locator(`[data-testid="streams.counters.processed"][data-value="${FRAMES}"]`)
      .waitFor({ timeout: 30_000 })

    const samples = await streams.liveSamples()
    const shown = samples.filter((s) => s.seq > 0)
    // Several frames were shown one after another, not only the last one at the end.
    expect(new Set(shown.map((s) => s.frame)).size).toBeGreaterThanOrEqual(4)
    expect(shown.every((s, i) => i === 0 || s.seq >= shown[i - 1]!.seq)).toBe(true)
    const processed = samples.map((s) => s.processed)
    expect(new Set(processed).size).toBeGreaterThanOrEqual(4)
    expect(processed.every((n, i) => i === 0 || n >= processed[i - 1]!)).toBe(true)
    expect(await streams.counter('received')).toBe(FRAMES)
    expect(await streams.counter('dropped')).toBe(0)

    // The flagged frames are exactly the large ones, newest first in the log.
    const flagged = await streams.loggedFrames('flag')
    expect(flagged).toEqual([...series.large].sort((a, b) => b - a))
    expect(await streams.counter('flagged')).toBe(series.large.size)

    // Keep the shown frame (the series' last): it becomes an image of the project.
    const picturedFrame = (await streams.picture()).frame
    expect(picturedFrame).toBe(last)
    const imageId = await streams.keep()
    expect(imageId).toBeGreaterThan(0)
    await session.page
      .locator(`[data-testid="streams.figures.kept"][data-image-id="${imageId}"]`)
      .waitFor()
    await streams.event(last, 'flag').and(session.page.locator('[data-kept="true"]')).waitFor()
    // The stream's kept counter follows (from the live channel).
    await session.page
      .locator('[data-testid="streams.counters.kept"][data-value="1"]')
      .waitFor({ timeout: 5_000 })
    await shoot('streams-kept.png')

    await session.page.getByTestId('project.tab.images').click()
    await session.page
      .locator(`[data-testid="image-grid.item"][data-image-id="${imageId}"]`)
      .waitFor()
    await expect(session.page.getByTestId('image-grid.item').count()).resolves.toBe(2)
  }, 240_000)

  it('lets every member watch, annotators keep, and only owners change', async () => {
    // After the first test: the stream has its rule, events and a kept frame.
    for (const [username, canKeep] of [
      ['viola', false],
      ['anna', true],
    ] as const) {
      other = await openBrowser(server.url)
      await new AppPages(other.page).login(username, `${username}-password`)
      const streams = new StreamsPage(other.page)
      await streams.open(projectId)
      await other.page.getByTestId('streams.picture.image').waitFor()
      await other.page.getByTestId('streams.events.item').first().waitFor()
      await other.page
        .getByTestId('streams.rules.item')
        .filter({ hasText: 'Large nucleus' })
        .waitFor()
      for (const ownerOnly of [
        'streams.create',
        'streams.tokens',
        'streams.settings-card',
        'streams.rules.edit',
      ])
        await expect(other.page.getByTestId(ownerOnly).count(), ownerOnly).resolves.toBe(0)
      await expect(other.page.getByTestId('streams.keep').count()).resolves.toBe(canKeep ? 1 : 0)
      if (canKeep) {
        // The shown frame was kept already: the same image, said so.
        await other.page.getByTestId('streams.keep').click()
        await other.page
          .getByTestId('streams.keep.message')
          .filter({ hasText: 'Already kept' })
          .waitFor()
      }
      await other.close()
      other = undefined
    }
  }, 120_000)
})
