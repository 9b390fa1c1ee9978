/**
 * `pnpm bench:herd`: the thundering-herd study of the AWS Architecture blog's "Exponential
 * Backoff and Jitter", for MCP. 1,000 clients lose their server at t = 0; it comes back at
 * t = 30 s and completes 50 handshakes per second. Each client runs the real `McpClient.make`
 * in virtual time against a simulated server; seeded; 20 seeds per strategy.
 *
 *   pnpm bench:herd                 full run: 6 strategies x {budget off, one shared token bucket, one shared
 *                                   10 % ratio budget} x 20 seeds (no jitter without a budget once: it has no
 *                                   randomness); writes docs/herd.md, its summary in docs/benchmarks.md, docs/img/herd-*.svg
 *   pnpm bench:herd --quick         100 clients, 5 handshakes/s, 2 seeds, in one process, plus the checks below; prints only
 *   pnpm bench:herd --no-write      full run, prints only
 *   --candidates                    also run candidate defaults (the former default: 5 attempts, 10 s cap)
 *   --no-ratio                      leave out the shared 10 % ratio budget
 *   --seeds N  --clients N  --capacity N  --jobs N (worker processes; default: one per core)
 *
 * `--quick` also checks the harness itself: a small fleet gives the same attempt times on the
 * herd's VirtualClock as on Effect's TestClock; a run repeated gives the same numbers; a token
 * bucket per client changes nothing (the budget matters only when shared).
 */
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import * as TestContext from "effect/TestContext"
import { fork } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { machine } from "../report.js"
import { HERD, HERD_SUMMARY, put } from "../sections.js"
import { budgetChecks, budgetLabel, checks, PEAK_MARGIN_TEXT, type Row, summarize, svgPlot, table } from "./report.js"
import * as SimServer from "./SimServer.js"
import { allStrategies, type BudgetMode, fleet, run, type RunResult, type Scenario, strategies } from "./simulate.js"

interface Job {
  readonly id: number
  readonly strategy: number
  readonly budget: BudgetMode
  readonly seed: number
  readonly scenario: Scenario
}

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, "../../../..")

const argv = process.argv.slice(2)
const flag = (name: string) => argv.includes(name)
const option = (name: string): number | undefined => {
  const i = argv.indexOf(name)
  return i >= 0 && i + 1 < argv.length ? Number(argv[i + 1]) : undefined
}

// --- worker ----------------------------------------------------------------------------

/** Runs one job; its attempt times are dropped (they do not cross processes, nor are they kept). */
const runJob = (job: Job): Promise<RunResult> =>
  run({ scenario: job.scenario, strategy: allStrategies[job.strategy]!, budget: job.budget, seed: job.seed })
    .then((result) => ({ ...result, attemptTimes: undefined }))

const workerMain = () => {
  process.on("message", (job: Job) => {
    void runJob(job)
      .then(
        (result) => process.send!({ id: job.id, result }),
        (error) => process.send!({ id: job.id, error: String(error instanceof Error ? error.stack : error) })
      )
  })
  process.on("disconnect", () => process.exit(0))
}

/** Runs the jobs on `n` worker processes (this file with `--worker`), heaviest first. */
const runJobs = async (jobs: ReadonlyArray<Job>, n: number, progress: (done: number) => void) => {
  const results = new Map<number, RunResult>()
  const queue = [...jobs]
  let done = 0
  const file = fileURLToPath(import.meta.url)
  const worker = () =>
    new Promise<void>((resolve, reject) => {
      const child = fork(file, ["--worker"], {
        serialization: "advanced",
        stdio: ["ignore", "inherit", "inherit", "ipc"]
      })
      const next = () => {
        const job = queue.shift()
        if (job === undefined) {
          child.disconnect()
          return
        }
        child.send(job)
      }
      child.on("message", (message: { id: number; result?: RunResult; error?: string }) => {
        if (message.error !== undefined || message.result === undefined) {
          child.kill()
          reject(new Error(`herd worker failed: ${message.error}`))
          return
        }
        results.set(message.id, message.result)
        progress(++done)
        next()
      })
      child.on("exit", (code) => (code === 0 || code === null ? resolve() : reject(new Error(`worker exited ${code}`))))
      next()
    })
  await Promise.all(Array.from({ length: Math.max(1, Math.min(n, jobs.length)) }, worker))
  return results
}

/** Runs the jobs one after the other in this process (for --quick and --jobs 1: no worker start-up). */
const runInProcess = async (jobs: ReadonlyArray<Job>, progress: (done: number) => void) => {
  const results = new Map<number, RunResult>()
  for (const job of jobs) {
    results.set(job.id, await runJob(job))
    progress(results.size)
  }
  return results
}

// --- harness checks ----------------------------------------------------------------------

