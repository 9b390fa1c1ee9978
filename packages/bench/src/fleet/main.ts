/**
 * `pnpm bench:fleet`: the fleet study of issue 18. `workers` processes, each an `McpTools` service
 * with a circuit breaker and a retry budget over Streamable HTTP, call one server on 127.0.0.1 at a
 * steady rate; the server goes down for `outage` seconds, then comes back. Once with per-process
 * stores (a breaker and a bucket per worker), once with Redis stores (one of each for the fleet, in
 * a `redis-server` the study starts on a free port and stops). Measured per mode: the attempts that
 * reach the server during the outage (counted by the server), the time from its return to each
 * worker's first success, and, when all is healthy, what consulting the stores costs a call.
 *
 *   pnpm bench:fleet                    20 workers, 5 calls/s each, 30 s outage (503), both modes; writes
 *                                       the fleet section of docs/benchmarks.md and docs/img/fleet-attempts.svg
 *   pnpm bench:fleet --quick            2 workers, 1 s outage, 1.5 s healthy, 1 s break, 2 short rounds of the
 *                                       healthy cost; the Redis mode only where redis-server is installed;
 *                                       prints only (the smoke test of `pnpm test`)
 *   --no-write                          prints only
 *   --outage 503|refuse                 the server answers 503 (default), or closes its listener (refused)
 *   --modes per-process,redis           the modes to run (default both)
 *   --workers N  --rate N (calls/s per worker)  --outage-seconds N  --healthy-seconds N
 *   --raw FILE                          also writes every run's records (calls, requests, phases) to FILE as JSON
 *   --breaker-failures N (default 5)  --break-seconds N (default 5; 1 with --quick)  --budget N (token bucket capacity, default 500)
 *
 * A mode that cannot run (no redis-server, or Redis stores not wired in `stores.ts`) is reported and
 * left out; the study fails only when no mode ran. Every child is stopped on the way out, also on
 * SIGINT/SIGTERM.
 */
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { load, machine } from "../report.js"
import { FLEET, put } from "../sections.js"
import { median } from "../stats.js"
import { makeChildren } from "./children.js"
import { type CostRow, storeCost } from "./cost.js"
import { redisServerAvailable, startRedis } from "./redis.js"
import { costTable, plot, summarize, type Summary, table } from "./report.js"
import { type RunData, runMode } from "./run.js"
import type { Outage } from "./server.js"
import { type Mode, MODES, type StoreSettings } from "./stores.js"

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, "../../../..")

const USAGE = "usage: pnpm bench:fleet [--quick] [--no-write] [--outage 503|refuse] [--modes per-process,redis] " +
  "[--workers N] [--rate N] [--outage-seconds N] [--healthy-seconds N] [--breaker-failures N] [--break-seconds N] [--budget N] [--raw FILE]"

const argv = process.argv.slice(2).filter((arg) => arg !== "--")
const VALUED = [
  "--raw",
  "--outage",
  "--modes",
  "--workers",
  "--rate",
  "--outage-seconds",
  "--healthy-seconds",
  "--breaker-failures",
  "--break-seconds",
  "--budget"
]
const FLAGS = ["--quick", "--no-write", "--help"]
const unknown = argv.filter((arg, i) => !FLAGS.includes(arg) && !VALUED.includes(arg) && !VALUED.includes(argv[i - 1]!))
if (argv.includes("--help") || unknown.length > 0) {
  if (unknown.length > 0) console.error(`unknown option(s): ${unknown.join(" ")}`)
  console.error(USAGE)
  process.exit(unknown.length > 0 ? 2 : 0)
}
const flag = (name: string) => argv.includes(name)
const value = (name: string): string | undefined => {
  const i = argv.indexOf(name)
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : undefined
}
const number = (name: string, fallback: number): number => {
  const text = value(name)
  if (text === undefined) return fallback
  const n = Number(text)
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`${name} takes a positive number, not ${JSON.stringify(text)}\n${USAGE}`)
    process.exit(2)
  }
  return n
}

