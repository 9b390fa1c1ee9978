/**
 * Turns the samples into rows (numbers, ratios, target, met or missed), a console table and the
 * Markdown of `docs/benchmarks.md`.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import { type Recovery, type RecoveryOptions, verdict } from "./recovery.js"
import {
  type Connect,
  type ConnectOptions,
  GUARDED,
  type LatencyOptions,
  type Samples,
  type Scenario,
  type Side,
  type ThroughputOptions
} from "./scenarios.js"
import { NOTES } from "./sections.js"
import { median, p99 } from "./stats.js"

export interface Row {
  readonly transport: string
  readonly measure: string
  readonly raw: string
  /** The raw SDK called from an Effect program; `-` where not measured (connect). */
  readonly rawInEffect: string
  readonly ours: string
  /** `ours / raw` for times; `ours as a fraction of raw` for throughput. */
  readonly ratio: string
  readonly target: string
  readonly result: "met" | "missed" | "-"
  /** The same ratio against the raw SDK in Effect: what mcp-resilience itself adds. */
  readonly ratioInEffect: string
}

const micros = (millis: number) => `${(millis * 1000).toFixed(millis < 1 ? 1 : 0)} µs`
const millis = (value: number) => `${value.toFixed(1)} ms`
const rate = (value: number) => `${Math.round(value).toLocaleString("en-US")}/s`
const times = (ratio: number) => `${ratio.toFixed(2)}x`
const fraction = (ratio: number) => ratio.toFixed(2)

/** Time rows: lower is better, the ratio is `ours / raw`, judged against `max` when given. */
const timeRow = (
  transport: string,
  measure: string,
  values: { readonly raw: number; readonly rawInEffect?: number | undefined; readonly ours: number },
  format: (n: number) => string,
  max?: number
): Row => {
  const ratio = values.ours / values.raw
  return {
    transport,
    measure,
    raw: format(values.raw),
    rawInEffect: values.rawInEffect === undefined ? "-" : format(values.rawInEffect),
    ours: format(values.ours),
    ratio: times(ratio),
    target: max === undefined ? "-" : `<= ${times(max)}`,
    result: max === undefined ? "-" : ratio <= max ? "met" : "missed",
    ratioInEffect: values.rawInEffect === undefined ? "-" : times(values.ours / values.rawInEffect)
  }
}

/** What one run measured; a section is missing when `--only` left it out. */
export interface Results {
  readonly latency: { readonly [S in Scenario]?: Samples | undefined }
  readonly throughput: { readonly [S in Scenario]?: Samples | undefined }
  readonly connect: Connect | undefined
  readonly concurrency: number
}

const SCENARIOS: ReadonlyArray<Scenario> = ["in-memory", GUARDED, "stdio", "http"]

/**
 * The project's targets (issue 12): latency medians within 1.10x over stdio and 1.05x over HTTP,
 * and within 2.0x in memory (with or without the breaker and budget: mostly Effect's own cost per
 * call); throughput at 64 in flight at least 0.8x of raw with `Effect.forEach` and 0.9x with
 * `callAll`.
 */
export const TARGETS: {
  readonly latency: { readonly [S in Scenario]?: number }
  readonly throughput: { readonly forEach: number; readonly callAll: number }
} = {
  latency: { "in-memory": 2, [GUARDED]: 2, stdio: 1.1, http: 1.05 },
  throughput: { forEach: 0.8, callAll: 0.9 }
}

const of = (samples: Samples, f: (values: ReadonlyArray<number>) => number) => ({
  raw: f(samples.raw),
  rawInEffect: f(samples.rawInEffect),
  ours: f(samples.ours)
})

