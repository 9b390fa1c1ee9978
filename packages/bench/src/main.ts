/**
 * `pnpm bench`: every study. First the overhead of mcp-resilience against the raw MCP SDK, in
 * memory (also with the breaker and a retry budget on), over stdio and over Streamable HTTP, and
 * the recovery study (`recovery.ts`), in this process; then the thundering-herd study
 * (`herd/main.ts`) and the scale and leaks study (`scale/main.ts`), each in a child process of
 * its own.
 *
 *   pnpm bench                  full run (under 10 minutes), prints the tables, rewrites docs/benchmarks.md and docs/herd.md
 *   pnpm bench --quick          tiny sizes, a few seconds per study, prints only
 *   pnpm bench --quick --write  ... and writes docs/benchmarks.md anyway (not the herd's page)
 *   pnpm bench --no-write       full run, prints only
 *   pnpm bench --only=in-memory  some sections (in-memory, stdio, http, connect, recovery, herd, scale); prints only
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import type * as Scope from "effect/Scope"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"
import { parseArgs } from "./args.js"
import { recovery } from "./recovery.js"
import {
  consoleTable,
  load,
  machine,
  markdown,
  recoveryTable,
  rows,
  type Settings,
  type TransportSettings
} from "./report.js"
import {
  type Connect,
  connect,
  httpPairs,
  inMemoryPairs,
  latency,
  type Pair,
  type Samples,
  type Scenario,
  stdioPairs,
  throughput,
  verify,
  warmUp
} from "./scenarios.js"
import { keep } from "./sections.js"

const CONCURRENCY = 64

const FULL: Settings = {
  memory: {
    latency: { warmup: 10_000, iterations: 5_000, rounds: 20 },
    throughput: { concurrency: CONCURRENCY, batches: 20, warmupRounds: 2, rounds: 12 }
  },
  stdio: {
    latency: { warmup: 1_000, iterations: 8_000, rounds: 8 },
    throughput: { concurrency: CONCURRENCY, batches: 10, warmupRounds: 2, rounds: 12 }
  },
  // the whole http section takes about 30 s on a busy 2-core machine
  http: {
    latency: { warmup: 400, iterations: 2_000, rounds: 20 },
    throughput: { concurrency: CONCURRENCY, batches: 5, warmupRounds: 2, rounds: 10 }
  },
  connect: { warmup: 1, iterations: 20 },
  recovery: { trials: 10, outage: 2_000, connects: 10 }
}

const QUICK: Settings = {
  memory: {
    latency: { warmup: 100, iterations: 200, rounds: 4 },
    throughput: { concurrency: CONCURRENCY, batches: 4, warmupRounds: 1, rounds: 2 }
  },
  stdio: {
    latency: { warmup: 40, iterations: 100, rounds: 4 },
    throughput: { concurrency: CONCURRENCY, batches: 2, warmupRounds: 1, rounds: 2 }
  },
  http: {
    latency: { warmup: 20, iterations: 60, rounds: 3 },
    throughput: { concurrency: CONCURRENCY, batches: 1, warmupRounds: 1, rounds: 2 }
  },
  connect: { warmup: 0, iterations: 1 },
  recovery: { trials: 1, outage: 500, connects: 1 }
}

/** The sections run in this process, the recovery study after the overhead ones. */
const OVERHEAD = ["in-memory", "stdio", "http", "connect", "recovery"] as const
/** The studies run in child processes after the overhead tables. */
const STUDIES = ["herd", "scale"] as const
const SECTIONS = [...OVERHEAD, ...STUDIES] as const
type Section = typeof SECTIONS[number]

const USAGE = `usage: pnpm bench [--quick] [--write | --no-write] [--only=${SECTIONS.join(",")}]

  --quick      tiny sizes (a few seconds per study); prints only, unless --write
  --write      write docs/benchmarks.md and docs/herd.md (the default for a full run; with --quick,
               docs/benchmarks.md only)
  --no-write   print only
  --only=...   run only these sections (comma-separated; herd and scale are whole studies); never
               writes the docs`

