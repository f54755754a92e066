// The editor's canvas: renders Editor state with react-konva (image, annotations in view,
// highlights and tool preview, collaborators' cursors) and turns pointer, wheel and key input
// into Editor calls. It keeps no annotation state of its own.
import type Konva from 'konva'
import { type PointerEvent, useEffect, useRef, useState, type WheelEvent } from 'react'
import { Image as KonvaImage, Layer, Shape, Stage } from 'react-konva'
import type { Awareness } from 'y-protocols/awareness'
import type { Editor } from '../core/Editor.ts'
import { insertVertex, moveVertex } from '../core/geometryOf.ts'
import { TOOL_BY_ID } from '../core/tools/index.ts'
import { AnnotationBitmap } from './annotationBitmap.ts'
import { drawHighlight } from './drawAnnotations.ts'
import { useAnnotations, useEditorState } from './useEditor.ts'

export interface RemoteUser {
  clientId: number
  name: string
  color: string
  cursor?: { x: number; y: number }
  selection?: string[]
}

interface Props {
  editor: Editor
  imageWidth: number
  imageHeight: number
  pixels: HTMLCanvasElement | null
  colorOf(classId: number | null): string
  awareness: Awareness | null
  /** Filled by the annotation painter; read by the end-to-end API and the benchmark. */
  drawnCount: { current: number }
}

function useRemoteUsers(awareness: Awareness | null): RemoteUser[] {
  const [users, setUsers] = useState<RemoteUser[]>([])
  useEffect(() => {
    if (!awareness) return
    const read = () => {
      const out: RemoteUser[] = []
      for (const [clientId, state] of awareness.getStates()) {
        if (clientId === awareness.clientID || !state.user) continue
        out.push({
          clientId,
          name: state.user.name,
          color: state.user.color,
          cursor: state.cursor,
          selection: state.selection,
        })
      }
      setUsers(out)
    }
    read()
    awareness.on('change', read)
    return () => awareness.off('change', read)
  }, [awareness])
  return users
}

