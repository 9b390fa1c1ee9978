/**
 * The soak: for a bounded wall time (30 s by default, `MCP_SOAK_SECONDS` to change it), concurrent workers call
 * tools over stdio, Streamable HTTP and in memory while the chaos server misbehaves at random (crashes, hangs,
 * connections cut mid-message, duplicate and unknown answers, messages that are not JSON-RPC, wrong shapes, HTTP
 * 429/500/503 and forgotten sessions). Checked:
 *
 * - every call ends within its deadline (the call policy's total deadline plus a slack for a busy machine), in
 *   success or a typed error: never a defect, never an untyped error, never a hang;
 * - no `counter` call (not idempotent) ran twice;
 * - the row's secret (stdio env, HTTP header) shows in no log line;
 * - once the layers are released: no process, fiber or handle is left.
 *
 * The counts are printed and written to `docs/reliability.md`.
 */
import { McpTools, type McpToolsTypes } from "@mcp-resilience/client"
import { RetryPolicy } from "@mcp-resilience/policy"
import { Duration, Effect, Exit, Logger, LogLevel, Supervisor } from "effect"
import { randomUUID } from "node:crypto"
import { monitorEventLoopDelay } from "node:perf_hooks"
import { assert, describe, it } from "vitest"
import type { CallFault } from "./chaos-server.mjs"
import { type Ctx, exitLabel, type TransportKind, withSecret } from "./harness.js"
import { leakedFibers, leakedHandles, processesMentioning, realSleep, resources } from "./leaks.js"
import { markdownTable, stamp, writeSection } from "./report.js"
import { logSink } from "./secrets.js"
import { chaos } from "./servers.js"

const seconds = Number(process.env.MCP_SOAK_SECONDS ?? 30)
const workersPerTransport = 6
/** Per attempt; the call policy allows 3 attempts within `DEADLINE`. */
const CALL_TIMEOUT = Duration.millis(400)
const DEADLINE = Duration.millis(1_500)
/** What a busy 2-core machine may add to a deadline (event-loop lag, a process start). */
const SLACK_MILLIS = 1_000
/** A call still running after this is a hang. */
const HANG_MILLIS = 10_000

const common: ReadonlyArray<CallFault> = [
  "hang",
  "crash",
  "crashBefore",
  "cut",
  "duplicate",
  "unknownId",
  "notJsonRpc",
  "wrongShape"
]
const faultsOf = (t: TransportKind): ReadonlyArray<CallFault> =>
  t === "http"
    ? [...common, "invalidJson", "sessionGone", { status: 503 }, { status: 500 }, { status: 429, retryAfter: 0 }]
    : t === "stdio"
    ? [...common, "invalidJson"]
    : common

interface Counts {
  calls: number
  ok: number
  errors: Record<string, number>
  overDeadline: number
  worstMillis: number
  hung: number
  untyped: Array<string>
  sessions: number
  faultsFired: number
  duplicates: Array<string>
  secretInLogs: number
  logLines: number
  leaks: Array<string>
}

const counts = (): Counts => ({
  calls: 0,
  ok: 0,
  errors: {},
  overDeadline: 0,
  worstMillis: 0,
  hung: 0,
  untyped: [],
  sessions: 0,
  faultsFired: 0,
  duplicates: [],
  secretInLogs: 0,
  logLines: 0,
  leaks: []
})

const soakOne = (transport: TransportKind, endAt: number, c: Counts) =>
  Effect.gen(function*() {
    const ctx: Ctx = { transport, marker: `rel-soak-${randomUUID()}`, secret: `sk-soak-${randomUUID()}` }
    const baseline = resources()
    const { layer: loggerLayer, sink } = logSink(ctx.secret)
    const tracked = yield* Supervisor.track
    yield* Effect.scoped(Effect.gen(function*() {
      const env = yield* chaos(ctx, {
        randomFaults: { rate: 0.08, faults: faultsOf(transport) },
        seed: 42,
        stderrLines: 0
      })
      const options: McpToolsTypes.Options = {
        server: withSecret(env.server, ctx.secret),
        policy: RetryPolicy.make({ maxAttempts: 6, base: "20 millis", cap: "200 millis", attemptTimeout: "3 seconds" }),
        callPolicy: RetryPolicy.make({
          maxAttempts: 3,
          base: "20 millis",
          cap: "100 millis",
          jitter: "none",
          attemptTimeout: "1 minute",
          deadline: DEADLINE
        }),
        callTimeout: CALL_TIMEOUT
      }
      const worker = (w: number) =>
        Effect.gen(function*() {
          const tools = yield* McpTools
          for (let i = 0; Date.now() < endAt; i++) {
            const counter = (w + i) % 3 === 0
            const started = Date.now()
            const exit = yield* Effect.exit(
              (counter
                ? tools.call("counter", { id: `${transport}-${w}-${i}` })
                : tools.call("echo", { text: `${w}-${i}` })).pipe(Effect.timeout(HANG_MILLIS))
            )
            const millis = Date.now() - started
            c.calls++
            c.worstMillis = Math.max(c.worstMillis, millis)
            if (millis > Duration.toMillis(DEADLINE) + SLACK_MILLIS) c.overDeadline++
            const { label } = exitLabel(exit)
            if (Exit.isSuccess(exit)) c.ok++
            else if (label.startsWith("untyped: TimeoutException")) c.hung++
            else if (label.startsWith("Mcp")) c.errors[label] = (c.errors[label] ?? 0) + 1
            else if (c.untyped.length < 10) c.untyped.push(`${transport}: ${label}`)
            else c.untyped.push("…")
            yield* realSleep(10)
          }
        })
      yield* Effect.gen(function*() {
        yield* Effect.forEach(Array.from({ length: workersPerTransport }, (_, w) => w), worker, {
          concurrency: "unbounded",
          discard: true
        })
        const tools = yield* McpTools
        c.sessions += yield* tools.sessions
      }).pipe(
        Effect.provide(McpTools.layer(options)),
        Effect.supervised(tracked),
        Effect.provide(loggerLayer)
      )
      // after the release, while the servers still run
      const pids = processesMentioning(ctx.marker)
      if (pids.length > 0) c.leaks.push(`${transport}: ${pids.length} process(es)`)
      const fibers = yield* leakedFibers(tracked)
      if (fibers > 0) c.leaks.push(`${transport}: ${fibers} fiber(s)`)
      const sessions = env.openSessions?.() ?? 0
      if (sessions > 0) c.leaks.push(`${transport}: ${sessions} HTTP session(s) not deleted`)
      c.faultsFired += Number(env.stats?.().randomFaults ?? 0)
      c.duplicates.push(...(env.duplicates?.() ?? []).map((d) => `${transport} ${d}`))
    }))
    c.secretInLogs += sink.leaks
    c.logLines += sink.lines
    return baseline
  })

