// Connects an open image to the segmentation worker: loads the project's current model version
// (once per tab and version), hands the worker the image's raw samples so it encodes them in
// the background (the tiles in view first), and gives the editor its SegmentationAssist. When
// the project's version changes while the image is open, the worker swaps models (dropping the
// old version's features and encoding again from the view) and the editor gets the new assist.
import { useEffect, useRef, useState } from 'react'
import type { ImageInfo } from '../../../shared/schemas/images.ts'
import type { CurrentModel } from '../../../shared/schemas/modelCard.ts'
import type { RawSamples } from '../editor/canvas/channelDisplay.ts'
import type { Editor } from '../editor/core/Editor.ts'
import { type AssistStatus, ImageAssistLink, statusOf } from './ImageAssistLink.ts'
import type { LoadResult } from './protocol.ts'
import { SegmentationClient } from './SegmentationClient.ts'
import { modelKeyOf, type ProjectModel } from './useProjectModel.ts'

export type { AssistStatus }

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
    const current = new ImageAssistLink(
      worker,
      loadModel,
      imageKey,
      image,
      samples,
      editor,
      setStatus,
    )
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
