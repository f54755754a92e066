// One image: its display rendition and per-channel statistics. The live editor's canvas takes
// the viewer's place; the side panel keeps the image's facts.
import type { ImageInfo } from '../../../shared/schemas/images.ts'
import { Link } from '../app/Link.tsx'
import { useDocumentTitle } from '../app/router.ts'
import { useResource } from '../app/useResource.ts'

const PERCENTILES = ['0.1', '1', '50', '99', '99.9'] as const

const format = (value: number, dtype: ImageInfo['dtype']) =>
  dtype === 'float32'
    ? value.toPrecision(5)
    : Number.isInteger(value)
      ? String(value)
      : value.toFixed(1)

export function ImagePage({ projectId, imageId }: { projectId: number; imageId: number }) {
  const base = `/api/projects/${projectId}/images/${imageId}`
  const image = useResource<ImageInfo>(base)
  useDocumentTitle(image.data?.name ?? 'Image')
  if (image.error) return <p className="error page-message">{image.error}</p>
  if (!image.data) return <p className="page-message">Loading…</p>
  const info = image.data
  const { tileSize, columns, rows } = info.tiles
  return (
    <div className="image-page">
      <div className="image-viewport" data-testid="image.viewport">
        <div
          className="tile-grid"
          style={{
            gridTemplateColumns: `repeat(${columns}, auto)`,
            aspectRatio: `${info.width} / ${info.height}`,
          }}
        >
          {Array.from({ length: rows * columns }, (_, k) => {
            const column = k % columns
            const row = Math.floor(k / columns)
            return (
              <img
                key={`${column}-${row}`}
                src={`${base}/display/${column}/${row}`}
                alt={`${info.name}, tile ${column},${row}`}
                style={{
                  width: `${(Math.min(tileSize, info.width - column * tileSize) / info.width) * 100}%`,
                }}
              />
            )
          })}
        </div>
      </div>
      <aside className="side-panel">
        <p className="breadcrumb">
          <Link href={`/projects/${projectId}`}>Back to project</Link>
        </p>
        <h2 className="image-title" data-testid="image.name">
          {info.name}
        </h2>
        <dl className="facts">
          <dt>Size</dt>
          <dd>
            {info.width} × {info.height}
          </dd>
          <dt>Channels</dt>
          <dd>{info.channels}</dd>
          <dt>Type</dt>
          <dd>{info.dtype}</dd>
          <dt>Format</dt>
          <dd>
            {info.format.toUpperCase()}
            {info.pageCount > 1 ? `, page ${info.page + 1} of ${info.pageCount}` : ''}
          </dd>
          <dt>File</dt>
          <dd>{(info.bytes / 1024).toFixed(0)} KiB</dd>
        </dl>
        <table className="table stats" data-testid="image.stats">
          <thead>
            <tr>
              <th>Channel</th>
              <th>min</th>
              <th>max</th>
              <th>mean</th>
              {PERCENTILES.map((p) => (
                <th key={p}>p{p}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {info.stats.map((s, c) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: channels have no other identity
              <tr key={c} data-testid="image.stats.channel">
                <td>{c + 1}</td>
                <td>{format(s.min, info.dtype)}</td>
                <td data-testid="image.stats.max">{format(s.max, info.dtype)}</td>
                <td>{format(s.mean, info.dtype)}</td>
                {PERCENTILES.map((p) => (
                  <td key={p}>{format(s.percentiles[p], info.dtype)}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </aside>
    </div>
  )
}
