// The image's size, type and per-channel statistics.
import type { ImageInfo } from '../../../shared/schemas/images.ts'

const PERCENTILES = ['0.1', '1', '50', '99', '99.9'] as const

const format = (value: number, dtype: ImageInfo['dtype']) =>
  dtype === 'float32'
    ? value.toPrecision(5)
    : Number.isInteger(value)
      ? String(value)
      : value.toFixed(1)

export function ImageFacts({ image }: { image: ImageInfo }) {
  return (
    <details className="panel-section" open>
      <summary>
        <h3>Image</h3>
      </summary>
      <dl className="facts">
        <dt>Size</dt>
        <dd>
          {image.width} × {image.height}
        </dd>
        <dt>Channels</dt>
        <dd>{image.channels}</dd>
        <dt>Type</dt>
        <dd>{image.dtype}</dd>
        <dt>Format</dt>
        <dd>
          {image.format.toUpperCase()}
          {image.pageCount > 1 ? `, page ${image.page + 1} of ${image.pageCount}` : ''}
        </dd>
      </dl>
      <table className="table stats" data-testid="image.stats">
        <thead>
          <tr>
            <th>Ch</th>
            <th>min</th>
            <th>max</th>
            <th>mean</th>
            {PERCENTILES.map((p) => (
              <th key={p}>p{p}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {image.stats.map((s, c) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: channels are identified by their index
            <tr key={c} data-testid="image.stats.channel">
              <td>{c + 1}</td>
              <td>{format(s.min, image.dtype)}</td>
              <td data-testid="image.stats.max">{format(s.max, image.dtype)}</td>
              <td>{format(s.mean, image.dtype)}</td>
              {PERCENTILES.map((p) => (
                <td key={p}>{format(s.percentiles[p], image.dtype)}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  )
}