export function EditorCanvas({
  editor,
  imageWidth,
  imageHeight,
  pixels,
  colorOf,
  awareness,
  drawnCount,
}: Props) {
  const state = useEditorState(editor)
  const annotations = useAnnotations(editor)
  const remote = useRemoteUsers(awareness)
  const container = useRef<HTMLDivElement>(null)
  const [size, setSize] = useState({ width: 800, height: 600 })
  const fitted = useRef(false)
  const panning = useRef<{ x: number; y: number } | null>(null)
  const spaceHeld = useRef(false)
  const bitmap = useRef(new AnnotationBitmap())
  // biome-ignore lint/correctness/useExhaustiveDependencies: new colours invalidate the bitmap
  useEffect(() => bitmap.current.invalidate(), [colorOf])

  useEffect(() => {
    const element = container.current!
    const observer = new ResizeObserver(() => {
      const next = { width: element.clientWidth, height: element.clientHeight }
      setSize(next)
      editor.setViewSize(next.width, next.height, imageWidth, imageHeight)
      if (!fitted.current && next.width > 0) {
        fitted.current = true
        editor.fit(next.width, next.height, imageWidth, imageHeight)
      }
    })
    observer.observe(element)
    return () => observer.disconnect()
  }, [editor, imageWidth, imageHeight])

  useEffect(() => {
    const typing = (target: EventTarget | null) =>
      target instanceof HTMLElement &&
      (['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName) || target.isContentEditable)
    const onKeyDown = (event: KeyboardEvent) => {
      if (typing(event.target)) return
      if (event.code === 'Space') {
        spaceHeld.current = true
        event.preventDefault()
        return
      }
      const element = container.current!
      if (event.key === 'f' && !event.ctrlKey && !event.metaKey) {
        editor.fit(element.clientWidth, element.clientHeight, imageWidth, imageHeight)
        return
      }
      if (event.key === '0' && !event.ctrlKey) {
        editor.oneToOne(element.clientWidth, element.clientHeight)
        return
      }
      if (
        editor.keyDown(event.key, { ctrl: event.ctrlKey || event.metaKey, shift: event.shiftKey })
      )
        event.preventDefault()
    }
    const onKeyUp = (event: KeyboardEvent) => {
      if (event.code === 'Space') spaceHeld.current = false
    }
    window.addEventListener('keydown', onKeyDown)
    window.addEventListener('keyup', onKeyUp)
    return () => {
      window.removeEventListener('keydown', onKeyDown)
      window.removeEventListener('keyup', onKeyUp)
    }
  }, [editor, imageWidth, imageHeight])

  // Publish my cursor and selection to collaborators (at most once per frame).
  const pendingCursor = useRef<{ x: number; y: number } | null>(null)
  const publishCursor = (point: { x: number; y: number }) => {
    if (!awareness) return
    const first = pendingCursor.current === null
    pendingCursor.current = point
    if (first) {
      requestAnimationFrame(() => {
        awareness.setLocalStateField('cursor', pendingCursor.current)
        pendingCursor.current = null
      })
    }
  }
  useEffect(() => {
    awareness?.setLocalStateField('selection', state.selection)
  }, [awareness, state.selection])

  const local = (event: PointerEvent | WheelEvent) => {
    const rect = container.current!.getBoundingClientRect()
    return { x: event.clientX - rect.left, y: event.clientY - rect.top }
  }
  const toolEvent = (event: PointerEvent) => {
    const screen = local(event)
    return {
      point: editor.screenToImage(screen.x, screen.y),
      button: event.button,
      shift: event.shiftKey,
      alt: event.altKey,
    }
  }
  const onPointerDown = (event: PointerEvent<HTMLDivElement>) => {
    event.currentTarget.setPointerCapture(event.pointerId)
    if (event.button === 1 || spaceHeld.current) {
      panning.current = local(event)
      event.preventDefault()
      return
    }
    editor.pointerDown(toolEvent(event))
  }
  const onPointerMove = (event: PointerEvent<HTMLDivElement>) => {
    const screen = local(event)
    if (panning.current) {
      editor.panBy(screen.x - panning.current.x, screen.y - panning.current.y)
      panning.current = screen
      return
    }
    const e = toolEvent(event)
    publishCursor(e.point)
    editor.pointerMove(e)
    if (state.toolId === 'select' && !state.gesture) editor.setHover(editor.annotationAt(e.point))
  }
  const onPointerUp = (event: PointerEvent<HTMLDivElement>) => {
    if (panning.current) {
      panning.current = null
      return
    }
    editor.pointerUp(toolEvent(event))
  }
  const onWheel = (event: WheelEvent<HTMLDivElement>) => {
    const screen = local(event)
    editor.zoomAt(screen.x, screen.y, Math.exp(-event.deltaY * 0.0015))
  }

  const { camera } = state
  const transform = { x: camera.x, y: camera.y, scaleX: camera.scale, scaleY: camera.scale }
  const selected = state.selection.map((id) => editor.annotation(id)).filter((a) => a !== undefined)
  const hovered = state.hoverId ? editor.annotation(state.hoverId) : undefined
  const sceneAnnotations = (context: Konva.Context, shape: Konva.Shape) => {
    // While dragging, the selection is drawn moved in the overlay instead.
    const moving =
      state.toolState === 'select.dragging'
        ? new Set(state.selection)
        : state.toolState === 'select.vertex' && state.gesture?.vertex
          ? new Set([state.gesture.vertex.id])
          : null
    const version = `${editor.annotationsVersion}|${moving ? [...moving].join(',') : ''}`
    bitmap.current.draw(
      context._context,
      camera,
      size,
      version,
      (area) => {
        const inView = editor.annotationsIn(area)
        return moving ? inView.filter((a) => !moving.has(a.id)) : inView
      },
      { colorOf },
      () => shape.getLayer()?.batchDraw(),
    )
    drawnCount.current = bitmap.current.drawnCount
  }
  /** The selection as it looks during a vertex drag: the edited geometry in place. */
  const editedSelection = () => {
    const vertex = state.toolState === 'select.vertex' ? state.gesture?.vertex : undefined
    const cursor = state.gesture?.cursor
    if (!vertex || !cursor) return selected
    return selected.map((a) => {
      if (a.id !== vertex.id) return a
      const ref = { list: vertex.list, index: vertex.index }
      const geometry = vertex.inserted ? insertVertex(a, ref, cursor) : moveVertex(a, ref, cursor)
      return { ...a, geometry } as typeof a
    })
  }
  const sceneOverlay = (context: Konva.Context) => {
    const ctx = context._context
    const offset = state.toolState === 'select.dragging' ? state.gesture?.offset : undefined
    ctx.save()
    if (offset) ctx.translate(offset.x, offset.y)
    drawHighlight(ctx, editedSelection(), camera.scale, '#ffd400', !offset)
    ctx.restore()
    if (hovered && !state.selection.includes(hovered.id))
      drawHighlight(ctx, [hovered], camera.scale, '#ffffff', false)
    for (const user of remote) {
      const theirs = (user.selection ?? [])
        .map((id) => editor.annotation(id))
        .filter((a) => a !== undefined)
      drawHighlight(ctx, theirs, camera.scale, user.color, false)
    }
    drawToolPreview(ctx, editor, camera.scale)
    for (const user of remote) {
      if (!user.cursor) continue
      const r = 5 / camera.scale
      ctx.fillStyle = user.color
      ctx.beginPath()
      ctx.arc(user.cursor.x, user.cursor.y, r, 0, Math.PI * 2)
      ctx.fill()
      ctx.font = `${12 / camera.scale}px system-ui, sans-serif`
      ctx.fillText(user.name, user.cursor.x + 8 / camera.scale, user.cursor.y - 8 / camera.scale)
    }
  }

  const cursor =
    panning.current || spaceHeld.current
      ? 'grab'
      : state.toolId === 'select'
        ? 'default'
        : 'crosshair'
  return (
    <div
      ref={container}
      className="editor-canvas"
      style={{ cursor }}
      onPointerDown={onPointerDown}
      onPointerMove={onPointerMove}
      onPointerUp={onPointerUp}
      onWheel={onWheel}
      onContextMenu={(e) => e.preventDefault()}
      data-testid="editor.canvas"
      data-tool-state={state.toolState}
      data-annotations={annotations.length}
    >
      <Stage width={size.width} height={size.height} listening={false}>
        <Layer listening={false} imageSmoothingEnabled={false} {...transform}>
          {pixels && (
            <KonvaImage image={pixels} width={imageWidth} height={imageHeight} listening={false} />
          )}
        </Layer>
        <Layer listening={false}>
          <Shape sceneFunc={sceneAnnotations} listening={false} perfectDrawEnabled={false} />
        </Layer>
        <Layer listening={false} {...transform}>
          <Shape sceneFunc={sceneOverlay} listening={false} perfectDrawEnabled={false} />
        </Layer>
      </Stage>
    </div>
  )
}

/** The click tool's object: the model's mask as a filled outline, and the clicks so far. */
function drawAssisted(ctx: CanvasRenderingContext2D, editor: Editor, scale: number) {
  const object = editor.state.assisted
  if (!object) return
  const rings = object.result?.rings
  if (rings) {
    ctx.beginPath()
    for (const ring of rings) {
      ctx.moveTo(ring[0], ring[1])
      for (let i = 2; i < ring.length; i += 2) ctx.lineTo(ring[i], ring[i + 1])
      ctx.lineTo(ring[0], ring[1])
    }
    ctx.fillStyle = editor.assistSettled ? 'rgba(0, 200, 255, 0.3)' : 'rgba(0, 200, 255, 0.15)'
    ctx.fill('evenodd')
    ctx.lineWidth = 1.5 / scale
    ctx.strokeStyle = '#00c8ff'
    ctx.stroke()
  }
  for (const click of object.clicks) {
    ctx.beginPath()
    ctx.arc(click.x, click.y, 4 / scale, 0, Math.PI * 2)
    ctx.fillStyle = click.positive ? '#2ecc40' : '#ff4136'
    ctx.fill()
    ctx.lineWidth = 1 / scale
    ctx.strokeStyle = '#ffffff'
    ctx.stroke()
  }
}

function drawToolPreview(ctx: CanvasRenderingContext2D, editor: Editor, scale: number) {
  const { toolState, gesture, toolId, brushRadius } = editor.state
  if (toolId === 'click') {
    drawAssisted(ctx, editor, scale)
    return
  }
  if (toolId === 'brush' || toolId === 'eraser') {
    const points = gesture?.points ?? (gesture?.cursor ? [gesture.cursor.x, gesture.cursor.y] : [])
    ctx.fillStyle = toolId === 'brush' ? 'rgba(255, 212, 0, 0.35)' : 'rgba(255, 80, 80, 0.35)'
    ctx.beginPath()
    for (let i = 0; i < points.length; i += 2) {
      ctx.moveTo(points[i] + brushRadius, points[i + 1])
      ctx.arc(points[i], points[i + 1], brushRadius, 0, Math.PI * 2)
    }
    ctx.fill()
    return
  }
  if (!gesture?.points || !toolState.endsWith('.drawing')) return
  const points = [...gesture.points]
  ctx.lineWidth = 2 / scale
  ctx.strokeStyle = '#ffd400'
  ctx.setLineDash([4 / scale, 3 / scale])
  ctx.beginPath()
  if (TOOL_BY_ID[editor.state.toolId].id === 'box') {
    const [x0, y0, x1, y1] = points
    ctx.rect(Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0), Math.abs(y1 - y0))
  } else {
    if (gesture.cursor) points.push(gesture.cursor.x, gesture.cursor.y)
    ctx.moveTo(points[0], points[1])
    for (let i = 2; i < points.length; i += 2) ctx.lineTo(points[i], points[i + 1])
  }
  ctx.stroke()
  ctx.setLineDash([])
  ctx.fillStyle = '#ffd400'
  for (let i = 0; i < gesture.points.length; i += 2) {
    ctx.fillRect(
      gesture.points[i] - 3 / scale,
      gesture.points[i + 1] - 3 / scale,
      6 / scale,
      6 / scale,
    )
  }
}