const quick = flag("--quick")
const write = !quick && !flag("--no-write")
const outage = (value("--outage") ?? "503") as Outage
if (outage !== "503" && outage !== "refuse") {
  console.error(`--outage takes 503 or refuse, not ${JSON.stringify(outage)}\n${USAGE}`)
  process.exit(2)
}
const requested = (value("--modes")?.split(",") ?? MODES) as ReadonlyArray<Mode>
const badMode = requested.find((m) => !MODES.includes(m))
if (badMode !== undefined) {
  console.error(`--modes takes ${MODES.join(", ")}, not ${JSON.stringify(badMode)}\n${USAGE}`)
  process.exit(2)
}
const workers = Math.round(number("--workers", quick ? 2 : 20))
const rate = number("--rate", 5)
const outageSeconds = number("--outage-seconds", quick ? 1 : 30)
const healthySeconds = number("--healthy-seconds", quick ? 1.5 : 10)
const settings: StoreSettings = {
  breakerFailures: Math.round(number("--breaker-failures", 5)),
  breakSeconds: number("--break-seconds", quick ? 1 : 5),
  budgetCapacity: number("--budget", 500)
}

const log = (line: string) => console.log(line)

// the runs stop their children; this is for a signal or a crash
const children = makeChildren()
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    children.killAll()
    process.exit(130)
  })
}

/** The modes that can run here, and why the others cannot; measures the healthy cost on the way. */
const healthyCost = async (modes: ReadonlyArray<Mode>) => {
  const unavailable = new Map<Mode, string>()
  const wanted = modes.filter((m) => m !== "redis" || redisServerAvailable())
  if (modes.includes("redis") && !wanted.includes("redis")) unavailable.set("redis", "redis-server is not installed")
  const redis = wanted.includes("redis") ? await startRedis(children) : undefined
  try {
    const shared = redis === undefined ? undefined : { redisUrl: redis.url, prefix: `mcp-fleet-cost:${process.pid}:` }
    const measure = (ms: ReadonlyArray<Mode>) =>
      Effect.runPromise(Effect.either(storeCost({
        modes: ms,
        settings,
        shared,
        rounds: quick ? 2 : 20,
        callsPerRound: quick ? 100 : 1_000
      })))
    let result = await measure(wanted)
    if (result._tag === "Left") {
      // a mode's stores could not be made: say why, and measure the others
      const { mode, reason } = result.left
      unavailable.set(mode, reason)
      result = await measure(wanted.filter((m) => m !== mode))
    }
    if (result._tag === "Left") throw new Error(result.left.message)
    const cost: ReadonlyArray<CostRow> = result.right
    return { cost, runnable: wanted.filter((m) => !unavailable.has(m)), unavailable }
  } finally {
    await redis?.stop()
  }
}

