// The project's training tab: start a job (by hand or every N done images), set how versions rank
// images for Next, follow jobs live and manage model versions. Live: the project channel's events update it; nothing polls.
import { useCallback, useEffect, useRef, useState } from 'react'
import type { ProjectRole } from '../../../shared/schemas/projects.ts'
import {
  ACTIVE_JOB_STATES,
  type ProjectEvent,
  type TrainingJob,
  type TrainingPreview,
} from '../../../shared/schemas/training.ts'
import { api } from '../api/apiClient.ts'
import { type ChannelState, useProjectEvents } from '../api/projectEvents.ts'
import { useResource } from '../app/useResource.ts'
import { ActiveLearningSetting } from './ActiveLearningSetting.tsx'
import { AutoTrainSetting } from './AutoTrainSetting.tsx'
import { JobCard } from './JobCard.tsx'
import { type ModelVersionList, ModelVersionsTable } from './ModelVersionsTable.tsx'
import { TrainControl } from './TrainControl.tsx'

const LIVE_LABEL: Record<ChannelState, string> = {
  open: 'Live',
  connecting: 'Connecting…',
  closed: 'Offline: retrying…',
}

/** Finished jobs shown below the active one. */
const RECENT_JOBS = 8

export const isActiveJob = (job: TrainingJob) => ACTIVE_JOB_STATES.includes(job.state)

export function TrainingPanel({ projectId, role }: { projectId: number; role: ProjectRole }) {
  const base = `/api/projects/${projectId}`
  const preview = useResource<TrainingPreview>(`${base}/training`)
  const versions = useResource<ModelVersionList>(`${base}/models`)
  const jobs = useTrainingJobs(projectId)
  const canTrain = role === 'owner' || role === 'reviewer'

  const { reload: reloadPreview } = preview
  const { reload: reloadVersions } = versions
  const onEvent = useCallback(
    (event: ProjectEvent) => {
      if (event.type === 'model') {
        reloadVersions()
        reloadPreview()
        return
      }
      if (event.type !== 'job') return
      // Progress arrives every few seconds; a new state is what changes versions and preview.
      if (jobs.apply(event.job)) {
        reloadPreview()
        reloadVersions()
      }
    },
    [jobs.apply, reloadPreview, reloadVersions],
  )
  const live = useProjectEvents(projectId, onEvent, () => {
    jobs.reload()
    reloadPreview()
    reloadVersions()
  })

  const list = jobs.list ?? []
  const active = list.filter(isActiveJob)
  const finished = list.filter((job) => !isActiveJob(job)).slice(0, RECENT_JOBS)
  const current = versions.data?.versions.find((v) => v.id === versions.data?.currentId)
  return (
    <section className="stack training" data-testid="training.panel">
      <div className="training-header">
        <p>
          Current model:{' '}
          <strong data-testid="training.version-label">
            {current?.name ?? preview.data?.currentVersion.name ?? '…'}
          </strong>
        </p>
        <span
          className={`live-dot live-${live}`}
          title="Jobs and versions update as they change"
          data-testid="training.live"
          data-state={live}
        >
          {LIVE_LABEL[live]}
        </span>
      </div>
      <div className="training-controls">
        <TrainControl
          projectId={projectId}
          canTrain={canTrain}
          preview={preview}
          activeJob={active[0] ?? null}
          onStarted={(job) => {
            jobs.apply(job)
            reloadPreview()
          }}
        />
        <AutoTrainSetting projectId={projectId} canEdit={role === 'owner'} />
        <ActiveLearningSetting projectId={projectId} canEdit={role === 'owner'} />
      </div>
      <h2>Jobs</h2>
      {jobs.error && (
        <p className="error" role="alert">
          {jobs.error}
        </p>
      )}
      {jobs.list?.length === 0 && (
        <p className="empty" data-testid="training.jobs.empty">
          No training jobs yet.
        </p>
      )}
      <div className="stack" data-testid="training.jobs">
        {[...active, ...finished].map((job, index) => (
          <JobCard
            key={job.id}
            projectId={projectId}
            job={job}
            canCancel={canTrain}
            initiallyOpen={index === 0 || isActiveJob(job)}
            onChange={jobs.apply}
          />
        ))}
      </div>
      <h2>Model versions</h2>
      <ModelVersionsTable
        projectId={projectId}
        versions={versions}
        canManage={role === 'owner'}
        onChange={() => {
          reloadVersions()
          reloadPreview()
        }}
      />
    </section>
  )
}

const STATE_RANK: Record<TrainingJob['state'], number> = {
  queued: 0,
  leased: 1,
  running: 2,
  succeeded: 3,
  failed: 3,
  cancelled: 3,
}

/** Whether `a` is a later copy of the same job than `b` (a fetch may cross the events). */
function isLaterCopy(a: TrainingJob, b: TrainingJob): boolean {
  if (a.attempt !== b.attempt) return a.attempt > b.attempt
  if (STATE_RANK[a.state] !== STATE_RANK[b.state]) return STATE_RANK[a.state] > STATE_RANK[b.state]
  return (a.progress?.step ?? 0) > (b.progress?.step ?? 0)
}

/**
 * The project's jobs, newest first: fetched on open (and after a break in the live channel),
 * then updated in place by the jobs that events and actions return. `apply` says whether the
 * job's state changed.
 */
function useTrainingJobs(projectId: number) {
  const [list, setList] = useState<TrainingJob[] | null>(null)
  const [error, setError] = useState<string | null>(null)
  const states = useRef(new Map<number, TrainingJob['state']>())
  const [fetches, setFetches] = useState(0)

  // biome-ignore lint/correctness/useExhaustiveDependencies: fetches triggers a refetch
  useEffect(() => {
    let current = true
    api<{ jobs: TrainingJob[] }>('GET', `/api/projects/${projectId}/jobs`).then(
      ({ jobs }) => {
        if (!current) return
        setList((previous) => {
          const local = new Map((previous ?? []).map((job) => [job.id, job]))
          const merged = jobs.map((job) => {
            const mine = local.get(job.id)
            return mine && isLaterCopy(mine, job) ? mine : job
          })
          states.current = new Map(merged.map((job) => [job.id, job.state]))
          return merged
        })
        setError(null)
      },
      (reason: Error) => current && setError(reason.message),
    )
    return () => {
      current = false
    }
  }, [projectId, fetches])
  const reload = useCallback(() => setFetches((n) => n + 1), [])

  const apply = useCallback((job: TrainingJob) => {
    const before = states.current.get(job.id)
    states.current.set(job.id, job.state)
    setList((previous) => {
      const jobs = previous ?? []
      if (jobs.some((j) => j.id === job.id)) return jobs.map((j) => (j.id === job.id ? job : j))
      return [job, ...jobs].sort((a, b) => b.id - a.id)
    })
    return before !== job.state
  }, [])

  return { list, error, reload, apply }
}
