// An open image following the project's model versions, with a stand-in worker: opened once,
// each version loaded and its assist installed in turn (the latest wins), progress of an old
// version ignored while the next loads, a failed version leaving the one in use.
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { ImageInfo } from '../../../shared/schemas/images.ts'
import type { CurrentModel } from '../../../shared/schemas/modelCard.ts'
import { Editor } from '../editor/core/Editor.ts'
import { type AssistStatus, type AssistWorker, ImageAssistLink } from './ImageAssistLink.ts'
import type { EncodingProgress } from './SegmentationClient.ts'

const image = {
  id: 1,
  sha256: 'abc',
  width: 4,
  height: 4,
  channels: 1,
  stats: [],
} as unknown as ImageInfo
const modelOf = (version: string, id: number) =>
  ({
    versionId: id,
    version,
    card: {},
    files: { encoder: `/m/${id}/encoder`, decoder: `/m/${id}/decoder`, parity: null },
  }) as unknown as CurrentModel

function deferred<T = void>() {
  let resolve!: (value: T) => void
  let reject!: (error: Error) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

function setup() {
  const log: string[] = []
  const loads = new Map<string, ReturnType<typeof deferred<void>>>()
  let progress: ((imageKey: string, p: EncodingProgress) => void) | null = null
  const worker: AssistWorker = {
    open: async (key) => {
      log.push(`open ${key}`)
      return null
    },
    close: (key) => log.push(`close ${key}`),
    click: async () => {
      throw new Error('not used')
    },
    forget: () => undefined,
    propose: async () => ({ proposals: [], workerMs: 0 }),
    onProgress: (listener) => {
      progress = listener
      return () => {
        progress = null
        return true
      }
    },
  }
  const load = (model: CurrentModel) => {
    log.push(`load ${model.version}`)
    const d = deferred<void>()
    loads.set(model.version, d)
    return d.promise
  }
  const editor = new Editor(new Y.Doc(), 1, { readOnly: false, classId: null })
  const statuses: AssistStatus[] = []
  const link = new ImageAssistLink(worker, load, '1:abc', image, new Uint8Array(16), editor, (s) =>
    statuses.push(s),
  )
  const tick = () => new Promise((resolve) => setTimeout(resolve, 0))
  const sendProgress = (encodedTiles: number, totalTiles: number) =>
    progress?.('1:abc', {
      encodedTiles,
      totalTiles,
      lastTileMs: 1,
      timings: {} as EncodingProgress['timings'],
    })
  const last = () => statuses[statuses.length - 1]!
  return { log, loads, link, editor, tick, sendProgress, last }
}

describe('ImageAssistLink', () => {
  it('opens the image once and swaps the assist when the version changes', async () => {
    const t = setup()
    t.link.follow(modelOf('v0', 1))
    expect(t.last()).toMatchObject({ state: 'loading', version: undefined })
    t.loads.get('v0')!.resolve()
    await t.tick()
    expect(t.log).toEqual(['load v0', 'open 1:abc'])
    expect(t.editor.state.assistVersion).toBe('v0')
    expect(t.last()).toMatchObject({ state: 'encoding', version: 'v0' })
    t.sendProgress(4, 4)
    expect(t.last()).toMatchObject({ state: 'ready', version: 'v0', text: 'Model v0 · ready' })

    t.link.follow(modelOf('v1', 2))
    expect(t.last()).toMatchObject({ state: 'loading', version: 'v0', detail: 'loading v1…' })
    // The old version's tiles still report while the new one loads: not shown.
    t.sendProgress(4, 4)
    expect(t.last().state).toBe('loading')
    t.loads.get('v1')!.resolve()
    await t.tick()
    expect(t.log).toEqual(['load v0', 'open 1:abc', 'load v1'])
    expect(t.editor.state.assistVersion).toBe('v1')
    t.sendProgress(1, 4)
    expect(t.last()).toMatchObject({ state: 'encoding', version: 'v1', detail: 'encoding 1/4' })

    // The same version again (a refetch) changes nothing.
    t.link.follow(modelOf('v1', 2))
    await t.tick()
    expect(t.log).toHaveLength(3)
    t.link.dispose()
    expect(t.log.at(-1)).toBe('close 1:abc')
    expect(t.editor.state.assistVersion).toBeNull()
  })

  it('goes to the latest version when several arrive while one loads', async () => {
    const t = setup()
    t.link.follow(modelOf('v0', 1))
    t.link.follow(modelOf('v1', 2))
    t.link.follow(modelOf('v2', 3))
    t.loads.get('v0')!.resolve()
    await t.tick()
    expect(t.log).toEqual(['load v0', 'open 1:abc', 'load v2'])
    t.loads.get('v2')!.resolve()
    await t.tick()
    expect(t.editor.state.assistVersion).toBe('v2')
  })

  it('keeps the version in use when the next one fails to load', async () => {
    const t = setup()
    t.link.follow(modelOf('v0', 1))
    t.loads.get('v0')!.resolve()
    await t.tick()
    t.link.follow(modelOf('v1', 2))
    t.loads.get('v1')!.reject(new Error('HTTP 500'))
    await t.tick()
    expect(t.editor.state.assistVersion).toBe('v0')
    expect(t.last()).toMatchObject({
      state: 'error',
      version: 'v0',
      detail: 'v1 failed to load: HTTP 500',
    })
  })

  it('closes an image whose page went away while its model loaded', async () => {
    const t = setup()
    t.link.follow(modelOf('v0', 1))
    t.link.dispose()
    t.loads.get('v0')!.resolve()
    await t.tick()
    expect(t.log).toEqual(['load v0', 'close 1:abc'])
    expect(t.editor.state.assistVersion).toBeNull()
  })
})