/** The same fleet under Effect's TestClock, moving time to the next pending sleep each time everything waits. */
const underTestClock = (scenario: Scenario, strategy: number, seed: number) => {
  const server = SimServer.make({
    downUntil: scenario.downUntil,
    capacity: scenario.capacity,
    horizonSeconds: scenario.horizonSeconds
  })
  const out = { connectedAt: [] as Array<number>, gaveUp: 0 }
  const tick = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
  const program = Effect.gen(function*() {
    const fiber = yield* Effect.fork(
      fleet({ scenario, policy: strategies[strategy]!.policy, budget: "off", seed, server, out, budgetCalls: { n: 0 } })
    )
    for (let i = 0; i < 1_000_000; i++) {
      for (let j = 0; j < 3; j++) yield* tick
      if ((yield* Fiber.poll(fiber))._tag === "Some") break
      const now = yield* Clock.currentTimeMillis
      const next = Chunk.reduce(yield* TestClock.sleeps(), Infinity, (m, t) => (t > now ? Math.min(m, t) : m))
      if (next === Infinity) continue
      yield* TestClock.setTime(next)
    }
    return { attemptTimes: server.attemptTimes, connectedAt: out.connectedAt.sort((a, b) => a - b), gaveUp: out.gaveUp }
  })
  return Effect.runPromise(program.pipe(Effect.provide(TestContext.TestContext)))
}

const sameNumbers = (a: ReadonlyArray<number>, b: ReadonlyArray<number>) =>
  a.length === b.length && a.every((x, i) => x === b[i])

const harnessChecks = async () => {
  const results: Array<{ ok: boolean; text: string }> = []
  const small: Scenario = { clients: 12, downUntil: 30_000, capacity: 50, horizonSeconds: 900 }
  for (const [strategy, seed] of [[0, 1], [1, 1], [3, 2]] as const) {
    const started = performance.now()
    const reference = await underTestClock(small, strategy, seed)
    const testClockMillis = performance.now() - started
    const ours = await run({ scenario: small, strategy: strategies[strategy]!, budget: "off", seed })
    const times = [...(ours.attemptTimes ?? [])].sort((a, b) => a - b)
    const ok = sameNumbers(times, [...reference.attemptTimes].sort((a, b) => a - b)) &&
      sameNumbers([...ours.connectedAt], reference.connectedAt) && ours.gaveUp === reference.gaveUp
    results.push({
      ok,
      text: `VirtualClock = TestClock for ${small.clients} clients, ${
        strategies[strategy]!.name
      }, seed ${seed}: ${times.length} attempts at the same virtual times (TestClock ${
        Math.round(testClockMillis)
      } ms, VirtualClock ${Math.round(ours.wallMillis)} ms)`
    })
  }
  const scenario: Scenario = { clients: 100, downUntil: 30_000, capacity: 5, horizonSeconds: 900 }
  const a = await run({ scenario, strategy: strategies[3]!, budget: "off", seed: 7 })
  const b = await run({ scenario, strategy: strategies[3]!, budget: "off", seed: 7 })
  results.push({
    ok: sameNumbers(a.attemptTimes ?? [], b.attemptTimes ?? []) && sameNumbers([...a.connectedAt], [...b.connectedAt]),
    text: `repeatable: the same seed gives the same ${a.attempts} attempt times twice`
  })
  const none1 = await run({ scenario, strategy: strategies[1]!, budget: "off", seed: 1 })
  const none2 = await run({ scenario, strategy: strategies[1]!, budget: "off", seed: 2 })
  results.push({
    ok: sameNumbers(none1.attemptTimes ?? [], none2.attemptTimes ?? []),
    text: "with no jitter the seed changes nothing (so the full run makes one run of it, not 20)"
  })
  const perClient = await run({ scenario, strategy: strategies[3]!, budget: "bucket-per-client", seed: 7 })
  results.push({
    ok: sameNumbers(a.attemptTimes ?? [], perClient.attemptTimes ?? []),
    text: "a token bucket per client changes nothing: one client's connect never spends 500 tokens"
  })
  return results
}

// --- main --------------------------------------------------------------------------------

