// The project's model versions: which one editors load, where each came from, what it was trained
// on, how it scores against its base, how people answered its suggestions and what its click
// masks cost, and (for owners) promote and roll back.
import { useState } from 'react'
import type { z } from 'zod'
import type { SuggestionCounts } from '../../../shared/schemas/activeLearning.ts'
import {
  EvaluationMetrics,
  type ModelVersionInfo,
  type ModelVersionList as ModelVersionListSchema,
} from '../../../shared/schemas/training.ts'
import { api } from '../api/apiClient.ts'
import type { Resource } from '../app/useResource.ts'
import { formatTime } from './JobCard.tsx'
import { clicksPerMask } from './suggestionCounts.ts'

export type ModelVersionList = z.infer<typeof ModelVersionListSchema>

const DOWNLOADS = ['encoder', 'decoder', 'card', 'checkpoint'] as const

/** The state a person reads: current, base (shipped with the app), candidate or retired. */
export function displayStateOf(version: ModelVersionInfo): string {
  if (version.isCurrent) return 'current'
  if (version.projectId === null) return 'base'
  return version.state
}

/** A metric of the new version against its base's on the same validation images. */
function Comparison({
  name,
  value,
  base,
  lowerIsBetter,
  testId,
}: {
  name: string
  value: number
  base: number | undefined
  lowerIsBetter: boolean
  testId: string
}) {
  const better = base === undefined ? null : lowerIsBetter ? value < base : value > base
  const same = base !== undefined && Math.abs(value - base) < 1e-9
  return (
    <span
      className={same || better === null ? '' : better ? 'metric-better' : 'metric-worse'}
      data-testid={testId}
      data-value={value}
      title={base === undefined ? undefined : `${name} of the base version: ${base.toFixed(3)}`}
    >
      {name} {value.toFixed(3)}
      {base !== undefined && <span className="muted"> (base {base.toFixed(3)})</span>}
    </span>
  )
}

function Metrics({ version }: { version: ModelVersionInfo }) {
  const validation = EvaluationMetrics.safeParse(version.metrics.validation)
  if (validation.success) {
    const base = EvaluationMetrics.safeParse(version.metrics.baseValidation)
    const { data } = validation
    return (
      <span className="metrics">
        <Comparison
          name="AP50"
          value={data.auto_ap50}
          base={base.success ? base.data.auto_ap50 : undefined}
          lowerIsBetter={false}
          testId="training.versions.ap50"
        />
        <Comparison
          name="NoC85"
          value={data.noc85}
          base={base.success ? base.data.noc85 : undefined}
          lowerIsBetter
          testId="training.versions.noc85"
        />
        <span className="muted small">on {data.n_images} validation images</span>
      </span>
    )
  }
  // A base version's card: metrics per held-out set.
  const heldOut = Object.entries(version.metrics).flatMap(([key, value]) => {
    const parsed = EvaluationMetrics.safeParse(value)
    return parsed.success ? [[key.replace(/^heldOut:/, ''), parsed.data] as const] : []
  })
  if (heldOut.length === 0) return <span className="muted">—</span>
  return (
    <span className="metrics">
      {heldOut.map(([set, m]) => (
        <span key={set} className="small">
          {set}: AP50 {m.auto_ap50.toFixed(3)} · NoC85 {m.noc85.toFixed(2)}
        </span>
      ))}
    </span>
  )
}

/** Accepted, edited and rejected suggestions and clicks per click mask, one cell each. */
function SuggestionCells({ counts }: { counts: SuggestionCounts | undefined }) {
  if (!counts)
    return (
      <>
        {[0, 1, 2, 3].map((i) => (
          <td key={i} className="muted">
            —
          </td>
        ))}
      </>
    )
  const perMask = clicksPerMask(counts)
  return (
    <>
      <td className="suggestion-counts" data-testid="training.versions.accepted">
        {counts.accepted}
      </td>
      <td className="suggestion-counts" data-testid="training.versions.edited">
        {counts.edited}
      </td>
      <td className="suggestion-counts" data-testid="training.versions.rejected">
        {counts.rejected}
      </td>
      <td
        className="suggestion-counts"
        data-testid="training.versions.clicks-per-mask"
        title={`${counts.clicks} clicks for ${counts.clickMasks} masks`}
      >
        {perMask === null ? '—' : perMask.toFixed(1)}
      </td>
    </>
  )
}

