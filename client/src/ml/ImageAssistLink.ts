// One open image's link to the segmentation worker: opens the image once, follows the model
// versions it is given one at a time (the latest wins), installs each version's assist in the
// editor and reports the status line. It never keeps pixels or features of its own.
import type { ImageInfo } from '../../../shared/schemas/images.ts'
import type { CurrentModel } from '../../../shared/schemas/modelCard.ts'
import type { RawSamples } from '../editor/canvas/channelDisplay.ts'
import type { SegmentationAssist } from '../editor/core/assist.ts'
import type { Editor } from '../editor/core/Editor.ts'
import type { SegmentationClient } from './SegmentationClient.ts'
import { modelKeyOf } from './useProjectModel.ts'

export interface AssistStatus {
  state: 'loading' | 'encoding' | 'ready' | 'unavailable' | 'error'
  /** The whole line, as the toolbar shows it. */
  text: string
  /** The version whose assist the editor uses now (none until the first one is installed). */
  version?: string
  /** The line after the version ("ready", "encoding 3/16", "loading v2…"). */
  detail: string
}

/** What the link needs of the worker (SegmentationClient; a stand-in in tests). */
export type AssistWorker = Pick<
  SegmentationClient,
  'open' | 'close' | 'click' | 'forget' | 'propose' | 'onProgress'
>

export function statusOf(
  state: AssistStatus['state'],
  detail: string,
  version?: string,
): AssistStatus {
  return {
    state,
    detail,
    version,
    text: version === undefined ? detail : `Model ${version} · ${detail}`,
  }
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error))

export class ImageAssistLink {
  private wanted: CurrentModel | null = null
  /** Key and version of the model whose assist is installed. */
  private installed: { key: string; version: string } | null = null
  private opened = false
  private syncing = false
  private loading = false
  private disposed = false
  private stopProgress: () => void

  constructor(
    private readonly worker: AssistWorker,
    /** Loads a version in the worker (once per tab and version). */
    private readonly load: (model: CurrentModel) => Promise<unknown>,
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
      await this.load(model)
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
