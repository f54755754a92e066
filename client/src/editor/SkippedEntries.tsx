// Entries of the image's document the editor does not draw (malformed, or not allowed on this
// image), with the reason for each: an owner may delete them here; others see how many there are.
import { useEditorSelector } from './canvas/useEditor.ts'
import type { Editor } from './core/Editor.ts'

const SHOWN = 100

export function SkippedEntries({ editor }: { editor: Editor }) {
  const skipped = useEditorSelector(editor, (s) => s.skipped)
  if (skipped.length === 0) return null
  const heading = `Skipped entries (${skipped.length})`
  if (!editor.rights.deleteSkipped) {
    return (
      <p className="muted small" data-testid="skipped-entries" data-count={skipped.length}>
        {heading}: not drawn; an owner can remove them.
      </p>
    )
  }
  return (
    <div className="skipped-entries" data-testid="skipped-entries" data-count={skipped.length}>
      <h4>{heading}</h4>
      <p className="muted small">
        Not drawn: malformed, or not allowed on this image. Deleting one removes it for everyone.
      </p>
      <ul className="skipped-list">
        {skipped.slice(0, SHOWN).map((entry) => (
          <li key={entry.id} className="skipped-item" data-testid="skipped-entries.item">
            <span className="skipped-reason">
              <code>{entry.id}</code> {entry.reason}
            </span>
            <button
              type="button"
              className="danger"
              onClick={() => editor.deleteSkipped(entry.id)}
              data-testid="skipped-entries.delete"
            >
              Delete
            </button>
          </li>
        ))}
      </ul>
      {skipped.length > SHOWN && (
        <p className="muted small">
          Showing {SHOWN} of {skipped.length}; delete these to see the rest.
        </p>
      )}
    </div>
  )
}
