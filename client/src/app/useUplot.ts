// A uPlot chart in a container element: made once per set of options, its data set on the
// existing chart as it changes (no redraw from scratch), following the container's width. The
// training and stream charts share it.
import { type RefObject, useEffect, useRef } from 'react'
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'

const MIN_WIDTH = 200

/**
 * `options` (without a width: the container's is used) is read when `key` changes; `data`
 * should keep its identity while it does not change (memoise it).
 */
export function useUplot(
  options: Omit<uPlot.Options, 'width'>,
  data: uPlot.AlignedData,
  key: string,
): RefObject<HTMLDivElement | null> {
  const container = useRef<HTMLDivElement>(null)
  const plot = useRef<uPlot | null>(null)
  const latest = useRef({ options, data })
  latest.current = { options, data }

  // biome-ignore lint/correctness/useExhaustiveDependencies: the chart is made again only when the caller's key says its options changed
  useEffect(() => {
    const target = container.current
    if (!target) return
    const { options: made, data: initial } = latest.current
    const chart = new uPlot(
      { ...made, width: Math.max(MIN_WIDTH, target.clientWidth) },
      initial,
      target,
    )
    plot.current = chart
    const resize = new ResizeObserver(() => {
      const width = Math.max(MIN_WIDTH, target.clientWidth)
      if (width !== chart.width) chart.setSize({ width, height: made.height })
    })
    resize.observe(target)
    return () => {
      resize.disconnect()
      chart.destroy()
      plot.current = null
    }
  }, [key])

  useEffect(() => {
    plot.current?.setData(data)
  }, [data])

  return container
}
