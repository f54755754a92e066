// The import dialog: a dataset file, its format, how to import it; Check runs a dry run and shows
// its report, whose class choices feed the class map (changing one checks again); Import sends
// the same file and options for real, and is refused here while the report lists problems.
import { useRef, useState } from 'react'
import {
  type ClassMapping,
  ImportFormat,
  type ImportOptions,
  type ImportReport,
} from '../../../../shared/schemas/datasets.ts'
import type { LabelClass } from '../../../../shared/schemas/projects.ts'
import { ImportReportView, mappingFromReport } from './ImportReportView.tsx'
import { plural } from './plural.ts'
import { ImportRefused, postImport } from './postImport.ts'

const IMPORT_FORMAT_LABELS: Record<ImportFormat, string> = {
  auto: 'Detect from the file',
  coco: 'COCO instances (JSON)',
  yolo: 'YOLO (detection or segmentation)',
  masks: 'Label images (PNG or TIFF)',
  geojson: 'GeoJSON (QuPath)',
  voc: 'Pascal VOC (boxes)',
}

type Choices = Omit<ImportOptions, 'dryRun'>
const DEFAULT_CHOICES: Choices = {
  format: 'auto',
  as: 'annotations',
  classMap: {},
  labelsAs: 'polygon',
}

/** One key per set of choices: a report answers the choices it was made for. */
const keyOf = (choices: Choices) => JSON.stringify(choices)

