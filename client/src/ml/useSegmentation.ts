// Connects an open image to the segmentation worker: loads the project's current model version
// (once per tab and version), hands the worker the image's raw samples so it encodes them in
// the background (the tiles in view first), and gives the editor its SegmentationAssist. When
// the project's version changes while the image is open, the worker swaps models (dropping the
// old version's features and encoding again from the view) and the editor gets the new assist.
import { useEffect, useRef, useState } from 'react'
import type { ImageInfo } from '../../../shared/schemas/images.ts'
import type { CurrentModel } from '../../../shared/schemas/modelCard.ts'
import type { RawSamples } from '../editor/canvas/channelDisplay.ts'
import type { SegmentationAssist } from '../editor/core/assist.ts'
import type { Editor } from '../editor/core/Editor.ts'
import type { LoadResult } from './protocol.ts'
import { SegmentationClient } from './SegmentationClient.ts'
import { modelKeyOf, type ProjectModel } from './useProjectModel.ts'

export interface AssistStatus {
  state: 'loading' | 'encoding' | 'ready' | 'unavailable' | 'error'
  /** The whole line, as the toolbar shows it. */
  text: string
  /** The version whose assist the editor uses now (none until the first one is installed). */
  version?: string
  /** The line after the version ("ready", "encoding 3/16", "loading v2…"). */
  detail: string
}

let client: SegmentationClient | null = null
let loaded: { key: string; result: Promise<LoadResult> } | null = null

/** The tab's one segmentation worker (started on first use). */
export function segmentationClient(): SegmentationClient {
  client ??= new SegmentationClient()
  return client
}

function loadModel(model: CurrentModel): Promise<LoadResult> {
  const key = modelKeyOf(model)
  if (loaded?.key !== key) {
    const result = segmentationClient().load(model)
    loaded = { key, result }
    result.catch(() => {
      if (loaded?.result === result) loaded = null
    })
  }
  return loaded.result
}

export const imageKeyOf = (image: ImageInfo) => `${image.id}:${image.sha256}`

function statusOf(state: AssistStatus['state'], detail: string, version?: string): AssistStatus {
  return {
    state,
    detail,
    version,
    text: version === undefined ? detail : `Model ${version} · ${detail}`,
  }
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error))

/**
 * One open image's link to the worker: opens it once, follows the model versions it is given
 * one at a time (the latest wins), and installs each version's assist in the editor.
 */
class ImageAssistLink {
  private wanted: CurrentModel | null = null
  /** Key and version of the model whose assist is installed. */
  private installed: { key: string; version: string } | null = null
  private opened = false
  private syncing = false
  private loading = false
  private disposed = false
  private stopProgress: () => void

  constructor(
    private readonly worker: SegmentationClient,
    private readonly imageKey: string,
    private readonly image: ImageInfo,
    private readonly samples: RawSamples,
    private readonly editor: Editor,
    private readonly onStatus: (status: AssistStatus) => void,
  ) {
    this.stopProgress = worker.onProgress((key, progress) => {
      // Progress of the old version's tiles may arrive while the next one loads.
      if (this.disposed || key !== imageKey || this.loading || !this.installed) return
      const { version } = this.installed
      if (progress.error) {
        this.onStatus(statusOf('error', `error: ${progress.error}`, version))
        return
      }
      const done = progress.encodedTiles === progress.totalTiles
      this.onStatus(
        done
          ? statusOf('ready', 'ready', version)
          : statusOf(
              'encoding',
              `encoding ${progress.encodedTiles}/${progress.totalTiles}`,
              version,
            ),
      )
    })
  }

  follow(model: CurrentModel) {
    this.wanted = model
    void this.sync()
  }

  /** The project has no model, or it could not be read; an installed assist stays. */
  noModel(status: AssistStatus) {
    if (!this.installed && !this.syncing) this.onStatus(status)
  }

