// The image grid of a project, with drag-and-drop upload and progress; Next, and the newest
// ranking's rank and score on each image (sort by rank or name, filter by score or status), which
// version scored them, and who holds which image.
import { type DragEvent, useEffect, useRef, useState } from 'react'
import type { ImageInfo, UploadResult } from '../../../shared/schemas/images.ts'
import type { ProjectPresence } from '../../../shared/schemas/presence.ts'
import type { ProjectRole } from '../../../shared/schemas/projects.ts'
import { api, uploadFiles } from '../api/apiClient.ts'
import { useSession } from '../app/App.tsx'
import { Link } from '../app/Link.tsx'
import { useResource } from '../app/useResource.ts'
import {
  defaultSort,
  describeClaim,
  describeScoring,
  formatScore,
  IMAGE_FILTERS,
  IMAGE_SORTS,
  type ImageFilter,
  type ImageSort,
  rankImages,
} from './imageRanking.ts'
import { NextImageButton } from './NextImageButton.tsx'
import { useRanking } from './useRanking.ts'

const STATUS_LABEL: Record<ImageInfo['status'], string> = {
  new: 'New',
  in_progress: 'In progress',
  done: 'Done',
  reviewed: 'Reviewed',
}

export function ImagesPanel({
  projectId,
  role,
  onChange,
}: {
  projectId: number
  role: ProjectRole
  onChange(): void
}) {
  const images = useResource<{ images: ImageInfo[] }>(`/api/projects/${projectId}/images`)
  const [progress, setProgress] = useState<number | null>(null)
  const [message, setMessage] = useState<{ text: string; error: boolean } | null>(null)
  const [dragging, setDragging] = useState(false)
  const input = useRef<HTMLInputElement>(null)
  const canUpload = role !== 'viewer'
  const presence = usePresence(projectId)
  const ranking = useRanking(projectId)
  const userId = useSession().user.id
  const [chosenSort, setSort] = useState<ImageSort | null>(null)
  const [filter, setFilter] = useState<ImageFilter>('all')
  // Rank until the person picks an order, once there are scores to rank by.
  const sort = chosenSort ?? defaultSort(ranking.data)
  const now = Date.now()
  const rows = images.data ? rankImages(images.data.images, ranking.data, sort, filter, now) : []

  const upload = async (files: File[]) => {
    if (files.length === 0) return
    setProgress(0)
    setMessage(null)
    try {
      const result = await uploadFiles<UploadResult>(
        `/api/projects/${projectId}/images`,
        files,
        setProgress,
      )
      const added = result.images.length - result.duplicates.length
      setMessage({
        text: `Added ${added} image${added === 1 ? '' : 's'}${
          result.duplicates.length ? `; already here: ${result.duplicates.join(', ')}` : ''
        }`,
        error: false,
      })
      images.reload()
      onChange()
    } catch (reason) {
      setMessage({ text: (reason as Error).message, error: true })
    } finally {
      setProgress(null)
      if (input.current) input.current.value = ''
    }
  }
  const onDrop = (event: DragEvent) => {
    event.preventDefault()
    setDragging(false)
    if (canUpload) upload([...event.dataTransfer.files])
  }

  return (
    <section className="stack">
      {canUpload && (
        <div
          className={dragging ? 'dropzone dragging' : 'dropzone'}
          onDragOver={(e) => {
            e.preventDefault()
            setDragging(true)
          }}
          onDragLeave={() => setDragging(false)}
          onDrop={onDrop}
          data-testid="project.upload.dropzone"
        >
          <p>
            Drop PNG, JPEG or TIFF images here (8, 16 or 32-bit, 1–4 channels), or{' '}
            <button type="button" className="link-button" onClick={() => input.current?.click()}>
              choose files
            </button>
          </p>
          <input
            ref={input}
            type="file"
            multiple
            accept=".png,.jpg,.jpeg,.tif,.tiff,image/png,image/jpeg,image/tiff"
            hidden
            onChange={(e) => upload([...(e.target.files ?? [])])}
            data-testid="project.upload.input"
          />
          {progress !== null && (
            <div
              className="progress"
              role="progressbar"
              aria-valuenow={Math.round(progress * 100)}
              data-testid="project.upload.progress"
            >
              <div className="progress-bar" style={{ width: `${Math.round(progress * 100)}%` }} />
              <span>
                {progress < 1 ? `Uploading ${Math.round(progress * 100)}%` : 'Processing…'}
              </span>
            </div>
          )}
          {message && (
            <p
              className={message.error ? 'error' : 'success'}
              role={message.error ? 'alert' : 'status'}
              data-testid="project.upload.message"
            >
              {message.text}
            </p>
          )}
        </div>
      )}
      {images.error && <p className="error">{images.error}</p>}
      {images.data && images.data.images.length === 0 && <p className="empty">No images yet.</p>}
      <div className="image-queue">
        {role !== 'viewer' && (
          <NextImageButton projectId={projectId} testId="images.next" onClaimed={ranking.reload} />
        )}
        <label className="inline-form small">
          Sort by
          <select
            value={sort}
            onChange={(e) => setSort(e.target.value as ImageSort)}
            data-testid="images.sort"
          >
            {Object.entries(IMAGE_SORTS).map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <label className="inline-form small">
          Show
          <select
            value={filter}
            onChange={(e) => setFilter(e.target.value as ImageFilter)}
            data-testid="images.filter"
          >
            {Object.entries(IMAGE_FILTERS).map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
        {ranking.data && (
          <span
            className="muted small"
            data-testid="images.scored-by"
            data-version={ranking.data.version?.name}
          >
            {describeScoring(ranking.data, now)}
          </span>
        )}
        {ranking.error && <span className="error small">{ranking.error}</span>}
      </div>
      <ul className="image-grid" data-testid="image-grid">
        {rows.map(({ image, score, claim }) => (
          <li
            key={image.id}
            className="card image-card"
            data-testid="image-grid.item"
            data-image-id={image.id}
            data-rank={score?.rank}
          >
            <Link href={`/projects/${projectId}/images/${image.id}`} className="image-link">
              <img
                src={`/api/projects/${projectId}/images/${image.id}/thumbnail`}
                alt={image.name}
                loading="lazy"
                data-testid="image-grid.thumbnail"
              />
            </Link>
            <div className="image-card-body">
              <span className="image-name" title={image.name}>
                {image.name}
              </span>
              <span className="muted small">
                {image.width}×{image.height} · {image.channels} ch · {image.dtype}
              </span>
              {score && (
                <span className="small image-score">
                  <span data-testid="image-grid.rank">Rank {score.rank}</span>
                  {' · '}
                  <span data-testid="image-grid.score" title={String(score.score)}>
                    score {formatScore(score.score)}
                  </span>
                </span>
              )}
              {claim && (
                <span
                  className={claim.userId === userId ? 'badge claim claim-mine' : 'badge claim'}
                  data-testid="image-grid.claim"
                  data-holder={claim.username}
                >
                  {describeClaim(claim, userId, now)}
                </span>
              )}
              <span className="image-card-footer">
                <span className={`badge status-${image.status}`} data-testid="image-grid.status">
                  {STATUS_LABEL[image.status]}
                </span>
                <span className="presence" data-testid="image-grid.presence">
                  {presence.get(image.id)?.map((user) => (
                    <span
                      key={user.name}
                      className="avatar"
                      style={{ background: user.color }}
                      title={`${user.name} is here`}
                    >
                      {user.name.slice(0, 1).toUpperCase()}
                    </span>
                  ))}
                </span>
              </span>
            </div>
          </li>
        ))}
      </ul>
    </section>
  )
}

/** Who is on which image, refreshed every few seconds while the page is open. */
function usePresence(projectId: number) {
  const [presence, setPresence] = useState(
    new Map<number, ProjectPresence['images'][number]['users']>(),
  )
  useEffect(() => {
    let current = true
    const load = () =>
      api<ProjectPresence>('GET', `/api/projects/${projectId}/presence`).then(
        (result) => current && setPresence(new Map(result.images.map((i) => [i.imageId, i.users]))),
        () => undefined,
      )
    load()
    const timer = setInterval(load, 5000)
    return () => {
      current = false
      clearInterval(timer)
    }
  }, [projectId])
  return presence
}