export function ImportForm({
  projectId,
  classes,
  canCreateClasses,
  onImported,
}: {
  projectId: number
  classes: LabelClass[]
  canCreateClasses: boolean
  onImported(): void
}) {
  const [file, setFile] = useState<File | null>(null)
  const [choices, setChoices] = useState<Choices>(DEFAULT_CHOICES)
  const [report, setReport] = useState<{ report: ImportReport; key: string } | null>(null)
  const [busy, setBusy] = useState<'check' | 'commit' | null>(null)
  const [uploaded, setUploaded] = useState<number | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [result, setResult] = useState<ImportReport | null>(null)
  /** The latest request: answers to earlier ones are dropped. */
  const latest = useRef(0)

  const send = async (dryRun: boolean, sent: Choices, archive = file) => {
    if (!archive) return
    const request = ++latest.current
    setBusy(dryRun ? 'check' : 'commit')
    setUploaded(0)
    setError(null)
    const current = () => request === latest.current
    try {
      const answer = await postImport(
        projectId,
        archive,
        { ...sent, dryRun },
        (fraction) => current() && setUploaded(fraction),
      )
      if (!current()) return
      // Every class of the file gets its choice, as the server decided it by default.
      const classMap: Record<string, ClassMapping> = { ...sent.classMap }
      for (const entry of answer.classes) classMap[entry.name] ??= mappingFromReport(entry)
      const settled = { ...sent, classMap }
      setChoices(settled)
      setReport({ report: answer, key: keyOf(settled) })
      if (!dryRun) {
        setResult(answer)
        onImported()
      }
    } catch (reason) {
      if (!current()) return
      setError((reason as Error).message)
      if (reason instanceof ImportRefused && reason.report)
        setReport({ report: reason.report, key: keyOf(sent) })
      else if (dryRun) setReport(null)
    } finally {
      if (current()) {
        setBusy(null)
        setUploaded(null)
      }
    }
  }

  /** New choices; a report on screen is brought up to date with a new dry run. */
  const choose = (changes: Partial<Choices>) => {
    const next = { ...choices, ...changes }
    setChoices(next)
    if (report && !report.report.committed) send(true, next)
  }

  const chooseFile = (next: File | null) => {
    latest.current++
    setFile(next)
    setChoices((current) => ({ ...current, classMap: {} }))
    setReport(null)
    setResult(null)
    setError(null)
    setBusy(null)
  }

  const shown = report?.report
  const showLabelsAs =
    choices.format === 'masks' || (choices.format === 'auto' && shown?.format === 'masks')
  const reason = whyNotCommit(file, shown ?? null, report?.key === keyOf(choices), busy)

  return (
    <form
      className="card dataset-card stack-tight"
      onSubmit={(event) => {
        event.preventDefault()
        send(true, choices)
      }}
      data-testid="import.form"
    >
      <h3>Import</h3>
      <label className="field">
        File
        <input
          type="file"
          accept=".zip,.json,.geojson,application/zip,application/json,application/geo+json"
          onChange={(e) => chooseFile(e.target.files?.[0] ?? null)}
          data-testid="import.file"
        />
      </label>
      <p className="muted small">
        A ZIP archive (annotations, with or without the images), or a single COCO JSON or GeoJSON
        file. Images are matched by file name, then by content.
      </p>
      <label className="field">
        Format
        <select
          value={choices.format}
          onChange={(e) => choose({ format: ImportFormat.parse(e.target.value) })}
          data-testid="import.format"
        >
          {ImportFormat.options.map((format) => (
            <option key={format} value={format}>
              {IMPORT_FORMAT_LABELS[format]}
            </option>
          ))}
        </select>
      </label>
      <fieldset className="filter-group" data-testid="import.as">
        <legend>Import as</legend>
        {(
          [
            ['annotations', 'Annotations (accepted)'],
            ['suggestions', 'Suggestions to review'],
          ] as const
        ).map(([value, label]) => (
          <label key={value} className="check">
            <input
              type="radio"
              name="import-as"
              value={value}
              checked={choices.as === value}
              onChange={() => choose({ as: value })}
              data-testid={`import.as.${value}`}
            />
            {label}
          </label>
        ))}
      </fieldset>
      {showLabelsAs && (
        <label className="field">
          Each labelled object as
          <select
            value={choices.labelsAs}
            onChange={(e) => choose({ labelsAs: e.target.value === 'mask' ? 'mask' : 'polygon' })}
            data-testid="import.labels-as"
          >
            <option value="polygon">Polygon (editable outline)</option>
            <option value="mask">Mask (exact pixels)</option>
          </select>
        </label>
      )}
      <div className="inline-form">
        <button type="submit" disabled={!file || busy !== null} data-testid="import.check">
          {busy === 'check' ? 'Checking…' : 'Check'}
        </button>
        <button
          type="button"
          className="primary"
          disabled={reason !== null}
          onClick={() => send(false, choices)}
          data-testid="import.commit"
        >
          {busy === 'commit' ? 'Importing…' : 'Import'}
        </button>
        {reason && file && (
          <span className="muted small" data-testid="import.commit.reason">
            {reason}
          </span>
        )}
      </div>
      {uploaded !== null && uploaded < 1 && (
        <progress max={1} value={uploaded} data-testid="import.upload" />
      )}
      {error && (
        <p className="error" role="alert" data-testid="import.error">
          {error}
        </p>
      )}
      {result && (
        <p className="success" role="status" data-testid="import.result">
          Imported {plural(result.counts.annotations, 'annotation')} into{' '}
          {plural(result.counts.images, 'image')} ({plural(result.counts.newImages, 'new image')},{' '}
          {plural(result.counts.newClasses, 'new class', 'new classes')})
        </p>
      )}
      {shown && (
        <ImportReportView
          report={shown}
          classes={classes}
          classMap={choices.classMap}
          canCreateClasses={canCreateClasses}
          disabled={busy !== null || shown.committed}
          onMap={(name, mapping) => choose({ classMap: { ...choices.classMap, [name]: mapping } })}
        />
      )}
    </form>
  )
}

/** Why Import cannot be pressed now, or null when it can. */
function whyNotCommit(
  file: File | null,
  report: ImportReport | null,
  upToDate: boolean,
  busy: 'check' | 'commit' | null,
): string | null {
  if (!file) return 'Choose a file.'
  if (busy === 'commit') return 'Importing…'
  if (busy === 'check') return 'Checking…'
  if (!report) return 'Check the file first.'
  if (report.committed) return 'Imported. Choose another file to import more.'
  if (!upToDate) return 'Check again: the choices changed.'
  if (report.problems.length > 0) return 'Fix the problems below first.'
  if (report.counts.annotations === 0 && report.counts.newImages === 0) return 'Nothing to import.'
  return null
}
