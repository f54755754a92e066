// Connects an open image to the segmentation worker: loads the project's current model version
// (once per tab and version), hands the worker the image's raw samples so it encodes them in
// the background (the tiles in view first), and gives the editor its SegmentationAssist.
import { useEffect, useState } from 'react'
import type { ImageInfo } from '../../../shared/schemas/images.ts'
import type { CurrentModel } from '../../../shared/schemas/modelCard.ts'
import { ApiError, api } from '../api/apiClient.ts'
import type { RawSamples } from '../editor/canvas/channelDisplay.ts'
import type { SegmentationAssist } from '../editor/core/assist.ts'
import type { Editor } from '../editor/core/Editor.ts'
import type { LoadResult } from './protocol.ts'
import { SegmentationClient } from './SegmentationClient.ts'

export interface AssistStatus {
  state: 'loading' | 'encoding' | 'ready' | 'unavailable' | 'error'
  text: string
  version?: string
}

let client: SegmentationClient | null = null
let loaded: { version: string; result: Promise<LoadResult> } | null = null

/** The tab's one segmentation worker (started on first use). */
export function segmentationClient(): SegmentationClient {
  client ??= new SegmentationClient()
  return client
}

function loadModel(model: CurrentModel): Promise<LoadResult> {
  if (loaded?.version !== model.version) {
    const result = segmentationClient().load(model)
    loaded = { version: model.version, result }
    result.catch(() => {
      if (loaded?.result === result) loaded = null
    })
  }
  return loaded.result
}

export const imageKeyOf = (image: ImageInfo) => `${image.id}:${image.sha256}`

export function useSegmentation(
  projectId: number,
  image: ImageInfo,
  samples: RawSamples | null,
  editor: Editor,
): AssistStatus {
  const [status, setStatus] = useState<AssistStatus>({ state: 'loading', text: 'Model: loading…' })
  useEffect(() => {
    if (!samples) return
    let current = true
    const worker = segmentationClient()
    const imageKey = imageKeyOf(image)
    const stopProgress = worker.onProgress((key, progress) => {
      if (!current || key !== imageKey) return
      if (progress.error) {
        setStatus({ state: 'error', text: `Model error: ${progress.error}` })
        return
      }
      const done = progress.encodedTiles === progress.totalTiles
      setStatus((s) => ({
        state: done ? 'ready' : 'encoding',
        version: s.version,
        text: done
          ? `Model ${s.version} · ready`
          : `Model ${s.version} · encoding ${progress.encodedTiles}/${progress.totalTiles}`,
      }))
    })
    ;(async () => {
      const model = await api<CurrentModel>('GET', `/api/projects/${projectId}/model`)
      if (!current) return
      setStatus({
        state: 'loading',
        version: model.version,
        text: `Model ${model.version}: loading…`,
      })
      await loadModel(model)
      if (!current) return
      // The worker keeps its own copy: the page's samples stay with the display.
      const copy = samples.slice() as RawSamples
      await worker.open(
        imageKey,
        {
          width: image.width,
          height: image.height,
          channels: image.channels,
          samples: copy,
          stats: image.stats,
        },
        editor.visibleArea() ?? undefined,
      )
      if (!current) {
        // Closed while the worker was opening it (the close went first): close it again.
        worker.close(imageKey)
        return
      }
      const assist: SegmentationAssist = {
        version: model.version,
        click: (objectKey, clicks) => worker.click(imageKey, objectKey, clicks),
        forget: (objectKey) => worker.forget(imageKey, objectKey),
        propose: async (area) => (await worker.propose(imageKey, area)).proposals,
      }
      editor.setAssist(assist)
      setStatus({
        state: 'encoding',
        version: model.version,
        text: `Model ${model.version} · encoding…`,
      })
    })().catch((error: unknown) => {
      if (!current) return
      if (error instanceof ApiError && error.status === 404)
        setStatus({ state: 'unavailable', text: 'No model on this server' })
      else
        setStatus({
          state: 'error',
          text: `Model unavailable: ${error instanceof Error ? error.message : String(error)}`,
        })
    })
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
      current = false
      stopProgress()
      unsubscribe()
      editor.setAssist(null)
      worker.close(imageKey)
    }
  }, [projectId, image, samples, editor])
  return status
}
