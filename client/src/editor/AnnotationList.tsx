// The side panel's list of annotations: filter by class, author and origin; hover highlights
// on the canvas and back; reviewers and owners accept or reject suggestions and annotations
// here, annotators may delete a pending suggestion; entries not drawn are listed below.
import { useState } from 'react'
import type { AnnotationRecord } from '../../../shared/schemas/annotation.ts'
import type { LabelClass, Member } from '../../../shared/schemas/projects.ts'
import { useAnnotations, useEditorSelector } from './canvas/useEditor.ts'
import type { Editor } from './core/Editor.ts'
import { describeOrigin, isSuggestion } from './core/provenance.ts'
import { SkippedEntries } from './SkippedEntries.tsx'

export function AnnotationList({
  editor,
  classes,
  members,
}: {
  editor: Editor
  classes: LabelClass[]
  members: Member[]
}) {
  const annotations = useAnnotations(editor)
  const selection = useEditorSelector(editor, (s) => s.selection)
  const hoverId = useEditorSelector(editor, (s) => s.hoverId)
  const readOnly = useEditorSelector(editor, (s) => s.readOnly)
  const [classFilter, setClassFilter] = useState('all')
  const [authorFilter, setAuthorFilter] = useState('all')
  const [originFilter, setOriginFilter] = useState('all')
  const nameOf = (userId: number | null) =>
    userId === null
      ? 'model'
      : (members.find((m) => m.userId === userId)?.displayName ?? `user ${userId}`)
  const className = (classId: number | null) =>
    classes.find((c) => c.id === classId)?.name ?? 'no class'
  const shown = annotations.filter(
    (a) =>
      (classFilter === 'all' || String(a.classId) === classFilter) &&
      (authorFilter === 'all' || String(a.author) === authorFilter) &&
      (originFilter === 'all' || originOf(a) === originFilter),
  )
  const authors = [...new Set(annotations.map((a) => a.author))]
  const canReview = editor.rights.review
  return (
    <section className="panel-section">
      <h3>
        Annotations <span className="muted">({annotations.length})</span>
      </h3>
      <div className="filters">
        <select
          value={classFilter}
          onChange={(e) => setClassFilter(e.target.value)}
          aria-label="Filter by class"
          title={classFilter === 'all' ? 'All classes' : className(Number(classFilter))}
        >
          <option value="all">All classes</option>
          {classes.map((c) => (
            <option key={c.id} value={String(c.id)}>
              {c.name}
            </option>
          ))}
        </select>
        <select
          value={authorFilter}
          onChange={(e) => setAuthorFilter(e.target.value)}
          aria-label="Filter by author"
        >
          <option value="all">All authors</option>
          {authors.map((a) => (
            <option key={String(a)} value={String(a)}>
              {nameOf(a)}
            </option>
          ))}
        </select>
        <select
          value={originFilter}
          onChange={(e) => setOriginFilter(e.target.value)}
          aria-label="Filter by origin"
        >
          <option value="all">People and model</option>
          <option value="human">People</option>
          <option value="click">Click tool</option>
          <option value="model">Model</option>
        </select>
      </div>
      <ul className="annotation-list" data-testid="annotation-list">
        {shown.slice(0, 500).map((a) => (
          <li
            key={a.id}
            className={[
              'annotation-item',
              selection.includes(a.id) ? 'selected' : '',
              hoverId === a.id ? 'hovered' : '',
            ].join(' ')}
            onMouseEnter={() => editor.setHover(a.id)}
            onMouseLeave={() => editor.setHover(null)}
            onClick={() => editor.select([a.id])}
            data-testid="annotation-list.item"
            data-annotation-id={a.id}
            data-review={a.review}
          >
            <span
              className="swatch"
              style={{ background: classes.find((c) => c.id === a.classId)?.color ?? '#999' }}
            />
            <span className="annotation-label">
              {a.kind} · {className(a.classId)}
              <span className="muted small"> {nameOf(a.author)}</span>
              {a.origin.type === 'model' && (
                <span
                  className="muted small"
                  data-testid="annotation-list.provenance"
                  data-model-version={a.origin.modelVersion}
                  data-clicks={a.origin.clicks}
                >
                  {' · '}
                  {describeOrigin(a.origin)}
                </span>
              )}
            </span>
            {a.review === 'rejected' && <span className="badge status-rejected">rejected</span>}
            {!readOnly && <ItemActions editor={editor} annotation={a} canReview={canReview} />}
          </li>
        ))}
      </ul>
      {shown.length > 500 && (
        <p className="muted small">Showing 500 of {shown.length}; filter to narrow.</p>
      )}
      <SkippedEntries editor={editor} />
    </section>
  )
}

/**
 * Review actions on one item: reviewers and owners accept or reject a pending suggestion or a
 * person's annotation; an annotator may only delete a pending suggestion.
 */
function ItemActions({
  editor,
  annotation: a,
  canReview,
}: {
  editor: Editor
  annotation: AnnotationRecord
  canReview: boolean
}) {
  const suggestion = isSuggestion(a) && a.review === 'pending'
  const act = (action: () => void) => (e: { stopPropagation(): void }) => {
    e.stopPropagation()
    action()
  }
  if (!canReview) {
    if (!suggestion) return null
    return (
      <span className="item-actions">
        <button
          type="button"
          className="danger"
          onClick={act(() => editor.deleteById(a.id))}
          data-testid="annotation-list.delete"
        >
          Delete
        </button>
      </span>
    )
  }
  // A decided suggestion has no actions left; a person's annotation (a click mask too) has.
  if (!suggestion && isSuggestion(a)) return null
  return (
    <span className="item-actions">
      {a.review !== 'accepted' || suggestion ? (
        <button
          type="button"
          onClick={act(() => editor.accept(a.id))}
          data-testid="annotation-list.accept"
        >
          Accept
        </button>
      ) : null}
      <button
        type="button"
        className="danger"
        onClick={act(() => editor.reject(a.id))}
        data-testid="annotation-list.reject"
      >
        Reject
      </button>
    </span>
  )
}

/** The origin filter's word for an annotation: drawn by a person, with clicks, or a suggestion. */
const originOf = (a: AnnotationRecord) =>
  a.origin.type === 'human' ? 'human' : isSuggestion(a) ? 'model' : 'click'
