// Pre-annotation of an open image: once its document has synced and a model version's assist is
// installed, the version's automatic proposals over the whole image become suggestions, when
// the project asks for it and the image needs them (editor/core/preannotation.ts). suggest()
// skips proposals that overlap an annotation, so two editors opening the image at once add few
// duplicates (only what both write before either hears of the other's). Runs once
// per version and open image; this browser remembers where it ran, since rejected suggestions
// leave no trace in the document.
import { useEffect, useRef, useState } from 'react'
import { readReviewState } from '../../../shared/doc/index.ts'
import type { ActiveLearningSettings } from '../../../shared/schemas/activeLearning.ts'
import type { ImageInfo } from '../../../shared/schemas/images.ts'
import { useEditorSelector } from '../editor/canvas/useEditor.ts'
import type { Editor } from '../editor/core/Editor.ts'
import { needsPreannotation } from '../editor/core/preannotation.ts'

export interface PreannotationState {
  phase: 'running' | 'done' | 'failed'
  version: string
  added?: number
  error?: string
}

const memoryKey = (image: ImageInfo) => `tessera-preannotated:${image.id}:${image.sha256}`

function remembered(image: ImageInfo): string | null {
  try {
    return localStorage.getItem(memoryKey(image))
  } catch {
    return null
  }
}

function remember(image: ImageInfo, version: string) {
  try {
    localStorage.setItem(memoryKey(image), version)
  } catch {
    // Storage full or off: the document's suggestions still keep it from running twice.
  }
}

export function usePreannotation(
  editor: Editor,
  image: ImageInfo,
  synced: boolean,
  settings: ActiveLearningSettings | null,
  /** Whether the person holds the image's claim; null while not known. */
  claimedByMe: boolean | null,
): PreannotationState | null {
  const version = useEditorSelector(editor, (s) => s.assistVersion)
  const readOnly = useEditorSelector(editor, (s) => s.readOnly)
  const annotationsVersion = useEditorSelector(editor, () => editor.annotationsVersion)
  const [state, setState] = useState<PreannotationState | null>(null)
  const started = useRef(new Set<string>())

  // biome-ignore lint/correctness/useExhaustiveDependencies: annotationsVersion re-reads the doc
  useEffect(() => {
    if (!synced || !settings || claimedByMe === null) return
    if (version === null || started.current.has(version)) return
    const wanted = needsPreannotation({
      enabled: settings.preannotate,
      readOnly,
      status: readReviewState(editor.doc).status,
      version,
      annotations: editor.getAnnotations(),
      claimedByMe,
      alreadyRan: remembered(image),
    })
    if (!wanted) return
    started.current.add(version)
    setState({ phase: 'running', version })
    editor.suggest({ x: 0, y: 0, width: image.width, height: image.height }).then(
      (added) => {
        // A version swapped in meanwhile discards the answer; the next version runs instead.
        if (editor.state.assistVersion !== version) return
        remember(image, version)
        setState({ phase: 'done', version, added })
      },
      (error: unknown) =>
        setState({
          phase: 'failed',
          version,
          error: error instanceof Error ? error.message : String(error),
        }),
    )
  }, [editor, image, synced, settings, claimedByMe, version, readOnly, annotationsVersion])
  return state
}