export const rows = (results: Results): ReadonlyArray<Row> => {
  const out: Array<Row> = []
  for (const transport of SCENARIOS) {
    const latency = results.latency[transport]
    if (latency === undefined) continue
    const cpu = (side: Side) => latency.cpuMicros[side] / 1000 / latency[side].length
    out.push(
      timeRow(transport, "latency, median", of(latency, median), micros, TARGETS.latency[transport]),
      timeRow(transport, "latency, p99", of(latency, p99), micros),
      timeRow(
        transport,
        "CPU time per call",
        { raw: cpu("raw"), rawInEffect: cpu("rawInEffect"), ours: cpu("ours") },
        micros
      )
    )
  }
  for (const transport of SCENARIOS) {
    const throughput = results.throughput[transport]
    if (throughput === undefined) continue
    const values = of(throughput, median)
    const rateRow = (measure: string, ours: number, rawInEffect: number | undefined, target: number): Row => {
      const ratio = ours / values.raw
      return {
        transport,
        measure,
        raw: rate(values.raw),
        rawInEffect: rawInEffect === undefined ? "-" : rate(rawInEffect),
        ours: rate(ours),
        ratio: `${fraction(ratio)} of raw`,
        target: `>= ${fraction(target)} of raw`,
        result: ratio >= target ? "met" : "missed",
        ratioInEffect: rawInEffect === undefined ? "-" : fraction(ours / rawInEffect)
      }
    }
    out.push(
      rateRow(
        `throughput, ${results.concurrency} in flight`,
        values.ours,
        values.rawInEffect,
        TARGETS.throughput.forEach
      )
    )
    if (throughput.oursBatch.length > 0) {
      out.push(
        rateRow(
          `throughput, ${results.concurrency} in flight, callAll`,
          median(throughput.oursBatch),
          undefined,
          TARGETS.throughput.callAll
        )
      )
    }
  }
  if (results.connect !== undefined) {
    const { ours, raw } = results.connect
    out.push(
      timeRow("stdio", "connect, median", { raw: median(raw.connect), ours: median(ours.connect) }, millis),
      timeRow("stdio", "connect + close, median", { raw: median(raw.total), ours: median(ours.total) }, millis)
    )
  }
  return out
}

const HEADER = [
  "transport",
  "measure",
  "raw SDK",
  "raw SDK in Effect",
  "mcp-resilience",
  "ours vs raw",
  "target",
  "result",
  "ours vs raw in Effect"
] as const

const NUMERIC = new Set([2, 3, 4, 5, 8])

const cells = (row: Row) => [
  row.transport,
  row.measure,
  row.raw,
  row.rawInEffect,
  row.ours,
  row.ratio,
  row.target,
  row.result,
  row.ratioInEffect
]