const row = (transport: string, c: Counts) => [
  transport,
  String(c.calls),
  String(c.ok),
  Object.entries(c.errors).sort(([, a], [, b]) => b - a).map(([label, n]) => `${label} ${n}`).join(", ") || "-",
  `${c.worstMillis} ms`,
  String(c.overDeadline + c.hung),
  String(c.untyped.length),
  String(c.duplicates.length),
  String(c.sessions),
  c.leaks.length === 0 ? "none" : c.leaks.join("; ")
]

describe("soak", () => {
  it(`${seconds} s of concurrent calls while faults fire at random`, async () => {
    const started = Date.now()
    const endAt = started + seconds * 1000
    const transports: ReadonlyArray<TransportKind> = ["stdio", "http", "memory"]
    const byTransport = transports.map(() => counts())
    const baseline = resources()
    const lag = monitorEventLoopDelay({ resolution: 10 })
    lag.enable()
    await Effect.runPromise(
      Effect.forEach(transports, (t, i) => soakOne(t, endAt, byTransport[i]!), { concurrency: "unbounded" }).pipe(
        Logger.withMinimumLogLevel(LogLevel.All)
      )
    )
    lag.disable()
    const lagMax = Math.round(lag.max / 1e6)
    const handles = await Effect.runPromise(leakedHandles(baseline))
    const wall = ((Date.now() - started) / 1000).toFixed(1)
    const all = counts()
    for (const c of byTransport) {
      all.calls += c.calls
      all.ok += c.ok
      all.overDeadline += c.overDeadline
      all.hung += c.hung
      all.worstMillis = Math.max(all.worstMillis, c.worstMillis)
      all.untyped.push(...c.untyped)
      all.duplicates.push(...c.duplicates)
      all.leaks.push(...c.leaks)
      all.sessions += c.sessions
      all.faultsFired += c.faultsFired
      all.secretInLogs += c.secretInLogs
      all.logLines += c.logLines
      for (const [label, n] of Object.entries(c.errors)) all.errors[label] = (all.errors[label] ?? 0) + n
    }
    if (handles.length > 0) all.leaks.push(`handles: ${handles.join(", ")}`)
    const head = [
      "transport",
      "calls",
      "ok",
      "typed errors",
      "slowest call",
      "over deadline or hung",
      "untyped or defects",
      "ran twice",
      "sessions",
      "leaks"
    ]
    const rows = [...transports.map((t, i) => row(t, byTransport[i]!)), row("all", all)]
    const table = markdownTable(head, rows)
    console.log(
      `\nsoak: ${seconds} s, ${workersPerTransport} workers per transport, ${wall} s wall, ` +
        `${all.faultsFired} faults fired, event loop delayed up to ${lagMax} ms\n${table}\n`
    )
    await writeSection(
      "soak",
      [
        "## Soak",
        "",
        `${seconds} s of wall time (\`MCP_SOAK_SECONDS\` to change it): ${workersPerTransport} workers per transport ` +
        "call `echo` (read-only) and `counter` (not idempotent) in a loop, on one layer per transport, while the " +
        "chaos server turns 8% of the calls into a random fault (crash, hang, a connection cut mid-message, " +
        "duplicate and unknown answers, messages that are not JSON-RPC, wrong result shapes; HTTP also 429, 500, 503 " +
        "and forgotten sessions; stdio and HTTP also bytes that are not JSON). Each call has " +
        `${Duration.format(CALL_TIMEOUT)} per attempt, at most 3 attempts and ${Duration.format(DEADLINE)} in all; ` +
        `it must end within that deadline plus ${SLACK_MILLIS} ms of slack, in success or a typed error.`,
        "",
        `Written ${stamp()}: ${wall} s wall, ${all.faultsFired} faults fired, the event loop delayed up to ` +
        `${lagMax} ms (what the slack is for), ${all.logLines} log lines checked for the secret (found ` +
        `${all.secretInLogs} times).`,
        "",
        table
      ].join("\n")
    )
    assert.isAbove(all.calls, 0)
    assert.deepStrictEqual(all.untyped, [], "untyped errors or defects")
    assert.strictEqual(all.hung, 0, "calls that hung")
    assert.strictEqual(all.overDeadline, 0, `calls over their deadline (slowest ${all.worstMillis} ms)`)
    assert.deepStrictEqual(all.duplicates, [], "non-idempotent calls that ran twice")
    assert.strictEqual(all.secretInLogs, 0, "log lines with the secret")
    assert.deepStrictEqual(all.leaks, [], "leaks")
    for (const c of byTransport) assert.isAbove(c.ok, 0)
  }, (seconds + 60) * 1000)
})