const { quick, runs, write } = parseArgs<Section>(SECTIONS, USAGE)
const settings = quick ? QUICK : FULL
const docsPath = fileURLToPath(new URL("../../../docs/benchmarks.md", import.meta.url))

/**
 * The arguments of each study's own script: the same size and the same writing as this run.
 * `--quick` makes the herd print only whatever else is asked (its quick numbers are not the study).
 */
const studyArgs: Record<typeof STUDIES[number], ReadonlyArray<string>> = {
  herd: quick ? ["--quick"] : write ? [] : ["--no-write"],
  scale: [...(quick ? ["--quick"] : []), ...(write ? ["--write"] : ["--no-write"])]
}
const studyFiles: Record<typeof STUDIES[number], string> = {
  herd: fileURLToPath(new URL("herd/main.ts", import.meta.url)),
  scale: fileURLToPath(new URL("scale/main.ts", import.meta.url))
}

/**
 * Runs a study's script in a child process with this process's Node flags (tsx's loader and the
 * source condition); interruption stops the child. Its output is shown as it comes, or (`buffer`)
 * all at once when it ends, so that two studies running at once do not mix their lines.
 */
const study = (name: typeof STUDIES[number], buffer: boolean) =>
  Effect.async<void, Error>((resume) => {
    console.log(
      `\nbench: ${name} study: ${["pnpm", `bench:${name}`, ...studyArgs[name]].join(" ")}${
        buffer ? " (its output follows when it is done)" : ""
      }`
    )
    const flags = name === "scale" ? [...process.execArgv, "--expose-gc"] : process.execArgv
    const child = spawn(process.execPath, [...flags, studyFiles[name], ...studyArgs[name]], {
      stdio: buffer ? ["ignore", "pipe", "pipe"] : "inherit"
    })
    const output: Array<Buffer> = []
    child.stdout?.on("data", (chunk: Buffer) => output.push(chunk))
    child.stderr?.on("data", (chunk: Buffer) => output.push(chunk))
    child.once("error", (error) => resume(Effect.fail(error)))
    child.once("close", (code, signal) => {
      if (buffer) process.stdout.write(`\nbench: ${name} study output:\n${Buffer.concat(output).toString()}`)
      resume(code === 0 ? Effect.void : Effect.fail(new Error(`the ${name} study exited with ${code ?? signal}`)))
    })
    return Effect.sync(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM")
    })
  })

const step = (message: string) => Effect.sync(() => console.log(`bench: ${message}`))

type Measured = ReadonlyArray<{ readonly scenario: Scenario; readonly latency: Samples; readonly throughput: Samples }>

/** Latency then throughput over each pair of sessions in turn; all are closed afterwards. */
const transport = (
  open: Effect.Effect<ReadonlyArray<Pair>, unknown, Scope.Scope>,
  options: TransportSettings
): Effect.Effect<Measured, unknown> =>
  Effect.scoped(Effect.flatMap(open, (pairs) =>
    Effect.forEach(pairs, (pair, i) =>
      Effect.gen(function*() {
        if (i === 0) {
          // every pair is checked and warmed up before the first is measured: a pair measured
          // later would otherwise run on code the JIT has had longer to optimise
          for (const each of pairs) {
            yield* verify(each)
            yield* warmUp(each, options.latency.warmup)
          }
        }
        yield* step(`${pair.transport}: latency, ${options.latency.iterations} sequential calls per side`)
        const lat = yield* latency(pair, options.latency)
        yield* step(`${pair.transport}: throughput, ${options.throughput.concurrency} concurrent calls`)
        const thr = yield* throughput(pair, options.throughput)
        return { scenario: pair.transport, latency: lat, throughput: thr }
      }))))

