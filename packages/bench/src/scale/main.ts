/**
 * `pnpm bench:scale`: scale and leaks, against the raw SDK.
 *
 * 1. 1,000 concurrent in-memory sessions through `McpTools` and `McpToolset` vs the raw SDK:
 *    heap per session (goal: within 1.2x of the raw SDK's), time to connect them all.
 * 2. 10,000 in-memory connect/close cycles: heap and `process.getActiveResourcesInfo()` before and
 *    after (goal: flat).
 * 3. 200 stdio spawn/kill cycles (close, kill and reconnect, interrupt during backoff, interrupt
 *    during the handshake): live processes left behind (goal: zero).
 *
 *   pnpm bench:scale               full run; prints the tables and rewrites its section of docs/benchmarks.md
 *   pnpm bench:scale --quick       small sizes (a few seconds); prints only (--write to write anyway)
 *   pnpm bench:scale --no-write    full run, prints only
 *   --only=sessions,cycles,stdio   some studies only; prints only
 *
 * Heap numbers need full collections: the script uses `global.gc` (`--expose-gc`, which the
 * package script passes) or enables it at run time.
 */
import { Processes } from "@mcp-resilience/testing"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "../args.js"
import { load, machine } from "../report.js"
import { put, SCALE } from "../sections.js"
import { CYCLE_SIDES, type CycleResult, type CycleSettings, cycleSide } from "./cycles.js"
import { formatResources, kib, mib, requireGc, sameResources } from "./measure.js"
import * as Sessions from "./sessions.js"
import * as Stdio from "./stdio.js"

const STUDIES = ["sessions", "cycles", "stdio"] as const
type Study = typeof STUDIES[number]

interface Sizes {
  readonly sessions: Sessions.Settings
  readonly cycles: CycleSettings
  readonly stdio: Stdio.StdioSettings
}

const FULL: Sizes = {
  sessions: { sessions: 1_000, rounds: 3, warmup: 100 },
  cycles: { cycles: 10_000, toolsCycles: 10_000, warmup: 500 },
  // 200 spawn/kill cycles of ours in all, 50 per scenario; 50 raw cycles each for close and kill
  stdio: { cycles: { close: 50, kill: 50, backoff: 50, handshake: 50 }, rawCycles: 50 }
}

const QUICK: Sizes = {
  sessions: { sessions: 20, rounds: 1, warmup: 5 },
  cycles: { cycles: 40, toolsCycles: 20, warmup: 5 },
  stdio: { cycles: { close: 1, kill: 1, backoff: 1, handshake: 1 }, rawCycles: 1 }
}

/** The goal for heap per session: ours within this factor of the raw SDK's. */
const HEAP_RATIO_GOAL = 1.2
/** "Flat": the settled heap grows by less than this over all measured cycles. */
const FLAT_HEAP_BYTES = 1024 * 1024

const USAGE = `usage: pnpm bench:scale [--quick] [--write | --no-write] [--only=${STUDIES.join(",")}]

  --quick      small sizes (a few seconds); prints only, unless --write
  --write      rewrite the scale section of docs/benchmarks.md (the default for a full run)
  --no-write   print only
  --only=...   run only these studies (comma-separated); never writes the docs`

const { args, quick, runs, write } = parseArgs<Study>(STUDIES, USAGE)
const sizes = quick ? QUICK : FULL
const docsPath = fileURLToPath(new URL("../../../../docs/benchmarks.md", import.meta.url))

const startedAt = performance.now()
/** A progress line, with the seconds since the start. */
const progress = (line: string) => console.log(`${line} (${((performance.now() - startedAt) / 1000).toFixed(0)} s)`)
const n = (value: number) => value.toLocaleString("en-US")
const ms = (value: number) => `${value.toFixed(value < 10 ? 1 : 0)} ms`
const ratio = (value: number) => `${value.toFixed(2)}x`

/** A Markdown table (also what the console shows). */
const table = (
  header: ReadonlyArray<string>,
  right: ReadonlyArray<boolean>,
  rows: ReadonlyArray<ReadonlyArray<string>>
) =>
  [
    `| ${header.join(" | ")} |`,
    `| ${header.map((_, i) => (right[i] ? "---:" : "---")).join(" | ")} |`,
    ...rows.map((row) => `| ${row.join(" | ")} |`)
  ].join("\n")

