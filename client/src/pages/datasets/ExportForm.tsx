// The export dialog: format, which annotations (image status, review, origin, class), whether to
// add the images, what that holds (the server's preview), and a native browser download whose
// progress arrives as 'export-progress' events on the project channel. Never buffers the archive.
import { useEffect, useState } from 'react'
import { ReviewDecision } from '../../../../shared/schemas/annotation.ts'
import {
  AnnotationOriginType,
  EXPORT_FORMAT_LABELS,
  ExportFormat,
  type ExportPreview,
} from '../../../../shared/schemas/datasets.ts'
import { ImageStatus } from '../../../../shared/schemas/images.ts'
import type { LabelClass } from '../../../../shared/schemas/projects.ts'
import type { ProjectEvent } from '../../../../shared/schemas/training.ts'
import { useProjectEvents } from '../../api/projectEvents.ts'
import { useResource } from '../../app/useResource.ts'
import {
  DEFAULT_EXPORT_SELECTION,
  type ExportSelection,
  exportQueryOf,
  NO_CLASS,
  newExportId,
  toggled,
} from './exportSelection.ts'
import { plural } from './plural.ts'

export const IMAGE_STATUS_LABELS: Record<ImageStatus, string> = {
  new: 'New',
  in_progress: 'In progress',
  done: 'Done',
  reviewed: 'Reviewed',
}
const REVIEW_LABELS: Record<ReviewDecision, string> = {
  pending: 'Pending',
  accepted: 'Accepted',
  rejected: 'Rejected',
}
const ORIGIN_LABELS: Record<AnnotationOriginType, string> = {
  human: 'By people',
  model: 'By a model',
}

interface ExportProgress {
  exportId: string
  /** Steps as the server counts them: one per image, two with the original files. */
  done: number
  /** Null until the first event says. */
  total: number | null
  finished: boolean
  /** Steps per image: 2 when the original files go in too (see exportDataset). */
  stepsPerImage: 1 | 2
}

export function ExportForm({
  projectId,
  classes,
  imports,
}: {
  projectId: number
  classes: LabelClass[] | null
  /** Counts imports made on this page: the preview is counted again after each. */
  imports: number
}) {
  const base = `/api/projects/${projectId}`
  const [selection, setSelection] = useState<ExportSelection>(DEFAULT_EXPORT_SELECTION)
  const [progress, setProgress] = useState<ExportProgress | null>(null)
  const classKeys = [...(classes ?? []).map((c) => String(c.id)), NO_CLASS]
  const built = exportQueryOf(selection, classKeys)
  const query = 'query' in built ? built.query : null
  const preview = useResource<ExportPreview>(
    query === null ? null : `${base}/export/preview?${previewQueryOf(query)}`,
  )
  const { reload: reloadPreview } = preview
  useEffect(() => {
    if (imports > 0) reloadPreview()
  }, [imports, reloadPreview])
  const change = (changes: Partial<ExportSelection>) =>
    setSelection((current) => ({ ...current, ...changes }))

  const live = useProjectEvents(projectId, (event: ProjectEvent) => {
    if (event.type !== 'export-progress') return
    setProgress((current) =>
      current?.exportId === event.exportId && !current.finished
        ? {
            ...current,
            done: Math.max(current.done, event.done),
            total: event.total,
            finished: event.finished,
          }
        : current,
    )
  })

  const download = () => {
    if (!query) return
    const exportId = newExportId()
    setProgress({
      exportId,
      done: 0,
      total: null,
      finished: false,
      stepsPerImage: selection.images ? 2 : 1,
    })
    // A link click lets the browser stream the archive to disk (fetch would hold it in memory).
    const link = document.createElement('a')
    link.href = `${base}/export?${query}&progress=${exportId}`
    link.download = ''
    document.body.append(link)
    link.click()
    link.remove()
  }

  return (
    <form
      className="card dataset-card stack-tight"
      onSubmit={(event) => {
        event.preventDefault()
        download()
      }}
      data-testid="export.form"
      data-live={live}
    >
      <h3>Export</h3>
      <label className="field">
        Format
        <select
          value={selection.format}
          onChange={(e) => change({ format: ExportFormat.parse(e.target.value) })}
          data-testid="export.format"
        >
          {ExportFormat.options.map((format) => (
            <option key={format} value={format}>
              {EXPORT_FORMAT_LABELS[format]}
            </option>
          ))}
        </select>
      </label>
      <CheckboxGroup
        legend="Images"
        testId="export.status"
        options={ImageStatus.options.map((s) => [s, IMAGE_STATUS_LABELS[s]] as const)}
        isChecked={(s) => selection.status.includes(s)}
        onToggle={(s, on) => change({ status: toggled(selection.status, s, on) })}
      />
      <CheckboxGroup
        legend="Review"
        testId="export.review"
        options={ReviewDecision.options.map((r) => [r, REVIEW_LABELS[r]] as const)}
        isChecked={(r) => selection.review.includes(r)}
        onToggle={(r, on) => change({ review: toggled(selection.review, r, on) })}
      />
      <CheckboxGroup
        legend="Made"
        testId="export.origin"
        options={AnnotationOriginType.options.map((o) => [o, ORIGIN_LABELS[o]] as const)}
        isChecked={(o) => selection.origin.includes(o)}
        onToggle={(o, on) => change({ origin: toggled(selection.origin, o, on) })}
      />
      <CheckboxGroup
        legend="Classes"
        testId="export.classes"
        options={[
          ...(classes ?? []).map((c) => [String(c.id), c.name, c.color] as const),
          [NO_CLASS, 'No class'] as const,
        ]}
        isChecked={(key) => !selection.excludedClasses.includes(key)}
        onToggle={(key, on) =>
          change({ excludedClasses: toggled(selection.excludedClasses, key, !on) })
        }
      />
      <label className="check">
        <input
          type="checkbox"
          checked={selection.images}
          onChange={(e) => change({ images: e.target.checked })}
          data-testid="export.images"
        />
        Include original images
      </label>
      <p className="muted" data-testid="export.preview" aria-live="polite">
        {'problem' in built ? (
          <span className="error">{built.problem}</span>
        ) : preview.error ? (
          <span className="error">{preview.error}</span>
        ) : preview.data && !preview.loading ? (
          `${plural(preview.data.images, 'image')}, ${plural(preview.data.annotations, 'annotation')}`
        ) : (
          'Counting…'
        )}
      </p>
      <div className="inline-form">
        <button
          type="submit"
          className="primary"
          disabled={!query || preview.data?.images === 0}
          data-testid="export.download"
        >
          Download
        </button>
        {live !== 'open' && (
          <span className="muted small" data-testid="export.live">
            {live === 'connecting' ? 'Connecting for progress…' : 'Progress offline: retrying…'}
          </span>
        )}
      </div>
      {progress && <ExportProgressBar progress={progress} />}
    </form>
  )
}

