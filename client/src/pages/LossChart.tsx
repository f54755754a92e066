// A job's training loss and validation loss by step, drawn with uPlot; new points are set on the
// existing chart (no redraw from scratch), and it follows its container's width.
import { useMemo } from 'react'
import type uPlot from 'uplot'
import type { JobHistoryPoint } from '../../../shared/schemas/training.ts'
import { useUplot } from '../app/useUplot.ts'

const HEIGHT = 180
/** Steps are whole numbers: ticks never fall between them. */
const STEP_INCREMENTS = [
  1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6,
]

function seriesOf(history: readonly JobHistoryPoint[]): uPlot.AlignedData {
  const points = [...history].sort((a, b) => a.step - b.step)
  return [
    points.map((p) => p.step),
    points.map((p) => p.loss),
    points.map((p) => p.validationLoss ?? null),
  ]
}

export function LossChart({ history }: { history: readonly JobHistoryPoint[] }) {
  const data = useMemo(() => seriesOf(history), [history])
  const container = useUplot(
    {
      height: HEIGHT,
      scales: { x: { time: false } },
      legend: { live: false },
      cursor: { drag: { x: false, y: false } },
      axes: [
        { label: 'step', incrs: STEP_INCREMENTS },
        { label: 'loss', size: 56 },
      ],
      series: [
        { label: 'step' },
        { label: 'loss', stroke: '#2563eb', width: 1.5, spanGaps: true },
        {
          label: 'validation loss',
          stroke: '#e67e22',
          width: 1.5,
          spanGaps: true,
          points: { show: true, size: 5 },
        },
      ],
    },
    data,
    'loss',
  )
  return (
    <div
      ref={container}
      className="loss-chart"
      data-testid="training.job.chart"
      data-points={history.length}
    />
  )
}