interface Goal {
  readonly ok: boolean
  readonly text: string
}

// --- 1. sessions ----------------------------------------------------------------------------

const sessionsReport = (results: ReadonlyArray<Sessions.SideResult>) => {
  const by = (side: Sessions.Side) => results.find((r) => r.side === side)!
  const raw = by("raw")
  const rawList = by("raw + list")
  const rawLazy = by("raw + list, lazy Ajv")
  const md = table(
    [
      "side",
      "sessions",
      "heap per session",
      "vs raw",
      "vs raw + list",
      "connect all",
      "close all",
      "retained per session after close"
    ],
    [false, true, true, true, true, true, true, true],
    results.map((r) => [
      r.side,
      n(r.sessions),
      kib(r.heapPerSession),
      ratio(r.heapPerSession / raw.heapPerSession),
      ratio(r.heapPerSession / rawList.heapPerSession),
      ms(r.connectMillis),
      ms(r.closeMillis),
      kib(r.retainedPerSession)
    ])
  )
  const goals: Array<Goal> = (["McpTools", "McpToolset"] as const).map((side) => {
    const r = by(side)
    const vsList = r.heapPerSession / rawList.heapPerSession
    const vsRaw = r.heapPerSession / raw.heapPerSession
    return {
      ok: vsList <= HEAP_RATIO_GOAL,
      text: `${side}: heap per session ${kib(r.heapPerSession)} is ${ratio(vsList)} the raw SDK's with the tool ` +
        `list (${kib(rawList.heapPerSession)}; goal <= ${ratio(HEAP_RATIO_GOAL)}), ${
          ratio(vsRaw)
        } the bare raw SDK's ` +
        `(${kib(raw.heapPerSession)}), ${kib(r.heapPerSession - rawList.heapPerSession)} more per session; ` +
        `against the raw SDK whose Ajv is made on first use, as ours is (${kib(rawLazy.heapPerSession)}), ${
          ratio(r.heapPerSession / rawLazy.heapPerSession)
        }: mcp-resilience's own structures are ${kib(r.heapPerSession - rawLazy.heapPerSession)} per session`
    }
  })
  return { md, goals }
}

// --- 2. cycles ------------------------------------------------------------------------------

const cyclesReport = (results: ReadonlyArray<CycleResult>) => {
  const md = table(
    [
      "side",
      "cycles",
      "time per cycle",
      "heap before",
      "heap after each quarter",
      "growth",
      "of which after the first quarter",
      "active resources before",
      "after"
    ],
    [false, true, true, true, false, true, true, false, false],
    results.map((r) => [
      r.side,
      n(r.cycles),
      ms(r.millis / r.cycles),
      mib(r.heap[0]!),
      r.heap.slice(1).map(mib).join(", "),
      kib(r.heap[r.heap.length - 1]! - r.heap[0]!),
      kib(r.heap[r.heap.length - 1]! - r.heap[1]!),
      formatResources(r.resourcesBefore),
      formatResources(r.resourcesAfter)
    ])
  )
  const goals: Array<Goal> = results.flatMap((r) => {
    const growth = r.heap[r.heap.length - 1]! - r.heap[0]!
    const same = sameResources(r.resourcesBefore, r.resourcesAfter)
    return [
      {
        ok: growth < FLAT_HEAP_BYTES,
        text: `${r.side}: the settled heap grew by ${kib(growth)} over ${n(r.cycles)} cycles (${
          (growth / r.cycles).toFixed(1)
        } bytes per cycle; flat means < ${mib(FLAT_HEAP_BYTES)} in all)`
      },
      {
        ok: same,
        text: `${r.side}: active resources ${same ? "the same" : "differ"} before and after (${
          formatResources(r.resourcesBefore)
        } -> ${formatResources(r.resourcesAfter)})`
      }
    ]
  })
  return { md, goals }
}

// --- 3. stdio -------------------------------------------------------------------------------

