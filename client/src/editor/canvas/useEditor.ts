// React reads the editor through these subscriptions: immutable snapshots, no copies.
import { useSyncExternalStore } from 'react'
import type { Editor } from '../core/Editor.ts'

export const useEditorState = (editor: Editor) =>
  useSyncExternalStore(editor.subscribe, editor.getState)
export const useAnnotations = (editor: Editor) =>
  useSyncExternalStore(editor.subscribe, editor.getAnnotations)