export function ModelVersionsTable({
  projectId,
  versions,
  canManage,
  onChange,
}: {
  projectId: number
  versions: Resource<ModelVersionList>
  canManage: boolean
  onChange(): void
}) {
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const act = async (path: string) => {
    setBusy(true)
    setError(null)
    try {
      await api<ModelVersionList>('POST', `/api/projects/${projectId}/models/${path}`)
      onChange()
    } catch (reason) {
      setError((reason as Error).message)
    } finally {
      setBusy(false)
    }
  }
  const list = versions.data?.versions ?? []
  return (
    <div className="stack-tight">
      {versions.error && <p className="error">{versions.error}</p>}
      {error && (
        <p className="error" role="alert" data-testid="training.versions.error">
          {error}
        </p>
      )}
      <div className="table-scroll">
        <table className="table versions-table" data-testid="training.versions">
          <thead>
            <tr>
              <th>Version</th>
              <th>State</th>
              <th>Parent</th>
              <th>Created</th>
              <th>Trained on</th>
              <th>Validation</th>
              <th title="Suggestions accepted as they were">Accepted</th>
              <th title="Suggestions accepted after a change of their shape">Edited</th>
              <th title="Suggestions rejected or deleted">Rejected</th>
              <th title="Clicks per mask made with the click tool (clicks / masks)">
                Clicks per mask
              </th>
              <th>By</th>
              <th>Files</th>
              {canManage && <th aria-label="Actions" />}
            </tr>
          </thead>
          <tbody>
            {list.map((version) => {
              const state = displayStateOf(version)
              return (
                <tr
                  key={version.id}
                  id={`model-version-${version.id}`}
                  className={version.isCurrent ? 'current-version' : undefined}
                  data-testid={`training.versions.row.${version.name}`}
                  data-state={state}
                >
                  <td>
                    <strong>{version.name}</strong>
                  </td>
                  <td>
                    <span
                      className={`badge version-${state}`}
                      data-testid="training.versions.state"
                    >
                      {state}
                    </span>
                  </td>
                  <td>{version.parent?.name ?? '—'}</td>
                  <td className="small">{formatTime(version.createdAt)}</td>
                  <td className="small">
                    {version.projectId === null
                      ? 'base data'
                      : `${version.trainingSet.images} images · ${version.trainingSet.objects} objects`}
                    {version.polarity === 'dark' && (
                      <div
                        className="muted"
                        title="Objects darker than their background: this version reads images inverted"
                        data-testid="training.versions.polarity"
                      >
                        dark objects
                      </div>
                    )}
                  </td>
                  <td>
                    <Metrics version={version} />
                  </td>
                  <SuggestionCells counts={version.suggestions} />
                  <td className="small">
                    {version.triggeredBy?.username ?? (version.jobId === null ? '—' : 'automatic')}
                  </td>
                  <td className="small downloads">
                    {DOWNLOADS.filter((name) => version.files[name]).map((name) => (
                      <a
                        key={name}
                        href={version.files[name]!.url}
                        download
                        data-testid={`training.versions.download.${name}`}
                      >
                        {name}
                      </a>
                    ))}
                    <a
                      href={`/api/projects/${projectId}/models/${version.id}/bioimageio.zip`}
                      download
                      title="The version as a BioImage Model Zoo package (rdf.yaml, ONNX, README, test tensors)"
                      data-testid="training.versions.download.bioimageio"
                    >
                      bioimage.io
                    </a>
                  </td>
                  {canManage && (
                    <td>
                      {!version.isCurrent && (
                        <button
                          type="button"
                          disabled={busy}
                          onClick={() => act(`${version.id}/promote`)}
                          data-testid="training.versions.promote"
                        >
                          Promote
                        </button>
                      )}
                      {version.isCurrent && version.projectId !== null && (
                        <button
                          type="button"
                          className="danger"
                          disabled={busy}
                          onClick={() => act('rollback')}
                          data-testid="training.versions.rollback"
                        >
                          Roll back
                        </button>
                      )}
                    </td>
                  )}
                </tr>
              )
            })}
          </tbody>
        </table>
      </div>
    </div>
  )
}