const stdioReport = (results: ReadonlyArray<Stdio.StdioResult>) => {
  const md = table(
    ["scenario", "side", "cycles", "total", "median per cycle", "orphan processes", "failed cycles"],
    [false, false, true, true, true, true, true],
    results.map((r) => [
      r.scenario,
      r.side,
      n(r.cycles),
      `${(r.millis / 1000).toFixed(1)} s`,
      ms(r.medianMillis),
      n(r.orphans),
      n(r.failures)
    ])
  )
  const ours = results.filter((r) => r.side === "ours")
  const cycles = ours.reduce((sum, r) => sum + r.cycles, 0)
  const orphans = ours.reduce((sum, r) => sum + r.orphans, 0)
  const failures = ours.reduce((sum, r) => sum + r.failures, 0)
  const rawOrphans = results.filter((r) => r.side === "raw").reduce((sum, r) => sum + r.orphans, 0)
  const goals: Array<Goal> = [
    {
      ok: orphans === 0,
      text: `mcp-resilience: ${n(orphans)} orphan process(es) after ${n(cycles)} stdio spawn/kill cycles (goal: 0)${
        rawOrphans > 0 ? `; the raw SDK left ${n(rawOrphans)}` : ""
      }`
    },
    {
      ok: failures === 0,
      text: `mcp-resilience: ${n(failures)} cycle(s) did not end as expected (a failed connect or reconnect, ` +
        `an interrupt that did not interrupt)`
    }
  ]
  return { md, goals }
}

// --- main -----------------------------------------------------------------------------------

/** Stops whatever this run's stdio children left behind (after they have been counted). */
const stopLeftovers = (): number => {
  const left = Processes.mentioning(Stdio.runMarker)
  for (const pid of left) {
    try {
      process.kill(pid, "SIGKILL")
    } catch {
      // gone already
    }
  }
  return left.length
}

