// Tool buttons with their shortcuts, undo/redo and view controls; the page adds its own
// controls (Next, pre-annotation's status) after the model's status.

import { type ReactNode, useState } from 'react'
import type { AssistStatus } from '../ml/useSegmentation.ts'
import { useEditorSelector } from './canvas/useEditor.ts'
import type { Editor } from './core/Editor.ts'
import { describeClickMask } from './core/provenance.ts'
import { TOOLS } from './core/tools/index.ts'

export function Toolbar({
  editor,
  onFit,
  onHelp,
  assistStatus,
  children,
}: {
  editor: Editor
  onFit(): void
  onHelp(): void
  assistStatus: AssistStatus
  children?: ReactNode
}) {
  const toolId = useEditorSelector(editor, (s) => s.toolId)
  const readOnly = useEditorSelector(editor, (s) => s.readOnly)
  const assistVersion = useEditorSelector(editor, (s) => s.assistVersion)
  const assisted = useEditorSelector(editor, (s) => s.assisted)
  const message = useEditorSelector(editor, (s) => s.message)
  const assistNote = assisted?.error
    ? `Model error: ${assisted.error}`
    : assisted && assisted.answered === assisted.clicks.length && !assisted.result?.rings
      ? 'No object under the clicks'
      : null
  // Which version drew the mask in view: after a swap the old one's stays until the new answers.
  const clickMask = assisted?.result?.rings ? assisted.result : null
  const [auto, setAuto] = useState<{ busy: boolean; message: string | null }>({
    busy: false,
    message: null,
  })
  const runAuto = async () => {
    setAuto({ busy: true, message: 'Auto: finding objects in view…' })
    try {
      const added = await editor.suggest()
      setAuto({
        busy: false,
        message: `Auto: ${added} suggestion${added === 1 ? '' : 's'} added`,
      })
    } catch (error) {
      setAuto({
        busy: false,
        message: `Auto failed: ${error instanceof Error ? error.message : String(error)}`,
      })
    }
  }
  return (
    <div className="toolbar" role="toolbar" aria-label="Tools">
      {TOOLS.map((tool) => (
        <button
          key={tool.id}
          type="button"
          className={toolId === tool.id ? 'tool active' : 'tool'}
          disabled={
            (readOnly && tool.id !== 'select') || (tool.id === 'click' && assistVersion === null)
          }
          onClick={() => editor.setTool(tool.id)}
          title={`${tool.label} (${tool.shortcut.toUpperCase()})`}
          data-testid={`tools.${tool.id}`}
        >
          {tool.label}
          <kbd>{tool.shortcut.toUpperCase()}</kbd>
        </button>
      ))}
      <button
        type="button"
        onClick={runAuto}
        disabled={readOnly || assistVersion === null || auto.busy}
        title="Add the model's objects in view as suggestions"
        data-testid="tools.auto"
      >
        Auto
      </button>
      <span
        className={`model-status model-${assistStatus.state}`}
        data-testid="model.status"
        data-state={assistStatus.state}
        data-version={assistStatus.version}
        title={assistStatus.text}
      >
        {assistStatus.version === undefined ? (
          assistStatus.text
        ) : (
          <>
            Model <span data-testid="editor.model-version">{assistStatus.version}</span> ·{' '}
            {assistStatus.detail}
          </>
        )}
      </span>
      {(assistNote ?? auto.message) && (
        <span className="model-status" data-testid="model.message">
          {assistNote ?? auto.message}
        </span>
      )}
      {clickMask && (
        <span
          className="model-status"
          data-testid="model.click-result"
          data-model-version={clickMask.modelVersion}
          data-clicks={assisted?.clicks.length}
          aria-busy={assisted?.answered !== assisted?.clicks.length}
        >
          {describeClickMask(clickMask.modelVersion, assisted?.clicks.length ?? 0)}
        </span>
      )}
      {children}
      {message && (
        <span className="editor-message" role="alert" data-testid="editor.message" title={message}>
          <span className="editor-message-text">{message}</span>
          <button
            type="button"
            onClick={() => editor.dismissMessage()}
            aria-label="Dismiss"
            data-testid="editor.message.dismiss"
          >
            ×
          </button>
        </span>
      )}
      <span className="toolbar-gap" />
      <button
        type="button"
        onClick={() => editor.undo()}
        disabled={readOnly}
        data-testid="tools.undo"
        title="Undo (Ctrl+Z)"
      >
        Undo
      </button>
      <button
        type="button"
        onClick={() => editor.redo()}
        disabled={readOnly}
        data-testid="tools.redo"
        title="Redo (Ctrl+Shift+Z)"
      >
        Redo
      </button>
      <button type="button" onClick={onFit} title="Fit (F)">
        Fit
      </button>
      <button type="button" onClick={onHelp} title="Shortcuts (?)" data-testid="tools.help">
        ?
      </button>
    </div>
  )
}

export const SHORTCUTS: [string, string][] = [
  ...TOOLS.map((t): [string, string] => [t.shortcut.toUpperCase(), t.label]),
  ['1–9, letters', 'Class by its shortcut key (selected annotations too)'],
  ['Enter', "Finish a polygon or polyline; accept the click tool's mask as a polygon"],
  ['Shift+Enter', "Accept the click tool's mask as a raster mask"],
  ['Click / right click (Alt+click)', 'Click tool: add a positive / negative point'],
  ['[ / ]', 'Smaller / larger brush and eraser'],
  [
    'Drag a vertex; press an edge; Alt+click a vertex',
    'Move, insert, delete vertices of the selected shape',
  ],
  ['Backspace', 'Remove the last vertex while drawing; else delete the selection'],
  ['Delete', 'Delete the selection'],
  ['Escape', 'Cancel drawing, then clear the selection'],
  ['Ctrl+Z / Ctrl+Shift+Z', 'Undo / redo your own edits'],
  ['Ctrl+C / Ctrl+V', 'Copy / paste (also between images)'],
  ['Ctrl+D', 'Duplicate the selection'],
  ['Space + drag, middle drag', 'Pan'],
  ['Wheel', 'Zoom around the cursor'],
  ['F / 0', 'Fit the image / one image pixel per screen pixel'],
  ['?', 'This help'],
]