const overhead = Effect.gen(function*() {
  const started = performance.now()
  const date = new Date()
  const loadBefore = load()
  const measured: Array<Measured[number]> = []
  if (runs("in-memory")) measured.push(...yield* transport(inMemoryPairs, settings.memory))
  if (runs("stdio")) measured.push(...yield* transport(stdioPairs, settings.stdio))
  if (runs("http")) measured.push(...yield* transport(httpPairs, settings.http))
  let connected: Connect | undefined = undefined
  if (runs("connect")) {
    yield* step(`stdio: connect + close, ${settings.connect.iterations} times per side`)
    connected = yield* connect(settings.connect)
  }
  const { outage, trials } = settings.recovery
  const recovered = runs("recovery")
    ? yield* Effect.zipRight(
      step(`recovery: ${trials} outages of ${outage} ms over stdio`),
      recovery(settings.recovery)
    )
    : undefined
  const seconds = (performance.now() - started) / 1000
  const loadAfter = load()

  const table = rows({
    latency: Object.fromEntries(measured.map((m) => [m.scenario, m.latency])),
    throughput: Object.fromEntries(measured.map((m) => [m.scenario, m.throughput])),
    connect: connected,
    concurrency: CONCURRENCY
  })
  const m = machine()
  if (table.length > 0) {
    console.log("")
    console.log(consoleTable(table))
    console.log("")
    console.log("ours vs raw: ours / raw for times (lower is better); ours as a fraction of raw for throughput (higher")
    console.log("is better). raw SDK in Effect: the raw client called from the same Effect program, no mcp-resilience.")
  }
  if (recovered !== undefined) console.log(`\nrecovery after an outage:\n\n${recoveryTable(recovered)}`)
  console.log("")
  console.log(
    `${m.cpu}, ${m.cores} cores, Node ${m.node}; load ${loadBefore} -> ${loadAfter}; ${seconds.toFixed(1)} s` +
      (quick ? " (--quick)" : "")
  )
  if (write) {
    const command = quick ? "pnpm bench --quick --write" : "pnpm bench"
    const previous = fs.existsSync(docsPath) ? fs.readFileSync(docsPath, "utf8") : undefined
    const page = markdown({
      table,
      machine: m,
      date,
      seconds,
      load: { before: loadBefore, after: loadAfter },
      command,
      settings,
      recovery: recovered
    })
    // the other studies' sections stay as they are (they rewrite them themselves)
    fs.writeFileSync(docsPath, keep(previous, page))
    console.log(`wrote ${docsPath}`)
  }
}).pipe(
  // connect logs one Info line per session; keep the table readable (warnings still show)
  Logger.withMinimumLogLevel(LogLevel.Warning)
)

const program = Effect.gen(function*() {
  const started = performance.now()
  if (OVERHEAD.some(runs)) yield* overhead
  // The herd and scale studies run at the same time, after the overhead tables (which need the
  // machine to themselves): the herd runs in virtual time, so its numbers do not depend on speed,
  // and the scale study's goals are about heap, handles and processes, not time. One study failing
  // does not stop the other; the run fails at the end.
  const failed: Array<string> = []
  const studies = STUDIES.filter(runs)
  yield* Effect.forEach(
    studies,
    (name, i) =>
      study(name, studies.length > 1 && i === 0).pipe(
        Effect.catchAll((error) => Effect.sync(() => (console.error(`bench: ${error.message}`), failed.push(name))))
      ),
    { concurrency: "unbounded", discard: true }
  )
  console.log(`\nbench: done in ${((performance.now() - started) / 1000).toFixed(0)} s${quick ? " (--quick)" : ""}`)
  if (failed.length > 0) return yield* Effect.fail(new Error(`failed: ${failed.join(", ")}`))
})

const fiber = Effect.runFork(program)
// Ctrl-C interrupts the program, so every scope closes and every child process is stopped
const onSignal = () => Effect.runFork(Fiber.interrupt(fiber))
process.once("SIGINT", onSignal)
process.once("SIGTERM", onSignal)
fiber.addObserver((exit) => {
  process.off("SIGINT", onSignal)
  process.off("SIGTERM", onSignal)
  if (Exit.isFailure(exit)) {
    console.error(Exit.isInterrupted(exit) ? "bench: interrupted" : exit.cause)
    process.exitCode = 1
  }
})