/** A plain-text table for the terminal. */
export const consoleTable = (table: ReadonlyArray<Row>): string => {
  const lines = [[...HEADER], ...table.map(cells)]
  const widths = HEADER.map((_, i) => Math.max(...lines.map((line) => line[i].length)))
  const format = (line: ReadonlyArray<string>) =>
    line.map((cell, i) => (NUMERIC.has(i) ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join("  ").trimEnd()
  return [format(lines[0]), widths.map((w) => "-".repeat(w)).join("  "), ...lines.slice(1).map(format)].join("\n")
}

/** A Markdown table. */
export const markdownTable = (table: ReadonlyArray<Row>): string =>
  [
    `| ${HEADER.join(" | ")} |`,
    `| ${HEADER.map((_, i) => (NUMERIC.has(i) ? "---:" : "---")).join(" | ")} |`,
    ...table.map((row) => `| ${cells(row).join(" | ")} |`)
  ].join("\n")

export interface Machine {
  readonly cpu: string
  readonly cores: number
  readonly node: string
  readonly os: string
  readonly memory: string
  readonly effect: string
  readonly sdk: string
}

const versionOf = (pkg: string): string => {
  try {
    const url = new URL(`../node_modules/${pkg}/package.json`, import.meta.url)
    return (JSON.parse(fs.readFileSync(url, "utf8")) as { version: string }).version
  } catch {
    return "unknown"
  }
}

export const machine = (): Machine => ({
  cpu: os.cpus()[0]?.model.trim() ?? "unknown",
  cores: os.cpus().length,
  node: process.version,
  os: `${os.type()} ${os.release()} (${os.arch()})`,
  memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
  effect: versionOf("effect"),
  sdk: versionOf("@modelcontextprotocol/sdk")
})

/** The 1-minute load average, rounded. */
export const load = (): string => os.loadavg()[0].toFixed(1)

/** The sizes of one transport's latency and throughput rounds. */
export interface TransportSettings {
  readonly latency: LatencyOptions
  readonly throughput: ThroughputOptions
}

export interface Settings {
  /** In memory, and in memory with the breaker and budget on. */
  readonly memory: TransportSettings
  readonly stdio: TransportSettings
  readonly http: TransportSettings
  readonly connect: ConnectOptions
  readonly recovery: RecoveryOptions
}

const ms = (value: number) => `${value.toFixed(0)} ms`

/** The recovery study's numbers as a Markdown table, then its verdict. */
export const recoveryTable = (r: Recovery): string => {
  const max = (values: ReadonlyArray<number>) => Math.max(...values)
  const row = (measure: string, values: ReadonlyArray<number>, format: (n: number) => string) =>
    `| ${measure} | ${format(median(values))} | ${format(max(values))} |`
  return [
    `| measure (${r.lag.length} outages of ${ms(r.outage)}) | median | max |`,
    "| --- | ---: | ---: |",
    row("scheduled: return to the attempt that succeeded", r.scheduled, ms),
    row("lag: that attempt to the first successful call", r.lag, ms),
    row("total: return to the first successful call", r.total, ms),
    row("failed connect attempts per outage", r.attempts, String),
    row(`one connect + call, healthy (${r.connect.length} times)`, r.connect, ms),
    "",
    `goal: lag within one connect; ${verdict(r).line}`
  ].join("\n")
}

const recoverySection = (r: Recovery, o: RecoveryOptions): string => {
  const holds = verdict(r).holds
  return `## Recovery after an outage

A living \`McpTools\` layer over stdio to the client's fixture server
(\`packages/client/test/fixtures/server.mjs\`), with a connection policy of 100 ms base, x2, 1 s cap
and full jitter. In each of ${o.trials} trials the bench kills the server process while a caller keeps
calling \`echo\` (every 5 ms after a failure), keeps the server down for ${o.outage} ms (every new start
exits at once), then lets it start again. The supervisor's connect attempts fail meanwhile, each
followed by a jittered wait. Per trial, on the wall clock:

- **scheduled**: from the server's return to the start of the connect attempt that succeeded, as
  the schedule set it (the end of the last wait before the success): the price of backing off,
  up to the 1 s cap;
- **lag**: from that scheduled start (or the return, if later) to the first successful call: what
  the library adds on top of its schedule (spawning the process and the handshake included);
- **total**: from the return to the first successful call (scheduled + lag).

The goal is that the lag stays within one connect: building the same layer against a healthy
server and making one call, measured ${o.connects} times in the same run. A larger lag would mean time
lost between the schedule's attempt and the caller's success (a stale session, a call waiting
for something other than the connection). ${holds ? "It holds in the run above." : "It does not hold in the run above."}

${recoveryTable(r)}

`
}

export const markdown = (options: {
  readonly table: ReadonlyArray<Row>
  readonly machine: Machine
  readonly date: Date
  readonly seconds: number
  readonly load: { readonly before: string; readonly after: string }
  readonly command: string
  readonly settings: Settings
  /** The recovery study, unless `--only` left it out. */
  readonly recovery?: Recovery | undefined
}): string => {
  const { machine: m, settings: s } = options
  const concurrency = s.memory.throughput.concurrency
  const calls = (n: number) => n.toLocaleString("en-US")
  return `# Benchmarks

\`pnpm bench\` (\`packages/bench\`) runs four studies and rewrites this page (and [the herd
study's page](herd.md)) with the numbers of its last full run. The overhead and recovery studies
run first, one after the other, with no other study running; then the herd and scale studies run
at the same time, each in a process of its own (the herd runs in virtual time, so its numbers do
not depend on speed; the scale study's goals are about heap, handles and processes):

- **Overhead** (the first sections below): what mcp-resilience costs over the raw MCP TypeScript
  SDK: the same tool call through \`McpTools.call\` (a deadline on Effect's clock, cancellation on
  interruption, the unknown-tool check, \`isError\` mapping, metrics and a span on every call) and
  through the SDK's \`Client.callTool\`, over the same transport to the same server: in memory,
  over stdio and over Streamable HTTP, and in memory once more with the circuit breaker and a
  retry budget on.
- **Recovery** ([its section](#recovery-after-an-outage) below): how soon after a stdio server
  comes back the first call succeeds, against the delay the connection schedule asked for.
- **The thundering herd** (\`pnpm bench:herd\`, written to [herd.md](herd.md)): 1,000 clients
  lose their server at once; how many connection attempts each backoff and jitter strategy sends
  while it comes back, in virtual time.
- **Scale and leaks** (\`pnpm bench:scale\`, [its section](#scale-and-leaks) below): heap per
  session with 1,000 sessions open, heap and handles over 10,000 connect/close cycles, and orphan
  processes after stdio spawn/kill cycles.

Two more studies run on their own, not from \`pnpm bench\`:

- **A fleet through an outage** (\`pnpm bench:fleet\`, [its section](#a-fleet-through-an-outage-per-process-vs-redis-stores)
  below): 20 worker processes with a circuit breaker and a retry budget lose their HTTP server for
  30 s; the attempts that reach it and the time to recover, with per-process stores and with the
  Redis stores shared by the fleet, and what consulting the stores costs a healthy call.
- **The cost of one call** (\`pnpm bench:cost\`, prints only): the Effect operations a call runs
  (in memory, counted by a \`Supervisor\`) and the bytes it allocates (over stdio, the client only),
  for ours and for the raw SDK called from Effect: measures the machine's load does not change.

Run it on your own machine rather than trusting another machine's numbers.

${NOTES.begin}
${NOTES.end}

## Results

${markdownTable(options.table)}

- **ours vs raw**: \`mcp-resilience / raw SDK\` for times (lower is better, 1.00x is no overhead);
  for throughput, mcp-resilience's calls per second **as a fraction of** the raw SDK's (higher is
  better, 1.00 is no loss).
- **target**: the project's: median latency within 1.10x of raw over stdio, 1.05x over HTTP and
  2.0x in memory (with or without the breaker and budget); throughput at least 0.8 of raw with
  \`Effect.forEach\` and 0.9 with \`callAll\`. p99, CPU time and connect times have no target.
- **${GUARDED}**: \`McpTools.make\` with \`breaker: {}\` (the defaults: failure ratio 0.1 over
  30 s with at least 100 calls, 5 s break) and \`budget: RetryBudget.tokenBucket()\` (500 tokens),
  measured in the same run against the same raw client as the plain in-memory rows. With a
  breaker every call goes through it (one more step on the call's path); the budget is only
  consulted after a failed attempt, before a retry, and these calls do not fail.
- **raw SDK in Effect**: the same raw SDK client called from the same Effect program as
  mcp-resilience (\`Effect.promise(() => client.callTool(...))\`; \`Effect.forEach\` with the same
  concurrency for throughput), with no mcp-resilience code at all. It is what running inside
  Effect costs by itself; **ours vs raw in Effect** is what mcp-resilience adds on top.

The run:

- machine: ${m.cpu}, ${m.cores} cores, ${m.memory} RAM, ${m.os}
- Node ${m.node}, effect ${m.effect}, @modelcontextprotocol/sdk ${m.sdk}
- date: ${options.date.toISOString().replace(/\.\d+Z$/, "Z")}; the whole run took ${options.seconds.toFixed(0)} s
- load average (1 min) ${options.load.before} before and ${options.load.after} after: other work on the machine
  slows every side, and the side doing more CPU work per call (ours) the most
- command: \`${options.command}\` at the repository root; it builds the packages first (\`tsc -b\`) and
  measures their compiled \`dist\`, the code users run (only the bench's own files go through
  \`tsx\`). Run from the TypeScript sources through \`tsx\`, which names every closure as it is
  made, mcp-resilience's side costs several microseconds more per call

## How each number is measured

Everything runs in one Node process, inside one Effect program. Each transport gets two raw SDK
\`Client\`s (one for the plain \`async\` loop, one for the calls from Effect) and one \`McpTools\`
service (\`McpTools.make\` with \`RetryPolicy.default\` and the default 60 s call timeout), each with
its own copy of the same server (over stdio its own process, so that each side's server has sat
idle for as long as the others' when its turn comes; over HTTP its own session on one server); the
in-memory raw clients then take turns with a second \`McpTools\` service, the one with the breaker
and budget. The bench checks that both sides get the echo back before measuring. The sides then
take turns round by round, in a rotating order, so that drift (JIT, GC, CPU frequency, other
processes) falls on all of them alike. Every call is \`echo\` with \`{ text: "hello" }\`.

- **Servers.** In memory: an SDK \`McpServer\` in the same process with the demo server's \`echo\`
  tool, reached through the SDK's \`InMemoryTransport\` (ours: \`McpServerConfig.inMemory\`, which
  uses the same linked pair). Over stdio: the bundled demo server
  (\`node packages/client/examples/demo-server.mjs\`) in a child process, reached through the SDK's
  \`StdioClientTransport\` (ours: \`McpServerConfig.stdio\` and its own stdio transport). Over
  Streamable HTTP: one server in this process on 127.0.0.1 at an ephemeral port
  (\`FlakyServer.http\` from \`@mcp-resilience/testing\`, with no faults: the same \`echo\`), one
  session per side, reached through the SDK's \`StreamableHTTPClientTransport\` (ours:
  \`McpServerConfig.http\`). The server runs in the bench's process, so its work counts in the CPU
  time per call of every side alike.
- **Latency**, one call in flight. Raw: an \`async\` loop with \`performance.now()\` before and after
  each \`await client.callTool({ name: "echo", arguments })\`. Ours: the loop runs inside the Effect
  program, each \`yield* tools.call("echo", args)\` between two
  \`yield* Effect.sync(() => performance.now())\`, as a user's program runs. Measured calls per side:
  ${calls(s.memory.latency.iterations)} in memory, ${calls(s.stdio.latency.iterations)} over stdio and ${
    calls(s.http.latency.iterations)
  } over HTTP, in ${s.memory.latency.rounds}, ${s.stdio.latency.rounds}
  and ${s.http.latency.rounds} rounds, after ${calls(s.memory.latency.warmup)}, ${calls(s.stdio.latency.warmup)} and ${
    calls(s.http.latency.warmup)
  } warm-up calls. Median and p99 (nearest rank) over all measured
  calls. On a busy machine the p99 is mostly the calls during which the process lost its core.
- **CPU time per call**: the CPU time of this process (all threads, so garbage collection
  included; the HTTP server's too, not the stdio server's) over each side's measured latency
  rounds, divided by the calls. Other processes do not inflate it as they inflate wall-clock times on a busy machine.
- **Throughput**, ${concurrency} calls in flight. Raw: \`await Promise.all(...)\` of ${concurrency} \`callTool\`s,
  repeated. Ours: \`Effect.forEach(range, () => tools.call(...), { concurrency: ${concurrency} })\`, repeated
  (the raw SDK in Effect the same way); and, in the rows marked \`callAll\`,
  \`tools.callAll(calls)\` with the ${concurrency} calls ([parallel calls](parallel-calls.md)), repeated.
  A round is ${s.memory.throughput.batches} such batches in memory, ${s.stdio.throughput.batches} over stdio and ${s.http.throughput.batches} over HTTP; the
  number is the median over ${s.memory.throughput.rounds}, ${s.stdio.throughput.rounds} and ${s.http.throughput.rounds} rounds per side of the calls per second in the round, after
  ${s.memory.throughput.warmupRounds}, ${s.stdio.throughput.warmupRounds} and ${s.http.throughput.warmupRounds} warm-up rounds.
- **Connect**, over stdio, ${s.connect.iterations} times per side (after ${s.connect.warmup} warm-up), alternating. Raw:
  \`new Client()\`, \`await client.connect(new StdioClientTransport(...))\` (connect), then
  \`await client.close()\` (connect + close). Ours: \`McpClient.make(config, { policy: RetryPolicy.default })\`
  in a scope (connect), then the scope closed (connect + close). Both spawn \`node demo-server.mjs\`,
  do the MCP handshake, and stop the child by closing its stdin and waiting for it to exit. The
  program runs with the minimum log level at Warning, so the Info line per connect is not printed.

Spans use Effect's built-in tracer (no exporter), as in a program without OpenTelemetry. Every
call makes its span with it too: a failure's error carries the span, and its \`traceparent\` goes
to the server. An exporter's tracer adds its own cost on top.

## Where the overhead goes

In memory a whole round trip is a few tens of microseconds of JavaScript, so fixed costs show:
resuming a fiber after the SDK's promise settles and each Effect operation around the call (the
raw SDK in Effect pays these too); the call's interruptible wait (an \`Effect.async\` with a
canceler, which Effect wraps in an uninterruptible region to run it); the request's deadline
entry and the abort signal handed to the SDK, so that a timeout or an interruption sends
\`notifications/cancelled\`; the metrics; and, most of all, the garbage. Measured with
\`node --trace-gc-nvp\` over 100,000 sequential in-memory calls: with the raw SDK called from Effect, every
young-generation collection finds about 1.2 MB of per-call objects still reachable (zod's parse
results, the SDK's request and response objects), promotes them to the old generation, and
pauses about 6 ms for it; with mcp-resilience it is about 1.9 MB and 9 ms. Of the difference, the cancelable
wait adds about 0.26 MB per collection, handing the SDK an abort signal (which it then listens
on) about 0.3 MB, and our deadline entry, metrics and the rest about 0.15 MB. With a larger young
generation (\`node --max-semi-space-size=64\`) collections are rarer and
the in-memory median falls to about 20 µs against 16 to 18 µs for the raw SDK in Effect; the bench runs
with Node's defaults. Over stdio the same work costs more than in a tight in-memory loop: the
process waits for the child between calls, so the code runs with cold caches, and on a busy
machine every microsecond of CPU may also wait for a core. At ${concurrency} calls in flight,
\`Effect.forEach\` starts a fiber per call, which costs about as much as the call itself: compare
the raw SDK in Effect with the raw SDK. \`callAll\` starts the whole batch from one fiber; with
a breaker, each call's first attempt runs in the breaker's Effect, in a fiber of its own.

${options.recovery === undefined ? "" : recoverySection(options.recovery, s.recovery)}## Running it

\`\`\`sh
pnpm bench                     # every study; rewrites this page and docs/herd.md
pnpm bench --quick             # tiny sizes, a few seconds per study; prints only (--write to write this page)
pnpm bench --no-write          # the full run, prints only
pnpm bench --only=in-memory    # some sections (in-memory, stdio, http, connect, recovery, herd, scale); prints only
pnpm bench:herd                # the herd study alone (see herd.md for its options)
pnpm bench:scale               # the scale and leaks study alone; rewrites its section of this page
pnpm bench:scale --quick       # small sizes, prints only (--only=sessions,cycles,stdio for some of it)
pnpm bench:fleet               # the fleet study; rewrites its section of this page and docs/img/fleet-attempts.svg
pnpm bench:fleet --quick       # 3 workers, a 3 s outage; prints only (--help for the options)
\`\`\`

The overhead and recovery studies took ${options.seconds.toFixed(0)} s in the run above. The studies are not
part of \`pnpm test\`; \`packages/bench/test/smoke.test.ts\` runs each of them in \`--quick\` mode
so that they cannot rot. Most of a full run is the herd study (202 simulations of 1,000
clients) and the scale study's 30,000 connect/close cycles.
`
}