const main = async () => {
  const started = performance.now()
  log(
    `fleet: ${workers} workers x ${rate} calls/s, server down ${outageSeconds} s (${outage}); breaker opens after ${settings.breakerFailures} failures in a row for ${settings.breakSeconds} s; token bucket of ${settings.budgetCapacity}; modes ${
      requested.join(", ")
    }`
  )
  const { cost, runnable, unavailable } = await healthyCost(requested)
  for (const [mode, reason] of unavailable) log(`  ${mode}: not run: ${reason}`)
  if (runnable.length === 0) throw new Error("fleet study: no mode can run")
  const summaries: Array<Summary> = []
  const loads: Array<string> = []
  const failed = new Map<Mode, string>()
  const raw: Array<RunData> = []
  for (const mode of runnable) {
    loads.push(load())
    try {
      const data = await runMode({
        mode,
        workers,
        rate,
        outage,
        settings,
        healthySeconds,
        outageSeconds,
        recoverSeconds: quick ? 15 : 90,
        tailSeconds: quick ? 0.5 : 5,
        startSeconds: 120 + 10 * workers,
        log,
        children
      })
      summaries.push(summarize(data, outage))
      raw.push(data)
      log(table(summaries.slice(-1), settings.budgetCapacity).split("\n").slice(2).join("\n"))
    } catch (error) {
      // the other mode still runs: its figures are not lost
      failed.set(mode, error instanceof Error ? error.message : String(error))
      log(`  ${mode}: FAILED: ${failed.get(mode)}`)
      process.exitCode = 1
    }
  }
  for (const [mode, reason] of failed) unavailable.set(mode, `failed: ${reason}`)
  if (summaries.length === 0) throw new Error("fleet study: no mode ran to the end")
  const rawFile = value("--raw")
  if (rawFile !== undefined) fs.writeFileSync(rawFile, JSON.stringify({ settings, outage, rate, runs: raw }))
  const fleetTable = table(summaries, settings.budgetCapacity)
  const storesTable = costTable(cost)
  const wallSeconds = (performance.now() - started) / 1000
  log("")
  log(fleetTable)
  log("")
  log("Healthy cost of consulting the stores (one in-memory session, no network):")
  log("")
  log(storesTable)
  log(
    `\n${runnable.length} mode(s) in ${wallSeconds.toFixed(0)} s wall; load average at the start of each: ${
      loads.join(", ")
    }`
  )
  if (!write || failed.size > 0) return

  const imgDir = path.join(root, "docs", "img")
  fs.mkdirSync(imgDir, { recursive: true })
  fs.writeFileSync(path.join(imgDir, "fleet-attempts.svg"), plot(summaries, outageSeconds, outage))
  const m = machine()
  const command = ["pnpm bench:fleet", ...argv].join(" ")
  const recoveryLine = summaries.map((s) =>
    `${s.mode}: median ${(median(s.recovery) / 1000).toFixed(2)} s, max ${
      (Math.max(...s.recovery) / 1000).toFixed(2)
    } s`
  ).join("; ")
  const section = [
    FLEET.begin,
    "",
    "## A fleet through an outage: per-process vs Redis stores",
    "",
    `Generated ${
      new Date().toISOString().slice(0, 10)
    } by \`${command}\` on ${m.cores} × ${m.cpu}, ${m.memory}, ${m.os}, Node ${m.node}, in ${
      wallSeconds.toFixed(0)
    } s of wall time; the machine was shared with other jobs (1-minute load average ${
      loads.join(" and ")
    } at the start of the runs), so the times are those of a busy 2-core machine.`,
    "",
    `${workers} worker processes, each an \`McpTools\` service over Streamable HTTP with a circuit breaker (\`CircuitBreaker.consecutive(${settings.breakerFailures})\`, ${settings.breakSeconds} s break) and a retry budget (\`RetryBudget.tokenBucket\`, ${settings.budgetCapacity} tokens, 5 a retry), call \`echo\` ${rate} times a second each, one call in flight; the other options are the library's defaults. After ${healthySeconds} s the server goes down for ${outageSeconds} s (${
      outage === "503" ? "it answers every request with 503" : "its listener closes: connections are refused"
    }, and forgets its sessions, as a restarted server would), then comes back. **per-process** stores: a breaker and a bucket in each worker (the library's in-memory default); **redis**: one breaker state and one bucket for the fleet in a \`redis-server\` the study starts.${
      unavailable.size > 0
        ? ` Not run: ${[...unavailable].map(([mode, reason]) => `**${mode}** (${reason})`).join("; ")}.`
        : ""
    }`,
    "",
    fleetTable,
    "",
    `- **attempts on the server**: HTTP requests that reached it while it was down (initialize and \`notifications/initialized\` counted as initialize); **requests the workers sent** counts the same in the workers, around \`fetch\`. **retries the budgets allow**: ${settings.budgetCapacity} / 5 per bucket, one bucket per worker or one for the fleet; a first attempt takes no token.`,
    `- **first success after the return**: from the server's return to the end of each worker's first successful call that ended after it (a call that started during the outage and waited counts): the fleet's first, the median worker's, the last worker's (${recoveryLine}).`,
    "",
    "What a healthy call pays for the stores (one in-memory session in the study's process, the same loop of `tools.call` per variant in alternating rounds):",
    "",
    storesTable,
    "",
    "![Attempts per second on the server, one line per mode](img/fleet-attempts.svg)",
    "",
    FLEET.end
  ].join("\n")
  const benchFile = path.join(root, "docs", "benchmarks.md")
  fs.writeFileSync(benchFile, put(fs.readFileSync(benchFile, "utf8"), FLEET, section))
  log("wrote the fleet section of docs/benchmarks.md and docs/img/fleet-attempts.svg")
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (error: unknown) => {
    children.killAll()
    console.error(error)
    process.exit(1)
  }
)