const section = (options: {
  readonly date: Date
  readonly seconds: number
  readonly command: string
  readonly load: { readonly before: string; readonly after: string }
  readonly sessions?: { readonly md: string; readonly goals: ReadonlyArray<Goal> } | undefined
  readonly cycles?: { readonly md: string; readonly goals: ReadonlyArray<Goal> } | undefined
  readonly stdio?: { readonly md: string; readonly goals: ReadonlyArray<Goal> } | undefined
}) => {
  const m = machine()
  const s = sizes
  const goals = (list: ReadonlyArray<Goal> | undefined) =>
    (list ?? []).map((g) => `- **${g.ok ? "holds" : "does NOT hold"}**: ${g.text}`).join("\n")
  return `${SCALE.begin}

## Scale and leaks

What many sessions cost, and whether anything stays behind when sessions come and go. Written by
\`pnpm bench:scale\` (\`packages/bench/src/scale\`), which \`pnpm bench\` also runs.

The run: ${options.date.toISOString().replace(/\.\d+Z$/, "Z")}, \`${options.command}\` at the repository root, ${
    options.seconds.toFixed(0)
  } s, load average (1 min) ${options.load.before} before and ${options.load.after} after; ${m.cpu}, ${m.cores} cores, ${m.memory} RAM, ${m.os}, Node ${m.node}, effect ${m.effect}, @modelcontextprotocol/sdk ${m.sdk}.
Times are wall-clock times on a machine that may be busy with other work (under \`pnpm bench\`,
the herd study runs at the same time); heap, handle and process counts are not affected by that.

### Many sessions

${n(s.sessions.sessions)} sessions open at once, in memory, each to its own SDK \`McpServer\` with the
\`echo\` tool, in this process. Sides: **raw**, the SDK's \`Client\` over \`InMemoryTransport\`;
**raw + list**, the same plus one \`listTools()\` (what \`McpTools\` does on every new session, so the
like-for-like baseline); **raw + list, lazy Ajv**, the same with the SDK's \`AjvJsonSchemaValidator\`
made the first time a listed tool declares an output schema, which is what mcp-resilience's
sessions do (the \`echo\` tool declares none), so it shows what mcp-resilience's own structures
cost; **McpTools**, \`McpTools.make\` per session with \`RetryPolicy.default\`
(supervision, status, the tool list), all in one scope; **McpToolset**, one \`McpToolset.make\`
over the ${n(s.sessions.sessions)} servers, each with its own prefix. Heap per session is the settled
\`heapUsed\` (after full collections) with all sessions open, minus the heap before, divided by the
sessions; the servers are counted on every side, so the ratios compare whole sessions. Each session
then answers one \`echo\` and all are closed: "retained" is what the heap keeps after that. Median of
${s.sessions.rounds} rounds per side, taking turns, after a warm-up round of ${n(s.sessions.warmup)}; every
round uses new server names, as a program's would.

${options.sessions?.md ?? "(not run)"}

${goals(options.sessions?.goals)}

Where the difference goes (heap snapshots, and the inspector's sampling heap profiler over the
sessions still alive). The largest single item of a raw session is the SDK client's Ajv instance
(about 18 KiB), which its \`Client\` makes up front and uses only for tools that declare an
\`outputSchema\`; the server side (an SDK \`McpServer\` with its zod schemas and its own Ajv) is
most of the rest, the same on every side. mcp-resilience passes the SDK a validator that makes
the SDK's own \`AjvJsonSchemaValidator\` on first use: the checks are the SDK's, and a session whose
tools declare no output schema never pays for them (one with output schemas pays what the raw
SDK pays). That saving, not a smaller footprint of our own, is most of why the goal holds: against
**raw + list, lazy Ajv** the ratio shows what mcp-resilience itself adds. What it adds is spread
over Effect's runtime structures, not one big object. A live session parks no fiber: the
supervisor reacts to a session's death by callback (a fiber runs only while it reconnects), the
transport's close is a callback, and the request deadlines of every session on one \`Clock\` share
one timer fiber, which runs only while a deadline is pending (each session used to have its own,
about 4 KiB, alive until its last deadline had passed). The status and the tool list are plain
fields until something subscribes to their changes, and their change streams (an
\`McpToolset\`'s too) are made when asked for. What is left: scopes, deferreds, the reconnect
schedule's driver, metric series and some 200 closures with their contexts. The study measures
the compiled \`dist\`: run from the TypeScript sources through \`tsx\`, esbuild's \`keepNames\`
gives every named arrow function a \`name\` property, about 8.5 KiB more per session. Part of the
measured number is the bench's, not the library's: a new server name per session adds its
metric series (connect attempts and duration, per-tool calls and duration), about 6.5 KiB that
stay after close, by design, which is most of "retained per session after close".
\`McpToolset\` used to add about 50 KiB per server on top, by subscribing to every server's
\`toolsChanges\` (a fiber and a PubSub subscription each); it now registers a listener that
rebuilds its routing table.

### Connect/close cycles

One session at a time, connected and closed ${n(s.cycles.cycles)} times per side (McpTools: ${
    n(s.cycles.toolsCycles)
  }), each to a fresh server, after ${n(s.cycles.warmup)} warm-up cycles. **raw**: \`client.connect\` then
\`client.close()\`; **McpClient**: \`Effect.scoped(McpClient.make(...))\`; **McpTools**:
\`Effect.scoped(McpTools.make(...))\` (supervisor, status, tool list; no health checks, the default). The settled heap is
read before and after each quarter of the cycles; \`process.getActiveResourcesInfo()\` is counted by
type before and after (the bench's own stdout is among them).

${options.cycles?.md ?? "(not run)"}

${goals(options.cycles?.goals)}

In this study's first run, \`McpTools\`' heap grew by 1.5 MiB over 10,000 cycles, then levelled off: every close made an \`McpConnectError\`, and Effect's Schema class constructor
compiles its validator again on each construction when a field is a transformation (its
\`cause\` and \`retryAfter\` are), about 50 µs and one entry per schema node in a global
WeakMap, whose table grew to 2 MiB. The errors made on every close are now constructed without
that check (their props are typed).

### Stdio spawn/kill cycles

Child processes against \`packages/client/test/fixtures/tiny-server.mjs\`, a dependency-free MCP server.
Every child gets a marker argument unique to its batch; after the batch, \`/proc\` is scanned for live
processes with the marker: each is an orphan. **close**: connect, then close the scope (raw:
\`client.close()\`). **kill**: one \`McpTools\` session whose child is killed with SIGKILL from outside
each cycle; supervision reconnects and one \`echo\` answers (raw: wait for \`onclose\`, connect a new
client, one \`echo\`). **backoff**: a server that exits at once, under a policy that waits an hour
before the next attempt; the connect is interrupted while it waits. **handshake**: a server that
never answers; the connect is interrupted once the child runs (release ends stdin, then SIGTERM
after a 100 ms grace). backoff and handshake have no raw counterpart: the SDK does not retry. The
median per cycle is connect + close, kill to a working session, and interrupt to done.

${options.stdio?.md ?? "(not run)"}

${goals(options.stdio?.goals)}

${SCALE.end}`
}

