// The image's size, type and per-channel statistics.
import type { ImageInfo } from '../../../shared/schemas/images.ts'

type ChannelStats = ImageInfo['stats'][number]

const STATISTICS: { label: string; value: (s: ChannelStats) => number; testId?: string }[] = [
  { label: 'min', value: (s) => s.min, testId: 'image.stats.min' },
  { label: 'max', value: (s) => s.max, testId: 'image.stats.max' },
  { label: 'mean', value: (s) => s.mean },
  ...(['0.1', '1', '50', '99', '99.9'] as const).map((p) => ({
    label: `p${p}`,
    value: (s: ChannelStats) => s.percentiles[p],
  })),
]

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
      {/* Statistics are rows and channels columns, so the table fits the narrow side panel. */}
      <table className="table stats" data-testid="image.stats">
        <thead>
          <tr>
            <th>Statistic</th>
            {image.stats.map((_, c) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: channels are identified by their index
              <th key={c} data-testid="image.stats.channel">
                {image.channels > 1 ? `Ch ${c + 1}` : 'Value'}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {STATISTICS.map(({ label, value, testId }) => (
            <tr key={label}>
              <th scope="row">{label}</th>
              {image.stats.map((channel, c) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: channels are identified by their index
                <td key={c} data-testid={testId}>
                  {format(value(channel), image.dtype)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  )
}
