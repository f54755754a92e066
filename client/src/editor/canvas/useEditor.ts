// React reads the editor through these subscriptions: immutable snapshots, no copies. A
// selector keeps a component from re-rendering on changes it does not show (the camera moves
// every frame while panning).
import { useSyncExternalStore } from 'react'
import type { Editor, EditorState } from '../core/Editor.ts'

export const useEditorState = (editor: Editor) =>
  useSyncExternalStore(editor.subscribe, editor.getState)
export const useAnnotations = (editor: Editor) =>
  useSyncExternalStore(editor.subscribe, editor.getAnnotations)

/** One value of the editor's state; `select` must return a primitive or a kept reference. */
export function useEditorSelector<T>(editor: Editor, select: (state: EditorState) => T): T {
  return useSyncExternalStore(editor.subscribe, () => select(editor.state))
}
