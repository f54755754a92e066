// Per-frame figures over time, drawn with uPlot as the training charts are: objects per frame,
// their mean area and the latency from arrival to result, one small chart each with a shared
// cursor. New frames are set on the existing charts (no redraw from scratch).
import { useMemo } from 'react'
import type uPlot from 'uplot'
import type { FrameSummary } from '../../../../shared/schemas/streams.ts'
import { useUplot } from '../../app/useUplot.ts'
import { chartColumns } from './frameBuffer.ts'

const HEIGHT = 140
const CURSOR_SYNC = 'tessera-stream-frames'

/** Counts are whole numbers: ticks never fall between them. */
const WHOLE_INCREMENTS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4]

const METRICS = [
  { id: 'count', label: 'objects', title: 'Objects per frame', color: '#2563eb', whole: true },
  {
    id: 'mean-area',
    label: 'mean area (px)',
    title: 'Mean object area',
    color: '#e67e22',
    whole: false,
  },
  { id: 'latency', label: 'latency (ms)', title: 'Latency', color: '#7c3aed', whole: false },
] as const

function MetricChart({
  title,
  label,
  color,
  whole,
  data,
}: {
  title: string
  label: string
  color: string
  whole: boolean
  data: uPlot.AlignedData
}) {
  const container = useUplot(
    {
      title,
      height: HEIGHT,
      legend: { show: false },
      cursor: { sync: { key: CURSOR_SYNC }, drag: { x: false, y: false } },
      axes: [{}, { label, size: 56, ...(whole ? { incrs: WHOLE_INCREMENTS } : {}) }],
      series: [{}, { label, stroke: color, width: 1.5, spanGaps: true, points: { show: false } }],
    },
    data,
    `${title}|${label}|${color}|${whole}`,
  )
  return <div ref={container} className="stream-chart" />
}

export function FrameCharts({ frames }: { frames: readonly FrameSummary[] }) {
  const data = useMemo(() => {
    const [time, ...columns] = chartColumns(frames)
    return columns.map((column): uPlot.AlignedData => [time, column])
  }, [frames])
  return (
    <div className="stream-charts" data-testid="streams.chart" data-points={frames.length}>
      {METRICS.map((metric, i) => (
        <MetricChart
          key={metric.id}
          title={metric.title}
          label={metric.label}
          color={metric.color}
          whole={metric.whole}
          data={data[i]!}
        />
      ))}
    </div>
  )
}
