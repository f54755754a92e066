// The active-learning benchmark's learning curves as an SVG document: one line per strategy (the
// mean over seeds) with a band from the seeds' minimum to their maximum, x = labelled images,
// y = a test metric. Pure string building: no DOM and no chart library on the server.

export interface CurveBand {
  /** Labelled images at each point, ascending. */
  labelled: number[]
  mean: number[]
  min: number[]
  max: number[]
}

export interface PlotSeries {
  name: string
  curve: CurveBand
}

export interface PlotOptions {
  title: string
  xLabel: string
  yLabel: string
  /** A dashed horizontal line, e.g. random sampling's final mean. */
  reference?: { value: number; label: string }
  /** A line of small print under the plot (budget, seeds). */
  note?: string
}

// Okabe–Ito: told apart with the common colour-vision deficiencies.
const PALETTE = ['#000000', '#E69F00', '#56B4E9', '#009E73', '#D55E00', '#0072B2', '#CC79A7']
const WIDTH = 760
const HEIGHT = 470
const MARGIN = { left: 64, right: 160, top: 40, bottom: 78 }

const escapeXml = (text: string) => text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`)
const fixed = (value: number) => Number(value.toFixed(2)).toString()

/** Round tick steps (1, 2, 5 × 10^k) giving about `count` intervals over [low, high]. */
export function niceTicks(low: number, high: number, count: number): number[] {
  const span = high - low
  if (!(span > 0)) return [low]
  const raw = span / count
  const power = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power
  const ticks: number[] = []
  for (let tick = Math.ceil(low / step) * step; tick <= high + step * 1e-9; tick += step)
    ticks.push(Number(tick.toFixed(10)))
  return ticks
}

export function learningCurvesSvg(series: PlotSeries[], options: PlotOptions): string {
  const xs = series.flatMap((s) => s.curve.labelled)
  const ys = series.flatMap((s) => [...s.curve.min, ...s.curve.max])
  if (options.reference) ys.push(options.reference.value)
  const xMax = Math.max(1, ...xs)
  const yTicks = niceTicks(
    Math.max(0, Math.min(...ys) - 0.02),
    Math.min(1, Math.max(...ys) + 0.02),
    6,
  )
  const yLow = Math.min(yTicks[0], Math.min(...ys))
  const yHigh = Math.max(yTicks[yTicks.length - 1], Math.max(...ys))
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom
  const px = (x: number) => MARGIN.left + (x / xMax) * plotWidth
  const py = (y: number) =>
    MARGIN.top + plotHeight - ((y - yLow) / Math.max(yHigh - yLow, 1e-9)) * plotHeight
  const point = (x: number, y: number) => `${fixed(px(x))},${fixed(py(y))}`

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(options.title)}</title>`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(options.title)}</text>`,
  ]
  // Axes, grid and ticks.
  const bottom = MARGIN.top + plotHeight
  for (const tick of yTicks) {
    parts.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${fixed(py(tick))}" y2="${fixed(py(tick))}" stroke="#e5e5e5"/>`,
      `<text x="${MARGIN.left - 8}" y="${fixed(py(tick) + 4)}" text-anchor="end">${fixed(tick)}</text>`,
    )
  }
  for (const tick of [...new Set([0, ...xs])].sort((a, b) => a - b)) {
    parts.push(
      `<line x1="${fixed(px(tick))}" x2="${fixed(px(tick))}" y1="${bottom}" y2="${bottom + 5}" stroke="#333"/>`,
      `<text x="${fixed(px(tick))}" y="${bottom + 19}" text-anchor="middle">${tick}</text>`,
    )
  }
  parts.push(
    `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${bottom}" y2="${bottom}" stroke="#333"/>`,
    `<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${bottom}" stroke="#333"/>`,
    `<text x="${MARGIN.left + plotWidth / 2}" y="${bottom + 40}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`,
    `<text transform="translate(18 ${MARGIN.top + plotHeight / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel)}</text>`,
  )
  if (options.reference) {
    const y = fixed(py(options.reference.value))
    parts.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${y}" y2="${y}" stroke="#777" stroke-dasharray="5 4"/>`,
      // At the left, where the curves start low and leave the line clear.
      `<text x="${MARGIN.left + 6}" y="${fixed(py(options.reference.value) - 5)}" fill="#555">${escapeXml(options.reference.label)}</text>`,
    )
  }
  // Bands first, so that no band hides another strategy's line.
  series.forEach(({ curve }, index) => {
    const colour = PALETTE[index % PALETTE.length]
    const upper = curve.labelled.map((x, i) => point(x, curve.max[i]))
    const lower = curve.labelled.map((x, i) => point(x, curve.min[i])).reverse()
    parts.push(
      `<polygon points="${[...upper, ...lower].join(' ')}" fill="${colour}" fill-opacity="0.12" stroke="none"/>`,
    )
  })
  series.forEach(({ name, curve }, index) => {
    const colour = PALETTE[index % PALETTE.length]
    const line = curve.labelled.map((x, i) => point(x, curve.mean[i])).join(' ')
    parts.push(
      `<polyline points="${line}" fill="none" stroke="${colour}" stroke-width="2"><title>${escapeXml(name)}</title></polyline>`,
    )
    for (const [i, x] of curve.labelled.entries())
      parts.push(
        `<circle cx="${fixed(px(x))}" cy="${fixed(py(curve.mean[i]))}" r="3" fill="${colour}"/>`,
      )
    const legendY = MARGIN.top + 10 + index * 20
    const legendX = MARGIN.left + plotWidth + 16
    parts.push(
      `<line x1="${legendX}" x2="${legendX + 22}" y1="${legendY}" y2="${legendY}" stroke="${colour}" stroke-width="2"/>`,
      `<rect x="${legendX}" y="${legendY - 6}" width="22" height="12" fill="${colour}" fill-opacity="0.12"/>`,
      `<text x="${legendX + 30}" y="${legendY + 4}">${escapeXml(name)}</text>`,
    )
  })
  const legendBottom = MARGIN.top + 10 + series.length * 20
  parts.push(
    `<text x="${MARGIN.left + plotWidth + 16}" y="${legendBottom + 8}" fill="#555" font-size="10">line: mean over seeds</text>`,
    `<text x="${MARGIN.left + plotWidth + 16}" y="${legendBottom + 22}" fill="#555" font-size="10">band: min–max</text>`,
  )
  if (options.note)
    parts.push(
      `<text x="${MARGIN.left}" y="${HEIGHT - 10}" fill="#555" font-size="10">${escapeXml(options.note)}</text>`,
    )
  parts.push('</svg>')
  return `${parts.join('\n')}\n`
}
