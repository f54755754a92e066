// One image in the live editor: canvas and toolbar (with Next and pre-annotation's status),
// connection banner, and a side panel with the image's claim and rank, classes, review state,
// annotations, channel display and the image's facts.
import { useEffect, useMemo, useRef, useState } from 'react'
import { readReviewState, setReviewState } from '../../../shared/doc/index.ts'
import { DEFAULT_ACTIVE_LEARNING } from '../../../shared/schemas/activeLearning.ts'
import type { ImageInfo } from '../../../shared/schemas/images.ts'
import type { LabelClass, Member, Project } from '../../../shared/schemas/projects.ts'
import { useSession } from '../app/App.tsx'
import { Link } from '../app/Link.tsx'
import { useDocumentTitle } from '../app/router.ts'
import { useResource } from '../app/useResource.ts'
import { type ImageDoc, imageStorageKey, useImageDoc } from '../collab/useImageDoc.ts'
import { AnnotationList } from '../editor/AnnotationList.tsx'
import {
  type ChannelSetting,
  composeDisplay,
  defaultChannelSettings,
  type RawSamples,
  samplesOf,
} from '../editor/canvas/channelDisplay.ts'
import { EditorCanvas } from '../editor/canvas/EditorCanvas.tsx'
import { useEditorSelector } from '../editor/canvas/useEditor.ts'
import { Editor } from '../editor/core/Editor.ts'
import { describePreannotation } from '../editor/core/preannotation.ts'
import { SHORTCUTS, Toolbar } from '../editor/Toolbar.tsx'
import type { SegmentationClient } from '../ml/SegmentationClient.ts'
import { usePreannotation } from '../ml/usePreannotation.ts'
import { useProjectModel } from '../ml/useProjectModel.ts'
import { segmentationClient, useSegmentation } from '../ml/useSegmentation.ts'
import { ImageClaimStatus } from './ImageClaimStatus.tsx'
import { ImageFacts } from './ImageFacts.tsx'
import { liveClaims } from './imageRanking.ts'
import { NextImageButton } from './NextImageButton.tsx'
import { useActiveLearningSettings } from './useActiveLearningSettings.ts'
import { useRanking } from './useRanking.ts'

declare global {
  interface Window {
    /** For end-to-end tests and benchmarks: read the editor's state from outside. */
    __tesseraEditor?: {
      editor: Editor
      drawnCount(): number
      status(): string
      /** Closes the websocket as a network failure would (the provider then retries). */
      dropConnection(): void
      /** The tab's segmentation worker (parity check, click benchmark). */
      segmentation(): SegmentationClient
    }
  }
}

export function ImagePage({ projectId, imageId }: { projectId: number; imageId: number }) {
  const base = `/api/projects/${projectId}/images/${imageId}`
  const image = useResource<ImageInfo>(base)
  const project = useResource<Project>(`/api/projects/${projectId}`)
  const classes = useResource<{ classes: LabelClass[] }>(`/api/projects/${projectId}/classes`)
  const members = useResource<{ members: Member[] }>(`/api/projects/${projectId}/members`)
  const session = useSession()
  const user = useMemo(
    () => ({ id: session.user.id, name: session.user.displayName }),
    [session.user],
  )
  const imageDoc = useImageDoc(imageId, image.data ? imageStorageKey(image.data) : null, user)
  useDocumentTitle(image.data?.name ?? 'Image')
  const error = image.error ?? project.error
  if (error) return <p className="error page-message">{error}</p>
  if (!image.data || !project.data || !classes.data || !members.data || !imageDoc) {
    return <p className="page-message">Loading…</p>
  }
  return (
    <EditorView
      key={imageId}
      base={base}
      projectId={projectId}
      image={image.data}
      role={project.data.role}
      classes={classes.data.classes}
      members={members.data.members}
      imageDoc={imageDoc}
      userId={session.user.id}
    />
  )
}

