/**
 * The fleet study's figures from the runs' raw records: attempts during the outage, recovery after
 * it, healthy latency; the tables, the plot, and the section of `docs/benchmarks.md`.
 */
import { svgPlot } from "../herd/report.js"
import { median } from "../stats.js"
import type { CostRow } from "./cost.js"
import type { RunData } from "./run.js"
import type { Outage } from "./server.js"

export interface Summary {
  readonly mode: string
  readonly workers: number
  /** Requests that reached the server while it was down (0 when it refused connections). */
  readonly serverAttempts: number
  /** Of those, by kind. */
  readonly serverByKind: Readonly<Record<string, number>>
  /** Requests the workers sent while it was down, counted in the workers. */
  readonly sentAttempts: number
  /** Calls started while it was down, and those that failed fast on an open breaker. */
  readonly outageCalls: number
  readonly failedFast: number
  /** Per worker: ms from the return to the end of its first successful call that ended after it. */
  readonly recovery: ReadonlyArray<number>
  /** Workers with no success after the return. */
  readonly unrecovered: number
  /** Healthy phase: the median call's duration (ms) and the fleet's calls per second. */
  readonly healthyMedianMillis: number
  readonly healthyRate: number
  /** Per second from `PLOT_BEFORE` s before the outage: attempts (the server's count, or the workers'). */
  readonly perSecond: ReadonlyArray<number>
  readonly sessionsOpened: number
  /** The stores' statuses at the end, with how many workers had each; calls made in another status than the start's. */
  readonly storeStatus: string
  readonly callsInOtherStatus: number
}

/** The plot starts this many seconds before the outage. */
export const PLOT_BEFORE = 5
/** ... and ends this many seconds after the return. */
export const PLOT_AFTER = 15

const kindOf = (what: string) =>
  what === "initialize" || what === "tools/call" ? what : what === "notifications/initialized" ? "initialize" : "other"

export const summarize = (run: RunData, outage: Outage): Summary => {
  const during = (at: number) => at >= run.downAt && at < run.upAt
  const outageHits = run.hits.filter((h) => during(h.at))
  const byKind: Record<string, number> = { initialize: 0, "tools/call": 0, other: 0 }
  for (const h of outageHits) byKind[kindOf(h.what)]!++
  const sentAll = run.sent.flat()
  const calls = run.calls.flat()
  const outageCalls = calls.filter((c) => during(c.at))
  const recovery: Array<number> = []
  for (const mine of run.calls) {
    // a call started during the outage that succeeds after the return counts: it waited for it
    const first = mine.find((c) => c.outcome === "ok" && c.end >= run.upAt)
    if (first !== undefined) recovery.push(first.end - run.upAt)
  }
  // healthy: after a first second of settling, before the outage
  const healthy = calls.filter((c) => c.at >= run.goAt + 1000 && c.end < run.downAt && c.outcome === "ok")
  const healthySeconds = (run.downAt - run.goAt - 1000) / 1000
  const from = run.downAt - PLOT_BEFORE * 1000
  const seconds = Math.ceil((run.upAt - run.downAt) / 1000) + PLOT_BEFORE + PLOT_AFTER
  const perSecond = new Array<number>(seconds).fill(0)
  const times = outage === "503" ? run.hits.map((h) => h.at) : sentAll.map((s) => s.at)
  for (const at of times) {
    const i = Math.floor((at - from) / 1000)
    if (i >= 0 && i < seconds) perSecond[i]!++
  }
  return {
    mode: run.mode,
    workers: run.workers,
    serverAttempts: outageHits.length,
    serverByKind: byKind,
    sentAttempts: sentAll.filter((s) => during(s.at)).length,
    outageCalls: outageCalls.length,
    failedFast: outageCalls.filter((c) => c.outcome === "McpCircuitOpenError").length,
    recovery,
    unrecovered: run.workers - recovery.length,
    healthyMedianMillis: median(healthy.map((c) => c.end - c.at)),
    healthyRate: healthy.length / healthySeconds,
    perSecond,
    sessionsOpened: run.sessionsOpened,
    storeStatus: [...new Set(run.statuses)].map((st) => `${st} (${run.statuses.filter((x) => x === st).length})`)
      .join(", "),
    callsInOtherStatus: run.callsInOtherStatus
  }
}

const int = (n: number) => Math.round(n).toLocaleString("en-US")
const secs = (millis: number) => (Number.isFinite(millis) ? `${(millis / 1000).toFixed(2)} s` : "-")

/** The fleet's retries the budgets allow during the outage: 5 tokens a retry, one bucket per process or one in all. */
export const budgetRetries = (mode: string, workers: number, capacity: number) =>
  (mode === "redis" ? 1 : workers) * Math.floor(capacity / 5)

export const table = (rows: ReadonlyArray<Summary>, capacity: number): string =>
  [
    "| stores | workers | attempts on the server during the outage | initialize / tools/call / other | requests the workers sent during it | retries the budgets allow | calls during it, failed fast (breaker open) | first success after the return: first / median / max | workers not recovered | healthy call over HTTP, median | healthy calls/s (fleet) | stores' status at the end (workers); calls in another |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ...rows.map((r) =>
      `| ${r.mode} | ${r.workers} | ${int(r.serverAttempts)} | ${int(r.serverByKind.initialize!)} / ${
        int(r.serverByKind["tools/call"]!)
      } / ${int(r.serverByKind.other!)} | ${int(r.sentAttempts)} | ${
        int(budgetRetries(r.mode, r.workers, capacity))
      } | ${int(r.outageCalls)}, ${int(r.failedFast)} | ${secs(Math.min(...r.recovery))} / ${
        secs(median(r.recovery))
      } / ${secs(Math.max(...r.recovery))} | ${r.unrecovered} | ${r.healthyMedianMillis.toFixed(2)} ms | ${
        r.healthyRate.toFixed(1)
      } | ${r.storeStatus}; ${int(r.callsInOtherStatus)} |`
    )
  ].join("\n")

const signed = (n: number) => `${n >= 0 ? "+" : ""}${n.toFixed(1)} µs`

export const costTable = (rows: ReadonlyArray<CostRow>): string => {
  const base = rows.find((r) => r.variant === "no breaker or budget")
  return [
    "| stores | wall µs per call, median of rounds | CPU µs per call, median | over no breaker or budget, same round (median) | rounds, wall (min–max µs) |",
    "| --- | ---: | ---: | ---: | ---: |",
    ...rows.map((r) =>
      `| ${r.variant} | ${r.median.toFixed(1)} | ${r.cpuMedian.toFixed(1)} | ${
        r === base ? "-" : signed(r.pairedDiff)
      } | ${Math.min(...r.perCall).toFixed(1)}–${Math.max(...r.perCall).toFixed(1)} |`
    )
  ].join("\n")
}

export const plot = (rows: ReadonlyArray<Summary>, outageSeconds: number, outage: Outage): string =>
  svgPlot({
    title: `Attempts per second on the server, ${rows[0]?.workers ?? 0} workers, ${outageSeconds} s outage (${
      outage === "503" ? "503" : "connections refused"
    })`,
    yLabel: outage === "503" ? "requests per second (log scale)" : "requests sent per second (log scale)",
    xLabel: "seconds since the server went down",
    series: rows.map((r) => ({ name: `${r.mode} stores`, values: r.perSecond })),
    xFromSeconds: -PLOT_BEFORE,
    xMaxSeconds: outageSeconds + PLOT_AFTER,
    log: true,
    markers: [{ x: 0, label: "down" }, { x: outageSeconds, label: "back" }]
  })
