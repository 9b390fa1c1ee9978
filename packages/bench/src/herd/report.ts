/**
 * Summaries of herd runs: medians with min–max over seeds, the markdown table, the checks of
 * the expected shape, and SVG line plots.
 */
import type { BudgetMode, RunResult } from "./simulate.js"

/** Median, min and max of some numbers. */
export interface Spread {
  readonly median: number
  readonly min: number
  readonly max: number
  readonly n: number
}

export const spread = (xs: ReadonlyArray<number>): Spread | undefined => {
  if (xs.length === 0) return undefined
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  const median = s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
  return { median, min: s[0]!, max: s[s.length - 1]!, n: s.length }
}

/** One row of the table: a strategy and a budget mode, over every seed. */
export interface Row {
  readonly strategy: string
  readonly budget: BudgetMode
  readonly seeds: number
  readonly attempts: Spread
  /** Attempts before the server came back. */
  readonly attemptsDuringOutage: Spread
  readonly peak: Spread
  /** Peak attempts per second once the server is back (t >= downUntil). */
  readonly peakAfter: Spread
  /** Over the seeds in which every client connected. */
  readonly allConnected: Spread | undefined
  readonly connected: Spread
  readonly gaveUp: Spread
  /** Median connection time of the clients that connected, per seed, in ms. */
  readonly medianConnect: Spread | undefined
  /** Attempts per second, averaged over seeds (index: second). */
  readonly meanPerSecond: Float64Array
  /** Clients connected by the end of each second, averaged over seeds. */
  readonly meanConnectedBy: Float64Array
}

export const summarize = (results: ReadonlyArray<RunResult>, downUntilMillis: number, horizonSeconds: number): Row => {
  const first = results[0]!
  const afterSecond = Math.floor(downUntilMillis / 1000)
  const meanPerSecond = new Float64Array(horizonSeconds + 1)
  const meanConnectedBy = new Float64Array(horizonSeconds + 1)
  for (const r of results) {
    for (let s = 0; s <= horizonSeconds; s++) meanPerSecond[s]! += r.attemptsPerSecond[s]! / results.length
    let i = 0
    for (let s = 0; s <= horizonSeconds; s++) {
      while (i < r.connectedAt.length && r.connectedAt[i]! < (s + 1) * 1000) i++
      meanConnectedBy[s]! += i / results.length
    }
  }
  const all = results.flatMap((r) => (r.allConnectedAt === undefined ? [] : [r.allConnectedAt]))
  const medians = results.flatMap((r) =>
    r.connectedAt.length === 0 ? [] : [r.connectedAt[Math.floor((r.connectedAt.length - 1) / 2)]!]
  )
  return {
    strategy: first.strategy,
    budget: first.budget,
    seeds: results.length,
    attempts: spread(results.map((r) => r.attempts))!,
    attemptsDuringOutage: spread(results.map((r) => r.attemptsDuringOutage))!,
    peak: spread(results.map((r) => r.peakPerSecond))!,
    peakAfter: spread(results.map((r) => r.attemptsPerSecond.slice(afterSecond).reduce((m, x) => Math.max(m, x), 0)))!,
    allConnected: spread(all),
    connected: spread(results.map((r) => r.connected))!,
    gaveUp: spread(results.map((r) => r.gaveUp))!,
    medianConnect: spread(medians),
    meanPerSecond,
    meanConnectedBy
  }
}

const int = (
  x: number
) => (Number.isInteger(x) ? x.toLocaleString("en-US") : x.toLocaleString("en-US", { maximumFractionDigits: 1 }))
const secs = (ms: number) => (ms / 1000).toFixed(1)

/** `median (min–max)`, or just the value when all seeds agree. */
const show = (s: Spread | undefined, f: (x: number) => string = int): string => {
  if (s === undefined) return "never"
  return s.min === s.max ? f(s.median) : `${f(s.median)} (${f(s.min)}–${f(s.max)})`
}

export const budgetLabel: Record<BudgetMode, string> = {
  off: "off",
  bucket: "token bucket, shared",
  ratio: "10 % ratio, shared",
  "bucket-per-client": "token bucket per client"
}

