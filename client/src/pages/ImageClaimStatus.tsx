// The editor's lines on the open image's place in the queue: who holds it until when (with
// Release for its holder, or an owner), and its rank in the newest scores and which version and
// strategy gave it.
import { useState } from 'react'
import type { ProjectRanking } from '../../../shared/schemas/activeLearning.ts'
import { releaseClaim } from '../api/activeLearning.ts'
import { describeClaim, describeRank, liveClaims } from './imageRanking.ts'

export function ImageClaimStatus({
  projectId,
  imageId,
  userId,
  isOwner,
  ranking,
  finished,
  onChange,
}: {
  projectId: number
  imageId: number
  userId: number
  isOwner: boolean
  ranking: ProjectRanking | null
  /** Marked done or reviewed in the document: the claim has ended (the server ends it too). */
  finished: boolean
  onChange(): void
}) {
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  if (!ranking) return null
  const now = Date.now()
  const claim = finished
    ? null
    : (liveClaims(ranking.claims, now).find((c) => c.imageId === imageId) ?? null)
  const score = ranking.scores.find((s) => s.imageId === imageId) ?? null
  if (!claim && !score) return null
  const release = async () => {
    setBusy(true)
    setError(null)
    try {
      await releaseClaim(projectId, imageId)
      onChange()
    } catch (reason) {
      setError((reason as Error).message)
    } finally {
      setBusy(false)
    }
  }
  return (
    <section className="panel-section queue-status">
      {claim && (
        <p
          className={claim.userId === userId ? 'claim claim-mine' : 'claim'}
          data-testid="editor.claim"
          data-holder={claim.username}
        >
          {describeClaim(claim, userId, now)}
          {(claim.userId === userId || isOwner) && (
            <button
              type="button"
              className="link-button"
              disabled={busy}
              onClick={release}
              title="Let others get this image from Next"
              data-testid="editor.claim.release"
            >
              Release
            </button>
          )}
        </p>
      )}
      {score && (
        <p className="muted small" data-testid="editor.rank" data-rank={score.rank}>
          {describeRank(score, ranking)}
        </p>
      )}
      {error && (
        <p className="error small" role="alert">
          {error}
        </p>
      )}
    </section>
  )
}