/** Without the project's settings (they failed to load), nothing is written on its behalf. */
const DEFAULT_OFF = { ...DEFAULT_ACTIVE_LEARNING, preannotate: false }

function useDisplayPixels(base: string, image: ImageInfo, settings: ChannelSetting[]) {
  const [samples, setSamples] = useState<RawSamples | null>(null)
  const canvas = useMemo(() => {
    const c = document.createElement('canvas')
    c.width = image.width
    c.height = image.height
    return c
  }, [image.width, image.height])
  const [ready, setReady] = useState<HTMLCanvasElement | null>(null)
  useEffect(() => {
    let current = true
    fetch(`${base}/raw`, { credentials: 'same-origin' })
      .then((r) => (r.ok ? r.arrayBuffer() : Promise.reject(new Error(`raw pixels: ${r.status}`))))
      .then((buffer) => current && setSamples(samplesOf(buffer, image.dtype)))
      .catch(() => undefined)
    return () => {
      current = false
    }
  }, [base, image.dtype])
  useEffect(() => {
    if (!samples) return
    const context = canvas.getContext('2d')!
    const data = context.createImageData(image.width, image.height)
    composeDisplay(samples, image.width * image.height, image.channels, settings, data.data)
    context.putImageData(data, 0, 0)
    // A new object identity makes Konva redraw the image.
    setReady(null)
    requestAnimationFrame(() => setReady(canvas))
  }, [samples, settings, canvas, image])
  return { pixels: ready, samples }
}