const main = async () => {
  const quick = flag("--quick")
  const write = !flag("--no-write") && !quick
  const clients = option("--clients") ?? (quick ? 100 : 1000)
  const scenario: Scenario = {
    clients,
    downUntil: 30_000,
    capacity: option("--capacity") ?? Math.max(1, Math.round((50 * clients) / 1000)),
    horizonSeconds: 900
  }
  const seeds = option("--seeds") ?? (quick ? 2 : 20)
  const budgets: ReadonlyArray<BudgetMode> = flag("--no-ratio") ? ["off", "bucket"] : ["off", "bucket", "ratio"]
  const studied = flag("--candidates") ? allStrategies : strategies
  const workers = option("--jobs") ?? (quick ? 1 : Math.max(1, os.availableParallelism?.() ?? os.cpus().length))
  const started = performance.now()
  const cpuStart = process.cpuUsage()

  console.log(
    `herd: ${scenario.clients} clients, server down until ${
      scenario.downUntil / 1000
    } s, then ${scenario.capacity} handshakes/s; ` +
      `${studied.length} strategies x ${budgets.length} budget modes x ${seeds} seeds on ${workers} worker(s)`
  )

  // a strategy with no randomness (no jitter, no budget) gives the same run for every seed: it
  // runs once; with a budget a refused client's probe is jittered, so every strategy is random
  const jobs: Array<Job> = []
  for (const budget of budgets) {
    studied.forEach((s, strategy) => {
      for (let seed = 1; seed <= (s.random || budget !== "off" ? seeds : 1); seed++) {
        jobs.push({ id: jobs.length, strategy, budget, seed, scenario })
      }
    })
  }
  // heaviest first (budget off, no jitter), so the workers finish together
  const weight = (j: Job) => (j.budget === "off" ? 10 : 1) * (j.strategy === 1 ? 2 : 1) * (j.strategy === 0 ? 0.5 : 1)
  const ordered = [...jobs].sort((a, b) => weight(b) - weight(a))
  let lastPrint = 0
  const progress = (done: number) => {
    const now = performance.now()
    if (now - lastPrint > 10_000 || done === jobs.length) {
      lastPrint = now
      console.log(`  ${done}/${jobs.length} runs, ${((now - started) / 1000).toFixed(0)} s`)
    }
  }
  const results = workers <= 1 ? await runInProcess(ordered, progress) : await runJobs(ordered, workers, progress)

  const rows: Array<Row> = []
  for (const budget of budgets) {
    studied.forEach((_, s) => {
      const mine = jobs.filter((j) => j.budget === budget && j.strategy === s).map((j) => results.get(j.id)!)
      rows.push(summarize(mine, scenario.downUntil, scenario.horizonSeconds))
    })
  }
  const shape = checks(rows)
  const goals = budgetChecks(rows, scenario)
  const harness = quick ? await harnessChecks() : []
  const wallSeconds = (performance.now() - started) / 1000
  const cpu = process.cpuUsage(cpuStart)
  const simWall = [...results.values()].reduce((sum, r) => sum + r.wallMillis, 0) / 1000

  const md = table(rows)
  console.log()
  console.log(md)
  console.log()
  console.log("The expected shape (findings, not assertions):")
  for (const c of shape) console.log(`  ${c.ok ? "holds        " : "does NOT hold"}  ${c.text}`)
  if (goals.length > 0) console.log("The goals with a shared budget (issue 19):")
  for (const c of goals) console.log(`  ${c.ok ? "holds        " : "does NOT hold"}  ${c.text}`)
  if (harness.length > 0) console.log("The harness:")
  for (const c of harness) console.log(`  ${c.ok ? "PASS" : "FAIL"}  ${c.text}`)
  if (harness.some((c) => !c.ok)) process.exitCode = 1
  console.log(
    `\n${jobs.length} runs in ${wallSeconds.toFixed(1)} s wall (${
      simWall.toFixed(0)
    } s of simulation over ${workers} worker(s); main process CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s)`
  )

  if (!write) return
  const imgDir = path.join(root, "docs", "img")
  fs.mkdirSync(imgDir, { recursive: true })
  const offRows = rows.filter((r) => r.budget === "off")
  const xMax = 180
  const plots = [
    {
      file: "herd-attempts.svg",
      svg: svgPlot({
        title: `Connection attempts per second, budget off (mean of ${seeds} seeds)`,
        yLabel: "attempts per second (log scale)",
        series: offRows.map((r) => ({ name: r.strategy, values: r.meanPerSecond })),
        xMaxSeconds: xMax,
        log: true,
        marker: { x: scenario.downUntil / 1000, label: "server back" }
      })
    },
    {
      file: "herd-connected.svg",
      svg: svgPlot({
        title: `Clients connected, budget off (mean of ${seeds} seeds)`,
        yLabel: "clients connected",
        series: offRows.map((r) => ({ name: r.strategy, values: r.meanConnectedBy })),
        xMaxSeconds: xMax,
        log: false,
        marker: { x: scenario.downUntil / 1000, label: "server back" }
      })
    },
    {
      file: "herd-attempts-budget.svg",
      svg: svgPlot({
        title: `Attempts per second with one shared token bucket (mean of ${seeds} seeds)`,
        yLabel: "attempts per second (log scale)",
        series: rows.filter((r) => r.budget === "bucket").map((r) => ({ name: r.strategy, values: r.meanPerSecond })),
        xMaxSeconds: xMax,
        log: true,
        marker: { x: scenario.downUntil / 1000, label: "server back" }
      })
    },
    {
      file: "herd-connected-budget.svg",
      svg: svgPlot({
        title: `Clients connected with a shared budget, and the best without (mean of ${seeds} seeds)`,
        yLabel: "clients connected",
        series: [
          ...rows.filter((r) => r.budget !== "off" && r.strategy.startsWith("persistent full")),
          ...offRows.filter((r) => r.strategy === "persistent full")
        ].map((r) => ({ name: `${r.strategy}, ${budgetLabel[r.budget]}`, values: r.meanConnectedBy })),
        xMaxSeconds: xMax,
        log: false,
        marker: { x: scenario.downUntil / 1000, label: "server back" }
      })
    }
  ]
  for (const p of plots) fs.writeFileSync(path.join(imgDir, p.file), p.svg)

  const m = machine()
  const generated = [
    HERD.begin,
    "",
    `Generated ${new Date().toISOString().slice(0, 10)} by \`${
      ["pnpm bench:herd", ...argv].join(" ")
    }\` on ${m.cores} × ${m.cpu}, ${m.memory}, ${m.os}, Node ${m.node}: ${jobs.length} runs in ${
      wallSeconds.toFixed(0)
    } s of wall time on ${workers} worker process(es).`,
    "",
    `Scenario: ${
      scenario.clients.toLocaleString("en-US")
    } clients lose the server at t = 0; it refuses connections until t = ${
      scenario.downUntil / 1000
    } s, then completes ${scenario.capacity} handshakes per second (HTTP 503 beyond). ${seeds} seeds; each cell is the median over the seeds, with the range (min–max) in parentheses when the seeds differ; no jitter without a budget has no randomness, so its one run stands for every seed (with a budget it has: a refused client's probe is jittered). "attempts in the outage" are those made before the server came back. "all connected at" is the median over the seeds in which every client connected; "median connect" is the median client's connection time.`,
    "",
    md,
    "",
    `Budget modes: ${budgets.map((b) => `**${budgetLabel[b]}**`).join(", ")}.`,
    "",
    "Checks of the expected shape (computed from the table, budget off):",
    "",
    ...shape.map((c) => `- ${c.ok ? "holds" : "does NOT hold"}: ${c.text}`),
    "",
    `The goals with a shared budget (issue 19; persistent strategies, worst seed; the margin over the server's capacity is ${PEAK_MARGIN_TEXT}):`,
    "",
    ...goals.map((c) => `- ${c.ok ? "holds" : "does NOT hold"}: ${c.text}`),
    "",
    "![Connection attempts per second, one line per strategy](img/herd-attempts.svg)",
    "",
    "![Clients connected over time, one line per strategy](img/herd-connected.svg)",
    "",
    "![Attempts per second with one shared token bucket](img/herd-attempts-budget.svg)",
    "",
    "![Clients connected with a shared budget](img/herd-connected-budget.svg)",
    "",
    HERD.end
  ].join("\n")
  const docFile = path.join(root, "docs", "herd.md")
  const previous = fs.existsSync(docFile)
    ? fs.readFileSync(docFile, "utf8")
    : "# The thundering herd: backoff and jitter for MCP reconnects\n"
  fs.writeFileSync(docFile, put(previous, HERD, generated))
  // the summary in docs/benchmarks.md: the budget-off best and the budget rows, with the goals
  const summaryRows = rows.filter((r) =>
    r.strategy === "persistent none" || r.strategy === "persistent full" || r.strategy === "persistent decorrelated"
  )
  const summary = [
    HERD_SUMMARY.begin,
    "",
    "## The thundering herd",
    "",
    `From the full run of ${new Date().toISOString().slice(0, 10)} (\`pnpm bench:herd\`, ${
      scenario.clients.toLocaleString("en-US")
    } clients, server down for ${
      scenario.downUntil / 1000
    } s, then ${scenario.capacity} handshakes/s; ${seeds} seeds; every row and the plots in [herd.md](herd.md)):`,
    "",
    table(summaryRows),
    "",
    ...goals.map((c) => `- **${c.ok ? "holds" : "does NOT hold"}**: ${c.text}`),
    "",
    HERD_SUMMARY.end
  ].join("\n")
  const benchFile = path.join(root, "docs", "benchmarks.md")
  if (fs.existsSync(benchFile)) {
    fs.writeFileSync(benchFile, put(fs.readFileSync(benchFile, "utf8"), HERD_SUMMARY, summary))
  }
  console.log(
    `wrote ${path.relative(root, docFile)}, its summary in docs/benchmarks.md, and ${
      plots.map((p) => `docs/img/${p.file}`).join(", ")
    }`
  )
}

if (flag("--worker")) {
  workerMain()
} else {
  main().then(
    () => process.exit(process.exitCode ?? 0),
    (error) => {
      console.error(error)
      process.exit(1)
    }
  )
}