/** The preview's query: the filters alone (the format and the files do not change the counts). */
function previewQueryOf(query: string): string {
  const filters = new URLSearchParams(query)
  filters.delete('format')
  filters.delete('images')
  return filters.toString()
}

function ExportProgressBar({ progress }: { progress: ExportProgress }) {
  const max = Math.max(progress.total ?? 0, 1)
  const value = progress.finished ? max : Math.min(progress.done, max)
  const images = Math.round((progress.total ?? 0) / progress.stepsPerImage)
  const imagesDone = Math.min(Math.floor(progress.done / progress.stepsPerImage), images)
  return (
    <div className="export-progress" data-testid="export.progress.row">
      <progress
        max={max}
        value={progress.total === null ? undefined : value}
        data-testid="export.progress"
        data-finished={progress.finished}
      />
      <span className="small" data-testid="export.progress.text" aria-live="polite">
        {progress.finished
          ? `Done: ${plural(images, 'image')} exported`
          : progress.total === null
            ? 'Starting the export…'
            : `Exported ${imagesDone} of ${plural(images, 'image')}`}
      </span>
    </div>
  )
}

/** A fieldset of checkboxes, one per option ([value, label, colour?]). */
function CheckboxGroup<T extends string>({
  legend,
  testId,
  options,
  isChecked,
  onToggle,
}: {
  legend: string
  testId: string
  options: readonly (readonly [T, string, string?])[]
  isChecked(value: T): boolean
  onToggle(value: T, on: boolean): void
}) {
  return (
    <fieldset className="filter-group" data-testid={testId}>
      <legend>{legend}</legend>
      {options.map(([value, label, color]) => (
        <label key={value} className="check">
          <input
            type="checkbox"
            checked={isChecked(value)}
            onChange={(e) => onToggle(value, e.target.checked)}
            data-testid={`${testId}.${value}`}
          />
          {color && <span className="swatch" style={{ background: color }} />}
          {label}
        </label>
      ))}
    </fieldset>
  )
}