const main = async () => {
  requireGc()
  const started = performance.now()
  const date = new Date()
  const loadBefore = load()
  console.log(
    `scale: ${n(sizes.sessions.sessions)} sessions x ${sizes.sessions.rounds} round(s); ${
      n(sizes.cycles.cycles)
    } connect/close cycles per side; ${
      Object.values(sizes.stdio.cycles).reduce((a, b) => a + b, 0)
    } stdio cycles of ours${quick ? " (--quick)" : ""}`
  )

  let sessions: ReturnType<typeof sessionsReport> | undefined
  if (runs("sessions")) {
    progress(`scale: ${n(sizes.sessions.sessions)} concurrent in-memory sessions per side`)
    sessions = sessionsReport(await Sessions.measure(sizes.sessions, console.log))
  }
  let cycles: ReturnType<typeof cyclesReport> | undefined
  if (runs("cycles")) {
    const results: Array<CycleResult> = []
    for (const side of CYCLE_SIDES) {
      progress(`scale: connect/close cycles, ${side}`)
      const result = await cycleSide(side, sizes.cycles)
      console.log(
        `  ${side}: ${n(result.cycles)} cycles in ${(result.millis / 1000).toFixed(1)} s, heap ${
          result.heap.map(mib).join(" -> ")
        }`
      )
      results.push(result)
    }
    cycles = cyclesReport(results)
  }
  let stdio: ReturnType<typeof stdioReport> | undefined
  if (runs("stdio")) {
    progress("scale: stdio spawn/kill cycles")
    stdio = stdioReport(await Stdio.measure(sizes.stdio, console.log))
  }
  const seconds = (performance.now() - started) / 1000

  for (
    const [title, part] of [["Many sessions", sessions], ["Connect/close cycles", cycles], [
      "Stdio spawn/kill cycles",
      stdio
    ]] as const
  ) {
    if (part === undefined) continue
    console.log(`\n${title}\n\n${part.md}\n`)
    for (const g of part.goals) console.log(`  ${g.ok ? "holds        " : "does NOT hold"}  ${g.text}`)
  }
  console.log(`\nscale: ${seconds.toFixed(1)} s${quick ? " (--quick)" : ""}`)

  if (write) {
    const command = ["pnpm bench:scale", ...args].join(" ")
    const previous = fs.existsSync(docsPath) ? fs.readFileSync(docsPath, "utf8") : "# Benchmarks\n"
    fs.writeFileSync(
      docsPath,
      put(
        previous,
        SCALE,
        section({ date, seconds, command, load: { before: loadBefore, after: load() }, sessions, cycles, stdio })
      )
    )
    console.log(`wrote ${path.relative(process.cwd(), docsPath)}`)
  }
}

const onSignal = (signal: NodeJS.Signals) => {
  stopLeftovers()
  console.error(`scale: ${signal}`)
  process.exit(1)
}
process.once("SIGINT", onSignal)
process.once("SIGTERM", onSignal)

main().then(
  () => {
    // counted already; anything still running now would outlive the bench
    const left = stopLeftovers()
    if (left > 0) console.error(`scale: stopped ${left} leftover child process(es)`)
    process.exit(process.exitCode ?? 0)
  },
  (error) => {
    stopLeftovers()
    console.error(error)
    process.exit(1)
  }
)