function EditorView(props: {
  base: string
  projectId: number
  image: ImageInfo
  role: Project['role']
  classes: LabelClass[]
  members: Member[]
  imageDoc: ImageDoc
  userId: number
}) {
  const { image, classes, imageDoc } = props
  // The server's word on this connection's role wins: it changes while the image is open.
  const role = imageDoc.access?.role ?? props.role
  const readOnly = imageDoc.access?.readOnly ?? role === 'viewer'
  const editor = useMemo(
    () =>
      new Editor(imageDoc.doc, props.userId, {
        readOnly,
        classId: classes[0]?.id ?? null,
        image: { width: image.width, height: image.height },
        canReview: role === 'reviewer' || role === 'owner',
        canDeleteSkipped: role === 'owner',
      }),
    [imageDoc.doc, props.userId, readOnly, classes, image.width, image.height, role],
  )
  useEffect(() => () => editor.destroy(), [editor])
  useEffect(() => {
    editor.setClassShortcuts(
      new Map(classes.filter((c) => c.shortcut).map((c) => [c.shortcut!, c.id])),
    )
  }, [editor, classes])
  const activeClass = useEditorSelector(editor, (s) => s.classId)
  // The review state lives in the doc; re-read it when the annotations version changes.
  useEditorSelector(editor, () => editor.annotationsVersion)
  const [settings, setSettings] = useState(() => defaultChannelSettings(image.stats))
  const { pixels, samples } = useDisplayPixels(props.base, image, settings)
  const projectModel = useProjectModel(props.projectId)
  const assistStatus = useSegmentation(projectModel, image, samples, editor)
  const ranking = useRanking(props.projectId)
  const activeLearning = useActiveLearningSettings(props.projectId)
  // Known once the ranking has loaded (an image without a ranking is nobody's).
  const claimedByMe =
    ranking.data === null
      ? ranking.error === null
        ? null
        : false
      : liveClaims(ranking.data.claims, Date.now()).some(
          (c) => c.imageId === image.id && c.userId === props.userId,
        )
  const preannotation = usePreannotation(
    editor,
    image,
    imageDoc.synced,
    activeLearning.error === null ? activeLearning.data : DEFAULT_OFF,
    claimedByMe,
  )
  const [help, setHelp] = useState(false)
  const drawnCount = useRef(0)
  const canvasArea = useRef<HTMLDivElement>(null)
  const colorOf = useMemo(() => {
    const map = new Map(classes.map((c) => [c.id, c.color]))
    return (classId: number | null) =>
      classId === null ? '#cccccc' : (map.get(classId) ?? '#cccccc')
  }, [classes])
  const { provider } = imageDoc
  useEffect(() => {
    window.__tesseraEditor = {
      editor,
      drawnCount: () => drawnCount.current,
      status: () => imageDoc.status,
      dropConnection: () => provider.ws?.close(),
      segmentation: segmentationClient,
    }
    return () => {
      if (window.__tesseraEditor?.editor === editor) window.__tesseraEditor = undefined
    }
  }, [editor, imageDoc.status, provider])
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key === '?' && !(event.target instanceof HTMLInputElement)) setHelp((h) => !h)
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [])
  const fit = () => {
    const el = canvasArea.current
    if (el) editor.fit(el.clientWidth, el.clientHeight, image.width, image.height)
  }
  const review = readReviewState(imageDoc.doc)
  const canReview = role === 'reviewer' || role === 'owner'
  const statuses = canReview
    ? (['new', 'in_progress', 'done', 'reviewed'] as const)
    : (['new', 'in_progress', 'done'] as const)

  return (
    <div className="image-page">
      <div className="editor-main">
        <ConnectionBanner imageDoc={imageDoc} readOnly={readOnly} role={role} />
        <Toolbar
          editor={editor}
          onFit={fit}
          onHelp={() => setHelp(true)}
          assistStatus={assistStatus}
        >
          {preannotation && (
            <span
              className={`model-status${preannotation.phase === 'failed' ? ' model-error' : ''}`}
              data-testid="editor.preannotate"
              data-phase={preannotation.phase}
              data-added={preannotation.added}
            >
              {describePreannotation(preannotation)}
            </span>
          )}
          {role !== 'viewer' && (
            <NextImageButton
              projectId={props.projectId}
              currentImageId={image.id}
              testId="editor.next"
              shortcut
              onClaimed={ranking.reload}
            />
          )}
        </Toolbar>
        <div className="editor-area" ref={canvasArea}>
          <EditorCanvas
            editor={editor}
            imageWidth={image.width}
            imageHeight={image.height}
            pixels={pixels}
            colorOf={colorOf}
            awareness={imageDoc.provider.awareness}
            drawnCount={drawnCount}
          />
        </div>
      </div>
      <aside className="side-panel">
        <p className="breadcrumb">
          <Link href={`/projects/${props.projectId}`}>Back to project</Link>
        </p>
        <h2 className="image-title" data-testid="image.name">
          {image.name}
        </h2>
        <ImageClaimStatus
          projectId={props.projectId}
          imageId={image.id}
          userId={props.userId}
          isOwner={role === 'owner'}
          ranking={ranking.data}
          finished={review.status === 'done' || review.status === 'reviewed'}
          onChange={ranking.reload}
        />
        <section className="panel-section">
          <h3>Class</h3>
          <div className="class-picker">
            {classes.map((c) => (
              <button
                key={c.id}
                type="button"
                className={activeClass === c.id ? 'class-button active' : 'class-button'}
                onClick={() => editor.setActiveClass(c.id)}
                data-testid="classes.pick"
              >
                <span className="swatch" style={{ background: c.color }} /> {c.name}{' '}
                {c.shortcut && <kbd>{c.shortcut}</kbd>}
              </button>
            ))}
            {classes.length === 0 && (
              <p className="muted small">No classes yet: an owner adds them on the project page.</p>
            )}
          </div>
        </section>
        <section className="panel-section">
          <h3>Image status</h3>
          <select
            value={review.status}
            disabled={readOnly}
            onChange={(e) =>
              setReviewState(
                imageDoc.doc,
                { status: e.target.value as (typeof statuses)[number] },
                editor.origin,
              )
            }
            data-testid="image.status"
          >
            {(statuses as readonly string[]).includes(review.status) ? null : (
              <option>{review.status}</option>
            )}
            {statuses.map((s) => (
              <option key={s} value={s}>
                {s.replace('_', ' ')}
              </option>
            ))}
          </select>
        </section>
        <AnnotationList editor={editor} classes={classes} members={props.members} />
        <ChannelControls image={image} settings={settings} onChange={setSettings} />
        <ImageFacts image={image} />
      </aside>
      {help && (
        <div className="help-overlay" onClick={() => setHelp(false)} data-testid="editor.help">
          <div className="card help-card">
            <h2>Keyboard shortcuts</h2>
            <table className="table">
              <tbody>
                {SHORTCUTS.map(([key, what]) => (
                  <tr key={key}>
                    <td>
                      <kbd>{key}</kbd>
                    </td>
                    <td>{what}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      )}
    </div>
  )
}

function ConnectionBanner({
  imageDoc,
  readOnly,
  role,
}: {
  imageDoc: ImageDoc
  readOnly: boolean
  role: Project['role']
}) {
  const { status, unsentEdits, reason, notice } = imageDoc
  const [dismissed, setDismissed] = useState(0)
  const text =
    status === 'connected'
      ? readOnly
        ? `Live · read only (${role})`
        : 'Live'
      : status === 'connecting'
        ? 'Connecting…'
        : status === 'refused'
          ? `Not connected: ${reason ?? 'refused by the server'}`
          : `Offline · ${unsentEdits} edit${unsentEdits === 1 ? '' : 's'} kept on this device, sent when the connection returns`
  return (
    <>
      <div
        className={`connection-banner status-${status}`}
        data-testid="editor.connection"
        data-status={status}
      >
        {text}
        {status === 'refused' && (
          <button
            type="button"
            className="banner-action"
            onClick={() => imageDoc.reconnect()}
            data-testid="editor.reconnect"
          >
            Reconnect
          </button>
        )}
      </div>
      {notice && notice.at > dismissed && (
        <div className="connection-notice" role="status" data-testid="editor.notice">
          {notice.text}
          <button
            type="button"
            className="banner-action"
            onClick={() => setDismissed(notice.at)}
            aria-label="Dismiss"
          >
            ×
          </button>
        </div>
      )}
    </>
  )
}

function ChannelControls({
  image,
  settings,
  onChange,
}: {
  image: ImageInfo
  settings: ChannelSetting[]
  onChange(settings: ChannelSetting[]): void
}) {
  const set = (c: number, change: Partial<ChannelSetting>) =>
    onChange(settings.map((s, i) => (i === c ? { ...s, ...change } : s)))
  const step = image.dtype === 'float32' ? 'any' : '1'
  return (
    <section className="panel-section">
      <h3>Display</h3>
      {settings.map((s, c) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: channels are identified by their index
        <div key={c} className="channel-row" data-testid="display.channel">
          <label>
            <input
              type="checkbox"
              checked={s.visible}
              onChange={(e) => set(c, { visible: e.target.checked })}
            />{' '}
            Ch {c + 1}
          </label>
          <input
            type="color"
            value={toHex(s.color)}
            onChange={(e) => set(c, { color: fromHex(e.target.value) })}
            aria-label={`Channel ${c + 1} colour`}
          />
          <input
            type="number"
            step={step}
            value={step === '1' ? Math.round(s.low) : s.low}
            onChange={(e) => set(c, { low: Number(e.target.value) })}
            aria-label={`Channel ${c + 1} black level`}
          />
          <input
            type="number"
            step={step}
            value={step === '1' ? Math.round(s.high) : s.high}
            onChange={(e) => set(c, { high: Number(e.target.value) })}
            aria-label={`Channel ${c + 1} white level`}
          />
        </div>
      ))}
      <button type="button" onClick={() => onChange(defaultChannelSettings(image.stats))}>
        Auto contrast
      </button>
    </section>
  )
}

const toHex = (color: [number, number, number]) =>
  `#${color
    .map((v) =>
      Math.round(v * 255)
        .toString(16)
        .padStart(2, '0'),
    )
    .join('')}`
const fromHex = (hex: string): [number, number, number] =>
  [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16) / 255) as [number, number, number]
