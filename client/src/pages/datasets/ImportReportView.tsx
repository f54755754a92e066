// What an import found (a dry run) or did (a commit): the images it goes into and how each was
// matched, images it cannot place, the classes with a choice each (feeding the class map), what
// was converted, and the problems that stop a commit, each with where it comes from.
import type {
  ClassMapping,
  ImportImageMatch,
  ImportReport,
} from '../../../../shared/schemas/datasets.ts'
import type { LabelClass } from '../../../../shared/schemas/projects.ts'
import { plural } from './plural.ts'

/** Rows shown of a long list; the rest are counted. */
const SHOWN_ROWS = 200
/** Image lists up to this long start open. */
const OPEN_IMAGE_LIST = 20

type MatchedBy = NonNullable<ImportImageMatch['matchedBy']>
const MATCHED_BY_LABELS: Record<MatchedBy, string> = {
  name: 'by name',
  sha256: 'by content (SHA-256)',
  new: 'new, from the archive',
}

/** A class's mapping as an option value of its select, and back. */
export function mappingValue(mapping: ClassMapping): string {
  return mapping.action === 'map' ? `map:${mapping.classId}` : mapping.action
}
export function mappingOf(value: string): ClassMapping {
  if (value === 'create' || value === 'none') return { action: value }
  return { action: 'map', classId: Number(value.slice('map:'.length)) }
}

/** The mapping a report's class has now (an existing class is a map to it). */
export function mappingFromReport(entry: ImportReport['classes'][number]): ClassMapping {
  if ((entry.action === 'existing' || entry.action === 'map') && entry.classId !== null)
    return { action: 'map', classId: entry.classId }
  return entry.action === 'create' ? { action: 'create' } : { action: 'none' }
}

export function ImportReportView({
  report,
  classes,
  classMap,
  canCreateClasses,
  disabled,
  onMap,
}: {
  report: ImportReport
  classes: LabelClass[]
  classMap: Record<string, ClassMapping>
  canCreateClasses: boolean
  disabled: boolean
  onMap(name: string, mapping: ClassMapping): void
}) {
  const byHow = new Map<MatchedBy, number>()
  for (const image of report.matched) {
    const how = image.matchedBy ?? 'new'
    byHow.set(how, (byHow.get(how) ?? 0) + 1)
  }
  return (
    <div
      className="import-report stack-tight"
      data-testid="import.report"
      data-format={report.format}
      data-committed={report.committed}
    >
      <p data-testid="import.report.summary">
        <strong>{report.format.toUpperCase()}</strong>:{' '}
        {plural(report.counts.annotations, 'annotation')} for{' '}
        {plural(report.counts.images, 'image')} ({plural(report.counts.newImages, 'new image')},{' '}
        {plural(report.counts.newClasses, 'new class', 'new classes')})
      </p>

      <details open={report.matched.length <= OPEN_IMAGE_LIST}>
        <summary data-testid="import.report.matched-summary">
          {plural(report.matched.length, 'image')}
          {report.matched.length > 0 &&
            `: ${[...byHow].map(([how, n]) => `${n} ${MATCHED_BY_LABELS[how]}`).join(' · ')}`}
        </summary>
        <table className="table compact">
          <tbody>
            {report.matched.slice(0, SHOWN_ROWS).map((image) => (
              <tr
                key={image.fileName}
                data-testid="import.report.image"
                data-matched-by={image.matchedBy ?? 'new'}
              >
                <td className="file-name">{image.fileName}</td>
                <td className="muted">{MATCHED_BY_LABELS[image.matchedBy ?? 'new']}</td>
                <td>{plural(image.annotations, 'annotation')}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <MoreRows total={report.matched.length} />
      </details>

      {report.unmatched.length > 0 && (
        <details data-testid="import.report.unmatched">
          <summary className="error">
            {plural(report.unmatched.length, 'image')} neither in the project nor in the archive:
            their annotations are left out
          </summary>
          <ul className="plain-list">
            {report.unmatched.slice(0, SHOWN_ROWS).map((image) => (
              <li key={image.fileName} data-testid="import.report.unmatched.item">
                {image.fileName}{' '}
                <span className="muted">({plural(image.annotations, 'annotation')})</span>
              </li>
            ))}
          </ul>
          <MoreRows total={report.unmatched.length} />
        </details>
      )}

      {report.classes.length > 0 && (
        <table className="table compact" data-testid="import.report.classes">
          <thead>
            <tr>
              <th>Class in the file</th>
              <th>Annotations</th>
              <th>Import as</th>
            </tr>
          </thead>
          <tbody>
            {report.classes.map((entry) => {
              const mapping = classMap[entry.name] ?? mappingFromReport(entry)
              return (
                <tr key={entry.name} data-testid="import.report.class" data-name={entry.name}>
                  <td>{entry.name}</td>
                  <td>{entry.annotations}</td>
                  <td>
                    <select
                      value={mappingValue(mapping)}
                      disabled={disabled}
                      onChange={(e) => onMap(entry.name, mappingOf(e.target.value))}
                      aria-label={`Import ${entry.name} as`}
                      data-testid="import.report.class.mapping"
                      data-action={entry.action}
                    >
                      <option
                        value="create"
                        disabled={!canCreateClasses && mapping.action !== 'create'}
                      >
                        {canCreateClasses
                          ? `New class “${entry.name}”`
                          : `New class “${entry.name}” (owners only)`}
                      </option>
                      <option value="none">No class</option>
                      {classes.length > 0 && (
                        <optgroup label="Project classes">
                          {classes.map((c) => (
                            <option key={c.id} value={`map:${c.id}`}>
                              {c.name}
                              {c.name === entry.name ? ' (same name)' : ''}
                            </option>
                          ))}
                        </optgroup>
                      )}
                    </select>
                  </td>
                </tr>
              )
            })}
          </tbody>
        </table>
      )}

      {Object.keys(report.converted).length > 0 && (
        <p className="muted small" data-testid="import.report.converted">
          Converted:{' '}
          {Object.entries(report.converted)
            .map(([what, n]) => `${what} ${n}`)
            .join(' · ')}
        </p>
      )}

      {report.problems.length > 0 && (
        <div className="problems" data-testid="import.report.problems">
          <p className="error">
            {plural(report.problems.length, 'problem')}: nothing is imported until they are fixed
          </p>
          <ul className="plain-list">
            {report.problems.slice(0, SHOWN_ROWS).map((problem, index) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: problems are a fixed list
              <li key={index} data-testid="import.report.problem">
                <code>{problem.source}</code> {problem.message}
              </li>
            ))}
          </ul>
          <MoreRows total={report.problems.length} />
        </div>
      )}
    </div>
  )
}

function MoreRows({ total }: { total: number }) {
  if (total <= SHOWN_ROWS) return null
  return <p className="muted small">…and {total - SHOWN_ROWS} more</p>
}