  private async sync() {
    if (this.syncing) return
    this.syncing = true
    try {
      while (!this.disposed && this.wanted && modelKeyOf(this.wanted) !== this.installed?.key) {
        const model = this.wanted
        await this.install(model)
        // A version that failed to load is not retried until another one is wanted.
        if (this.wanted === model && modelKeyOf(model) !== this.installed?.key) break
      }
    } finally {
      this.syncing = false
    }
  }

  private async install(model: CurrentModel) {
    const inUse = this.installed?.version
    this.loading = true
    this.onStatus(
      inUse === undefined
        ? statusOf('loading', `Model ${model.version}: loading…`)
        : statusOf('loading', `loading ${model.version}…`, inUse),
    )
    try {
      await loadModel(model)
      if (this.disposed) return
      if (!this.opened) {
        // The worker keeps its own copy: the page's samples stay with the display.
        const { image } = this
        await this.worker.open(
          this.imageKey,
          {
            width: image.width,
            height: image.height,
            channels: image.channels,
            samples: this.samples.slice() as RawSamples,
            stats: image.stats,
          },
          this.editor.visibleArea() ?? undefined,
        )
        if (this.disposed) {
          // Closed while the worker was opening it (the close went first): close it again.
          this.worker.close(this.imageKey)
          return
        }
        this.opened = true
      }
    } catch (error) {
      this.loading = false
      if (this.disposed) return
      this.onStatus(
        inUse === undefined
          ? statusOf('error', `Model unavailable: ${messageOf(error)}`)
          : statusOf('error', `${model.version} failed to load: ${messageOf(error)}`, inUse),
      )
      return
    }
    // Loading replaced every open image's session in the worker: this image's tiles are
    // encoded again with the new version, the ones in view first.
    const { worker, imageKey } = this
    const assist: SegmentationAssist = {
      version: model.version,
      click: (objectKey, clicks) => worker.click(imageKey, objectKey, clicks),
      forget: (objectKey) => worker.forget(imageKey, objectKey),
      propose: async (area) => (await worker.propose(imageKey, area)).proposals,
    }
    this.installed = { key: modelKeyOf(model), version: model.version }
    this.loading = false
    this.editor.setAssist(assist)
    this.onStatus(statusOf('encoding', 'encoding…', model.version))
  }

  dispose() {
    this.disposed = true
    this.stopProgress()
    this.editor.setAssist(null)
    this.worker.close(this.imageKey)
  }
}

export function useSegmentation(
  projectModel: ProjectModel,
  image: ImageInfo,
  samples: RawSamples | null,
  editor: Editor,
): AssistStatus {
  const [status, setStatus] = useState<AssistStatus>(() => statusOf('loading', 'Model: loading…'))
  const link = useRef<ImageAssistLink | null>(null)
  useEffect(() => {
    if (!samples) return
    const worker = segmentationClient()
    const imageKey = imageKeyOf(image)
    const current = new ImageAssistLink(worker, imageKey, image, samples, editor, setStatus)
    link.current = current
    // Background encoding follows the view.
    let lastFocus = ''
    const unsubscribe = editor.subscribe(() => {
      const view = editor.visibleArea()
      const key = view ? `${view.x},${view.y},${view.width},${view.height}` : ''
      if (view && key !== lastFocus) {
        lastFocus = key
        worker.focus(imageKey, view)
      }
    })
    return () => {
      unsubscribe()
      current.dispose()
      if (link.current === current) link.current = null
    }
  }, [image, samples, editor])
  // Runs after the effect above (same commit, declaration order), so the link exists.
  const model = projectModel.state === 'ready' ? projectModel.model : null
  const modelKey = model ? modelKeyOf(model) : null
  // biome-ignore lint/correctness/useExhaustiveDependencies: a version is followed by its key
  useEffect(() => {
    const current = link.current
    if (!current) return
    if (model) current.follow(model)
    else if (projectModel.state === 'unavailable')
      current.noModel(statusOf('unavailable', 'No model on this server'))
    else if (projectModel.state === 'error')
      current.noModel(statusOf('error', `Model unavailable: ${projectModel.error}`))
  }, [modelKey, projectModel.state, image, samples, editor])
  return status
}
