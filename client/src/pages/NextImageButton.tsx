// Next: asks the server for the best-ranked image nobody has finished or holds, claimed for the
// caller, and opens it. The server gives back the caller's own claim while they hold one, so
// Next on an image you hold says so instead of reopening it. Shift+N presses it in the editor.
import { useEffect, useState } from 'react'
import { requestNextImage } from '../api/activeLearning.ts'
import { navigate } from '../app/router.ts'
import { formatClock } from './imageRanking.ts'

/** The keyboard shortcut, declared beside its action. */
export const NEXT_IMAGE_SHORTCUT = 'Shift+N'
export const isNextImageKey = (event: KeyboardEvent) =>
  event.shiftKey && !event.ctrlKey && !event.metaKey && !event.altKey && event.key === 'N'

export const NOTHING_LEFT = 'Nothing left to label: every image is done or held by someone'

const typing = (target: EventTarget | null) =>
  target instanceof HTMLElement &&
  (['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName) || target.isContentEditable)

export function NextImageButton({
  projectId,
  currentImageId,
  testId,
  shortcut = false,
  onClaimed,
}: {
  projectId: number
  /** The image open now (the editor), if any. */
  currentImageId?: number
  /** 'editor.next' or 'images.next'; the message is `${testId}.message`. */
  testId: string
  /** Listen for Shift+N (the editor). */
  shortcut?: boolean
  /** Called after a claim, whichever image it is (the page refreshes its claims). */
  onClaimed?(): void
}) {
  const [busy, setBusy] = useState(false)
  const [message, setMessage] = useState<{ text: string; error: boolean } | null>(null)

  const next = async () => {
    if (busy) return
    setBusy(true)
    setMessage(null)
    try {
      const answer = await requestNextImage(projectId)
      if (!answer.image) {
        setMessage({ text: NOTHING_LEFT, error: false })
        return
      }
      onClaimed?.()
      if (answer.image.id === currentImageId) {
        const until = answer.claim
          ? ` until ${formatClock(answer.claim.expiresAt, Date.now())}`
          : ''
        setMessage({
          text: `This image is yours${until}: mark it done (or release it) and Next gives another`,
          error: false,
        })
        return
      }
      navigate(`/projects/${projectId}/images/${answer.image.id}`)
    } catch (reason) {
      setMessage({ text: (reason as Error).message, error: true })
    } finally {
      setBusy(false)
    }
  }

  // The latest `next` for the key listener, without re-adding the listener on every render.
  const [pressed, setPressed] = useState(0)
  useEffect(() => {
    if (!shortcut) return
    const onKey = (event: KeyboardEvent) => {
      if (!isNextImageKey(event) || typing(event.target)) return
      // Ahead of the canvas's listener: a class whose shortcut is N is not picked as well.
      event.stopImmediatePropagation()
      event.preventDefault()
      setPressed((n) => n + 1)
    }
    window.addEventListener('keydown', onKey, { capture: true })
    return () => window.removeEventListener('keydown', onKey, { capture: true })
  }, [shortcut])
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs once per key press
  useEffect(() => {
    if (pressed > 0) void next()
  }, [pressed])

  return (
    <>
      <button
        type="button"
        onClick={next}
        disabled={busy}
        title={`Open the best-ranked image nobody has finished or holds, and hold it for you${
          shortcut ? ` (${NEXT_IMAGE_SHORTCUT})` : ''
        }`}
        data-testid={testId}
      >
        Next
        {shortcut && <kbd>{NEXT_IMAGE_SHORTCUT}</kbd>}
      </button>
      {message && (
        <span
          className={message.error ? 'error small' : 'muted small'}
          role={message.error ? 'alert' : 'status'}
          data-testid={`${testId}.message`}
        >
          {message.text}
        </span>
      )}
    </>
  )
}