/** The markdown table. */
export const table = (rows: ReadonlyArray<Row>): string => {
  const header = [
    "| strategy | budget | attempts | attempts in the outage | peak/s | peak/s after 30 s | all connected at (s) | connected | gave up | median connect (s) |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  ]
  const lines = rows.map((r) => {
    const all = r.allConnected === undefined
      ? "never"
      : `${show(r.allConnected, secs)}${r.allConnected.n < r.seeds ? ` (${r.allConnected.n}/${r.seeds} seeds)` : ""}`
    return `| ${r.strategy} | ${budgetLabel[r.budget]} | ${show(r.attempts)} | ${show(r.attemptsDuringOutage)} | ${
      show(r.peak)
    } | ${show(r.peakAfter)} | ${all} | ${show(r.connected)} | ${show(r.gaveUp)} | ${show(r.medianConnect, secs)} |`
  })
  return [...header, ...lines].join("\n")
}

/** The expected shape of the issue, checked against the budget-off rows of the persistent strategies. */
export const checks = (rows: ReadonlyArray<Row>): Array<{ readonly ok: boolean; readonly text: string }> => {
  const off = rows.filter((r) => r.budget === "off" && r.strategy.startsWith("persistent"))
  const by = (jitter: string) => off.find((r) => r.strategy === `persistent ${jitter}`)
  const none = by("none")
  if (none === undefined || off.length < 2) return []
  const others = off.filter((r) => r !== none)
  const out: Array<{ ok: boolean; text: string }> = []
  const finish = (
    r: Row
  ) => (r.allConnected === undefined || r.allConnected.n < r.seeds ? Infinity : r.allConnected.median)
  out.push({
    ok: others.every((r) => r.attempts.median < none.attempts.median),
    text: `no jitter makes the most attempts (${int(none.attempts.median)}; next: ${
      int(Math.max(...others.map((r) => r.attempts.median)))
    })`
  })
  out.push({
    ok: others.every((r) => finish(r) < finish(none)) && others.every((r) => r.gaveUp.median <= none.gaveUp.median),
    text: `no jitter is the slowest to connect everyone and loses the most clients (${
      none.allConnected === undefined ? "never all connected" : `all connected at ${secs(none.allConnected.median)} s`
    }, ${int(none.gaveUp.median)} gave up)`
  })
  for (const jitter of ["full", "decorrelated"]) {
    const r = by(jitter)
    if (r === undefined) continue
    const cut = 1 - r.attempts.median / none.attempts.median
    const worstCut = 1 - r.attempts.max / none.attempts.min
    out.push({
      ok: cut > 0.5,
      text: `${jitter} jitter cuts total attempts by more than half: by ${(cut * 100).toFixed(1)} % in the median (${
        (worstCut * 100).toFixed(1)
      } % comparing its worst seed with no jitter's best)`
    })
  }
  return out
}

/**
 * How far above the server's capacity `c` the peak attempts per second after the outage may go:
 * `3 x sqrt(c)`, three standard deviations of a Poisson count with mean `c` (21/s at 50/s). A
 * refused client probes at a random moment, so a fleet's arrivals are close to a Poisson stream,
 * and single seconds exceed their mean by that much even when the mean is at capacity; a mean
 * above capacity does not fit in it for long.
 */
export const peakMargin = (capacity: number): number => Math.round(3 * Math.sqrt(capacity))

/** How the margin is written in the docs. */
export const PEAK_MARGIN_TEXT = "3 x sqrt(capacity): three standard deviations of a Poisson count at capacity"

/** The goals of issue 19 for the rows with a shared budget (persistent strategies: they ride out the outage). */
export const budgetChecks = (
  rows: ReadonlyArray<Row>,
  scenario: { readonly clients: number; readonly capacity: number }
): Array<{ readonly ok: boolean; readonly text: string }> => {
  const off = rows.filter((r) => r.budget === "off")
  const none = off.find((r) => r.strategy === "persistent none")
  const medians = off.flatMap((r) => (r.medianConnect === undefined ? [] : [r.medianConnect.median]))
  if (none === undefined || medians.length === 0) return []
  const best = Math.min(...medians)
  const bestRow = off.find((r) => r.medianConnect?.median === best)!
  const maxPeak = scenario.capacity + peakMargin(scenario.capacity)
  const out: Array<{ ok: boolean; text: string }> = []
  for (const r of rows.filter((r) => r.budget !== "off" && r.strategy.startsWith("persistent"))) {
    const name = `${r.strategy}, ${budgetLabel[r.budget]}`
    const during = r.attemptsDuringOutage
    out.push({
      ok: during.max <= 0.3 * none.attempts.median,
      text: `${name}: ${int(during.median)} attempts during the outage (worst seed ${int(during.max)}), ${
        (during.max / none.attempts.median).toFixed(2)
      }x of no jitter's ${int(none.attempts.median)} (goal <= 0.3x)`
    })
    const median = r.medianConnect?.median ?? Infinity
    out.push({
      ok: r.connected.min === scenario.clients && median <= 1.5 * best,
      text: `${name}: ${int(r.connected.min)} of ${
        int(scenario.clients)
      } connected in the worst seed (goal: all); median connect ${secs(median)} s, ${
        (median / best).toFixed(2)
      }x of the best without a budget (${bestRow.strategy}, ${secs(best)} s; goal <= 1.5x)`
    })
    out.push({
      ok: r.peakAfter.max <= maxPeak,
      text: `${name}: peak ${int(r.peakAfter.median)} attempts/s after the outage (worst seed ${
        int(r.peakAfter.max)
      }, ${(r.peakAfter.max / scenario.capacity).toFixed(2)}x of the server's ${int(scenario.capacity)}/s; goal <= ${
        int(scenario.capacity)
      } + ${int(peakMargin(scenario.capacity))} = ${int(maxPeak)}/s)`
    })
  }
  return out
}

// --- SVG ---------------------------------------------------------------------------------

const palette = ["#1f77b4", "#d62728", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]

const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

/** A line plot with one series per strategy; `log` plots y on log10(1 + y). */
export const svgPlot = (options: {
  readonly title: string
  readonly yLabel: string
  readonly series: ReadonlyArray<{ readonly name: string; readonly values: ArrayLike<number> }>
  readonly xMaxSeconds: number
  /** Where the x axis starts, in seconds (default 0); `values[i]` is the value of second `xFromSeconds + i`. */
  readonly xFromSeconds?: number | undefined
  /** Default `virtual time (s)`. */
  readonly xLabel?: string | undefined
  readonly log: boolean
  readonly marker?: { readonly x: number; readonly label: string } | undefined
  /** More vertical markers, drawn as `marker` is. */
  readonly markers?: ReadonlyArray<{ readonly x: number; readonly label: string }> | undefined
}): string => {
  const W = 860
  const H = 420
  const m = { left: 64, right: 250, top: 36, bottom: 46 }
  const pw = W - m.left - m.right
  const ph = H - m.top - m.bottom
  const xMax = options.xMaxSeconds
  const xFrom = options.xFromSeconds ?? 0
  let yMaxRaw = 0
  for (const s of options.series) {
    for (let i = 0; xFrom + i <= xMax && i < s.values.length; i++) yMaxRaw = Math.max(yMaxRaw, s.values[i]!)
  }
  const tf = (y: number) => (options.log ? Math.log10(1 + y) : y)
  const niceMax = options.log ? Math.pow(10, Math.ceil(Math.log10(Math.max(10, yMaxRaw)))) : niceCeil(yMaxRaw)
  const yMax = tf(niceMax)
  const px = (x: number) => m.left + ((x - xFrom) / (xMax - xFrom)) * pw
  const py = (y: number) => m.top + ph - (tf(y) / yMax) * ph
  const out: Array<string> = []
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`
  )
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`)
  out.push(`<text x="${m.left}" y="22" font-size="14" font-weight="bold">${escape(options.title)}</text>`)
  // axes and grid
  const yTicks = options.log
    ? Array.from({ length: Math.round(Math.log10(niceMax)) + 1 }, (_, i) => (i === 0 ? 0 : Math.pow(10, i)))
    : Array.from({ length: 6 }, (_, i) => (niceMax / 5) * i)
  for (const t of yTicks) {
    const y = py(t)
    out.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#ddd"/>`)
    out.push(`<text x="${m.left - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end">${int(t)}</text>`)
  }
  const xStep = niceStep((xMax - xFrom) / 8)
  for (let t = Math.ceil(xFrom / xStep) * xStep; t <= xMax; t += xStep) {
    const x = px(t)
    out.push(`<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${m.top}" y2="${m.top + ph}" stroke="#eee"/>`)
    out.push(`<text x="${x.toFixed(1)}" y="${m.top + ph + 16}" text-anchor="middle">${t}</text>`)
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#444"/>`)
  out.push(
    `<text x="${m.left + pw / 2}" y="${H - 8}" text-anchor="middle">${
      escape(options.xLabel ?? "virtual time (s)")
    }</text>`
  )
  out.push(
    `<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${
      escape(options.yLabel)
    }</text>`
  )
  for (const marker of [...(options.marker === undefined ? [] : [options.marker]), ...(options.markers ?? [])]) {
    const x = px(marker.x)
    out.push(
      `<line x1="${x}" x2="${x}" y1="${m.top}" y2="${m.top + ph}" stroke="#999" stroke-dasharray="4 3"/>` +
        `<text x="${x + 4}" y="${m.top + 14}" fill="#666">${escape(marker.label)}</text>`
    )
  }
  options.series.forEach((s, k) => {
    const pts: Array<string> = []
    for (let i = 0; xFrom + i <= xMax && i < s.values.length; i++) {
      // a value per second, drawn at the middle of its second
      pts.push(`${px(xFrom + i + 0.5).toFixed(1)},${py(s.values[i]!).toFixed(1)}`)
    }
    const color = palette[k % palette.length]!
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="1.4" points="${pts.join(" ")}"/>`)
    const ly = m.top + 10 + k * 18
    out.push(
      `<line x1="${m.left + pw + 14}" x2="${
        m.left + pw + 38
      }" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"/>` +
        `<text x="${m.left + pw + 44}" y="${ly + 4}">${escape(s.name)}</text>`
    )
  })
  out.push("</svg>")
  return out.join("\n") + "\n"
}

const niceStep = (raw: number) => {
  const p = Math.pow(10, Math.floor(Math.log10(raw)))
  for (const k of [1, 2, 5, 10]) if (k * p >= raw) return k * p
  return 10 * p
}

const niceCeil = (x: number) => {
  if (x <= 0) return 1
  const step = niceStep(x / 5)
  return Math.ceil(x / step) * step
}
