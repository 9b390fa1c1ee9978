/**
 * The reliability matrix as data, and the one runner that executes a case over a transport and reports what
 * happened (not what was expected).
 *
 * A case is `{ fault, transports, setup, steps, expect }`. For each transport the runner:
 *
 * 1. takes a baseline of active handles, then runs `setup` in its own scope (servers, fault rules);
 * 2. builds `McpTools.layer` against the server (with a secret in its headers or env), runs the steps in a
 *    forked fiber under `Supervisor.track` and a log sink, and drives it: stdio and HTTP on the live clock with
 *    short policies, in memory under `TestClock` (virtual time jumps to the next sleep whenever the program waits);
 *    `interruptWhen` interrupts it at a chosen moment; a hard limit catches hangs;
 * 3. records the outcome of each step (`ok`, the error's tag and reason, `interrupted`, `defect: ...`), the time,
 *    then looks for leaks: processes mentioning the row's marker, fibers still alive, server-side HTTP sessions not
 *    deleted, and (after the setup scope closed the servers) handles above the baseline; and for the secret in logs,
 *    spans, errors, the final status and the config;
 * 4. compares with `expect`: every difference is a problem, and a row with problems fails its test.
 */
import { type McpError, McpServerConfig, McpTools, type McpToolsTypes, McpTransport } from "@mcp-resilience/client"
import { RetryPolicy } from "@mcp-resilience/policy"
import { VirtualTime } from "@mcp-resilience/testing"
import {
  Cause,
  Chunk,
  Clock,
  Duration,
  Effect,
  Exit,
  type Fiber,
  FiberId,
  Option,
  Redacted,
  type Scope,
  Supervisor,
  TestClock,
  TestContext
} from "effect"
import { randomUUID } from "node:crypto"
import { excess, leakedFibers, leakedHandles, processesMentioning, realSleep, resources } from "./leaks.js"
import { logSink, renderCause, renderSpan, scan, type spanRecorder } from "./secrets.js"

export type TransportKind = "stdio" | "http" | "memory"

export const allTransports: ReadonlyArray<TransportKind> = ["stdio", "http", "memory"]

/** What a setup learns about the row it serves. */
export interface Ctx {
  readonly transport: TransportKind
  /** Unique per row: put it in a stdio server's arguments so its processes can be found in `/proc`. */
  readonly marker: string
  /** Unique per row: the runner adds it to the config's env (stdio) or headers (HTTP). */
  readonly secret: string
}

/** What the runner shows `interruptWhen`. */
export interface Probe {
  /** Milliseconds since the program started (virtual in memory). */
  elapsed: number
  /** `connect` until the layer is built, `steps`, then `shutdown` once the steps are done. */
  phase: "connect" | "steps" | "shutdown"
}

/** A running server, as a setup returns it. */
export interface Env {
  readonly server: McpServerConfig.McpServerConfig
  /** A transports service for the client (fault rules); default `McpTransport.live`. */
  readonly transports?: McpTransport.Service | undefined
  /** Tool executions as the server counted them. */
  readonly executions: () => Readonly<Record<string, number>>
  /** `counter` call ids the server ran more than once. */
  readonly duplicates?: (() => ReadonlyArray<string>) | undefined
  /** `notifications/cancelled` the server received. */
  readonly cancelled?: (() => number) | undefined
  /** HTTP sessions still open on the server (the client must DELETE its session). */
  readonly openSessions?: (() => number) | undefined
  /** Whether the secret reached the server (env or header), where the server can tell. */
  readonly sawSecret?: (() => boolean) | undefined
  /** Counters to compare with `expect.stats`. */
  readonly stats?: (() => Readonly<Record<string, unknown>>) | undefined
  /** Crashes the server now (the `crashServer` step). */
  readonly crash?: (() => void) | undefined
  /** Interrupts the program the first time this holds. */
  readonly interruptWhen?: ((probe: Probe) => boolean) | undefined
}

export type Step =
  | {
    readonly call: string
    readonly args?: Record<string, unknown> | undefined
    readonly timeout?: Duration.DurationInput | undefined
    readonly idempotent?: boolean | undefined
  }
  /** Concurrent `echo` calls; `ok` when each answer is its own text. */
  | { readonly parallel: ReadonlyArray<string> }
  /** Waits (on the program's clock) until `tools.tools` lists the tool: `seen`, or `not seen` after `within`. */
  | { readonly waitForTool: string; readonly within: Duration.DurationInput }
  | { readonly crashServer: true }
  | { readonly sleep: Duration.DurationInput }

export interface Expect {
  /** Step outcomes joined by ` → `, e.g. `McpConnectError.Closed → ok`; a connect failure is the only label. */
  readonly outcome: string
  /** Another outcome that is as right (e.g. an interruption that lands after the release finished). */
  readonly or?: string | undefined
  /** Upper bound of the time taken, connect to release (virtual in memory). */
  readonly within: Duration.DurationInput
  readonly atLeast?: Duration.DurationInput | undefined
  /** `maybeExecuted` of the first failed step. */
  readonly maybeExecuted?: boolean | undefined
  /** Exact executions by tool (the generic check: `counter` ran at most once per call). */
  readonly executions?: Readonly<Record<string, number>> | undefined
  /** The server must have received `notifications/cancelled`. */
  readonly cancelled?: boolean | undefined
  /** `tools.sessions` at the end of the steps. */
  readonly sessions?: number | undefined
  /** Connection attempts of the first session. */
  readonly attempts?: number | undefined
  /** A log line that must appear (substring). */
  readonly log?: string | undefined
  /** Exact values of `env.stats()` fields. */
  readonly stats?: Readonly<Record<string, unknown>> | undefined
  /** Bounds on how long the first `call` step took, from the call to its outcome (e.g. a deadline kept). */
  readonly callTook?: { readonly atLeast: Duration.DurationInput; readonly within: Duration.DurationInput } | undefined
}

export interface Case {
  readonly fault: string
  readonly transports: ReadonlyArray<TransportKind>
  readonly setup: (ctx: Ctx) => Effect.Effect<Env, never, Scope.Scope>
  readonly steps: ReadonlyArray<Step> | ((transport: TransportKind) => ReadonlyArray<Step>)
  readonly expect: Expect | ((transport: TransportKind) => Expect)
  /** Layer options on top of the defaults (policy, callPolicy, callTimeout, health, ...). */
  readonly options?: ((transport: TransportKind) => Partial<McpToolsTypes.Options>) | undefined
  /** A client bug this case reveals: the row is expected to fail (`it.fails`) and the table says so. */
  readonly knownBug?: { readonly transports: ReadonlyArray<TransportKind>; readonly issue: string } | undefined
}

/** One executed row of the matrix. */
export interface Row {
  readonly fault: string
  readonly transport: TransportKind
  readonly expected: string
  readonly outcome: string
  readonly millis: number
  readonly virtual: boolean
  readonly leaks: ReadonlyArray<string>
  readonly executions: string
  readonly notes: ReadonlyArray<string>
  readonly problems: ReadonlyArray<string>
  readonly knownBug: string | undefined
  /** Where the secret could have shown: checked places, and whether it reached the server. */
  readonly secret: { readonly logLines: number; readonly spans: number; readonly reached: boolean | undefined }
  /** The last warnings and errors the client logged (for debugging a failing row). */
  readonly warnings: ReadonlyArray<string>
}

// -------------------------------------------------------------------------------------------------------------------
// Policies
// -------------------------------------------------------------------------------------------------------------------

/** Real processes and sockets: short waits, so a row takes a fraction of a second. */
export const livePolicy = RetryPolicy.make({
  maxAttempts: 4,
  base: "20 millis",
  factor: 2,
  cap: "200 millis",
  jitter: "none",
  attemptTimeout: "5 seconds",
  deadline: "15 seconds"
})

export const liveCallPolicy = RetryPolicy.make({
  maxAttempts: 3,
  base: "20 millis",
  cap: "200 millis",
  jitter: "none",
  attemptTimeout: "1 minute",
  deadline: "10 seconds"
})

/** In memory, under TestClock: the default shape with round numbers (1 s, 2 s, 4 s), no jitter. */
export const virtualPolicy = RetryPolicy.make({
  maxAttempts: 4,
  base: "1 second",
  factor: 2,
  cap: "10 seconds",
  jitter: "none",
  attemptTimeout: "5 seconds",
  deadline: "60 seconds"
})

export const virtualCallPolicy = RetryPolicy.make({
  maxAttempts: 3,
  base: "200 millis",
  cap: "2 seconds",
  jitter: "none",
  attemptTimeout: "1 minute",
  deadline: "30 seconds"
})

export const isVirtual = (transport: TransportKind): boolean => transport === "memory"

const defaults = (transport: TransportKind): Partial<McpToolsTypes.Options> =>
  isVirtual(transport)
    ? { policy: virtualPolicy, callPolicy: virtualCallPolicy, callTimeout: "5 seconds" }
    : { policy: livePolicy, callPolicy: liveCallPolicy, callTimeout: "3 seconds" }

// -------------------------------------------------------------------------------------------------------------------
// Labels
// -------------------------------------------------------------------------------------------------------------------

const typedTags = new Set([
  "McpConnectError",
  "McpTimeoutError",
  "McpAuthError",
  "McpConfigError",
  "McpProtocolError",
  "McpToolError",
  "McpDecodeError",
  "McpCircuitOpenError"
])

/** `McpConnectError.Http(503)`, `McpTimeoutError`, `untyped: ...`. */
export const labelOf = (error: unknown): string => {
  if (typeof error === "object" && error !== null && "_tag" in error && typedTags.has(String(error._tag))) {
    const e = error as { _tag: string; reason?: string; status?: number }
    return `${e._tag}${e.reason === undefined ? "" : `.${e.reason}`}${e.status === undefined ? "" : `(${e.status})`}`
  }
  return `untyped: ${String(error).slice(0, 120)}`
}

/** The label of an exit, and its typed error if any. */
export const exitLabel = (exit: Exit.Exit<unknown, unknown>): { label: string; error: unknown } => {
  if (Exit.isSuccess(exit)) return { label: "ok", error: undefined }
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure)) return { label: labelOf(failure.value), error: failure.value }
  if (Cause.isInterruptedOnly(exit.cause)) return { label: "interrupted", error: undefined }
  return { label: `defect: ${renderCause(exit.cause).split("\n")[0]}`, error: Cause.squash(exit.cause) }
}

// -------------------------------------------------------------------------------------------------------------------
// The program and its driver
// -------------------------------------------------------------------------------------------------------------------

interface Trace {
  readonly labels: Array<string>
  readonly errors: Array<unknown>
  sessions: number | undefined
  attempts: number | undefined
  status: unknown
  finalTools: ReadonlyArray<string> | undefined
  /** How long each `call` step took, in milliseconds. */
  readonly callMillis: Array<number>
}

const runSteps = (
  tools: McpToolsTypes.Service,
  steps: ReadonlyArray<Step>,
  env: Env,
  probe: Probe,
  trace: Trace,
  rowId: string
) =>
  Effect.gen(function*() {
    probe.phase = "steps"
    trace.attempts = tools.client?.attempts
    const record = (exit: Exit.Exit<unknown, unknown>) => {
      const { error, label } = exitLabel(exit)
      trace.labels.push(label)
      if (error !== undefined) trace.errors.push(error)
    }
    for (const [i, step] of steps.entries()) {
      if ("call" in step) {
        const args = step.call === "counter"
          ? { id: `${rowId}-${i}`, ...step.args }
          : step.args ?? (step.call === "echo" ? { text: `step ${i}` } : {})
        const options: McpToolsTypes.CallOptions = {
          ...(step.timeout === undefined ? {} : { timeout: step.timeout }),
          ...(step.idempotent === undefined ? {} : { idempotent: step.idempotent })
        }
        const started = yield* Clock.currentTimeMillis
        record(yield* Effect.exit(tools.call(step.call, args, options)))
        trace.callMillis.push((yield* Clock.currentTimeMillis) - started)
      } else if ("parallel" in step) {
        const exit = yield* Effect.exit(
          Effect.forEach(step.parallel, (text) => tools.call("echo", { text }), { concurrency: "unbounded" })
        )
        if (Exit.isSuccess(exit)) {
          const texts = exit.value.map((result) => (result.content[0] as { text?: string } | undefined)?.text)
          trace.labels.push(texts.every((text, j) => text === step.parallel[j]) ? "ok" : `mismatch ${texts}`)
        } else {
          record(exit)
        }
      } else if ("waitForTool" in step) {
        const limit = Duration.toMillis(Duration.decode(step.within))
        const start = yield* Clock.currentTimeMillis
        let seen = false
        while (!seen && (yield* Clock.currentTimeMillis) - start < limit) {
          seen = (yield* tools.tools).some((tool) => tool.name === step.waitForTool)
          if (!seen) yield* Effect.sleep("20 millis")
        }
        trace.labels.push(seen ? "seen" : "not seen")
      } else if ("crashServer" in step) {
        env.crash?.()
      } else {
        yield* Effect.sleep(step.sleep)
      }
    }
    trace.sessions = yield* tools.sessions
    trace.status = yield* tools.status
    trace.finalTools = (yield* tools.tools).map((tool) => tool.name)
    probe.phase = "shutdown"
  })

interface Driven {
  readonly exit: Exit.Exit<unknown, unknown> | undefined
  readonly millis: number
  readonly hung: boolean
}

/**
 * Runs the fiber to its end. Live: polls every 5 ms. Virtual: lets the event loop turn, then sets the TestClock to
 * the earliest pending sleep. Interrupts when `interruptWhen` first holds, and after `hardLimit` (a hang).
 */
const drive = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  virtual: boolean,
  probe: Probe,
  hardLimit: number,
  giveUpAfter: number,
  interruptWhen: ((probe: Probe) => boolean) | undefined
) =>
  Effect.gen(function*() {
    const now = virtual ? () => Clock.currentTimeMillis : () => Effect.sync(() => performance.now())
    const start = yield* now()
    let interrupted = false
    let hung = false
    let idle = 0
    let giveUpAt = Number.POSITIVE_INFINITY
    while (true) {
      if (virtual) yield* VirtualTime.settle(5)
      else yield* realSleep(5)
      const polled = fiber.unsafePoll()
      probe.elapsed = (yield* now()) - start
      if (polled !== null) return { exit: polled, millis: probe.elapsed, hung } satisfies Driven
      if (!interrupted && interruptWhen?.(probe)) {
        interrupted = true
        fiber.unsafeInterruptAsFork(FiberId.none)
        continue // let the interruption run before time moves on
      }
      if (!hung && (probe.elapsed > hardLimit || idle > 200)) {
        hung = true
        giveUpAt = Date.now() + giveUpAfter
        fiber.unsafeInterruptAsFork(FiberId.none)
      }
      if (Date.now() > giveUpAt) return { exit: undefined, millis: probe.elapsed, hung } satisfies Driven
      if (virtual) {
        const sleeps = yield* TestClock.sleeps()
        const current = yield* Clock.currentTimeMillis
        const next = Chunk.reduce(sleeps, Number.POSITIVE_INFINITY, (min, at) => Math.min(min, at))
        if (next === Number.POSITIVE_INFINITY || next <= current) idle++
        else {
          idle = 0
          // while an interruption is pending, time moves in steps of at most 100 ms so it lands where it should
          const to = !interrupted && interruptWhen !== undefined ? Math.min(next, current + 100) : next
          yield* TestClock.setTime(to)
        }
      }
    }
  })

export const withSecret = (
  config: McpServerConfig.McpServerConfig,
  secret: string
): McpServerConfig.McpServerConfig => {
  switch (config._tag) {
    case "Stdio":
      return McpServerConfig.stdio({
        command: config.command,
        args: config.args,
        env: { ...config.env, MCP_RELIABILITY_TOKEN: Redacted.make(secret) },
        stderr: config.stderr,
        shutdownGraceMillis: config.shutdownGraceMillis,
        ...(config.name === undefined ? {} : { name: config.name }),
        ...(config.cwd === undefined ? {} : { cwd: config.cwd })
      })
    case "Http":
      return McpServerConfig.http({
        url: config.url,
        headers: { ...config.headers, Authorization: Redacted.make(`Bearer ${secret}`) },
        ...(config.name === undefined ? {} : { name: config.name })
      })
    default:
      return config
  }
}

const ms = (d: Duration.DurationInput) => Duration.toMillis(Duration.decode(d))

const stepsOf = (c: Case, t: TransportKind) => (typeof c.steps === "function" ? c.steps(t) : c.steps)
export const expectOf = (c: Case, t: TransportKind): Expect => (typeof c.expect === "function" ? c.expect(t) : c.expect)

const formatExecutions = (executions: Readonly<Record<string, number>>) =>
  Object.entries(executions)
    .filter(([, n]) => n > 0)
    .map(([tool, n]) => `${tool}×${n}`)
    .join(", ") || "-"

/**
 * Runs one case over one transport and reports the row; never fails (everything that went wrong is in
 * `problems`).
 */
export const runRow = (
  c: Case,
  transport: TransportKind,
  spans: ReturnType<typeof spanRecorder>
): Effect.Effect<Row> => {
  const virtual = isVirtual(transport)
  const expect = expectOf(c, transport)
  const steps = stepsOf(c, transport)
  const ctx: Ctx = { transport, marker: `rel-${randomUUID()}`, secret: `sk-rel-${randomUUID()}` }
  const rowId = ctx.marker.slice(4, 12)
  const bug = c.knownBug !== undefined && c.knownBug.transports.includes(transport) ? c.knownBug.issue : undefined
  const baseline = resources()
  const { layer: loggerLayer, sink } = logSink(ctx.secret)
  const probe: Probe = { elapsed: 0, phase: "connect" }
  const trace: Trace = {
    labels: [],
    errors: [],
    sessions: undefined,
    attempts: undefined,
    status: undefined,
    finalTools: undefined,
    callMillis: []
  }
  const problems: Array<string> = []
  const notes: Array<string> = []
  const leaks: Array<string> = []

  const body = Effect.scoped(Effect.gen(function*() {
    const env = yield* c.setup(ctx)
    const server = withSecret(env.server, ctx.secret)
    const options: McpToolsTypes.Options = { server, ...defaults(transport), ...c.options?.(transport) }
    const tracked = yield* Supervisor.track
    const program = Effect.flatMap(McpTools, (tools) => runSteps(tools, steps, env, probe, trace, rowId)).pipe(
      Effect.provide(McpTools.layer(options)),
      Effect.provideService(McpTransport.McpTransports, env.transports ?? McpTransport.live),
      Effect.supervised(tracked),
      Effect.provide(loggerLayer)
    )
    spans.start()
    const fiber = yield* Effect.fork(program)
    // a hang: past its deadline by 5 s (1 s for a known bug), or waiting in virtual time with nothing scheduled
    const slack = bug === undefined ? 5_000 : 1_000
    const hardLimit = ms(expect.within) + (virtual ? 3_600_000 : slack)
    const driven = yield* drive(fiber, virtual, probe, hardLimit, slack, env.interruptWhen)
    const recorded = spans.stop()

    // what happened
    if (driven.exit === undefined) trace.labels.push("hung: did not stop when interrupted")
    else if (driven.hung) trace.labels.push(`hung: interrupted after ${Math.round(driven.millis)} ms`)
    else {
      const { error, label } = exitLabel(driven.exit)
      if (label !== "ok") {
        // a connect failure (the steps never ran), an interruption, or a defect
        trace.labels.push(label)
        if (error !== undefined) trace.errors.push(error)
      }
    }

    // leaks visible while the servers still run
    const pids = processesMentioning(ctx.marker)
    if (pids.length > 0) leaks.push(`${pids.length} process(es) ${pids.join(" ")}`)
    if (pids.length > 0 && process.env.MCP_RELIABILITY_DEBUG) console.log(new Date().toISOString(), "leaked", pids)
    const fibers = yield* leakedFibers(tracked)
    if (fibers > 0) leaks.push(`${fibers} fiber(s)`)
    const sessions = env.openSessions?.() ?? 0
    if (sessions > 0) leaks.push(`${sessions} HTTP session(s) not deleted`)

    // the secret
    const secretIn = [
      ...(sink.leaks > 0 ? [`${sink.leaks} log line(s)`] : []),
      ...(recorded.some((span) => renderSpan(span).includes(ctx.secret)) ? ["a span"] : []),
      ...scan(ctx.secret, {
        error: trace.errors,
        "the exit": driven.exit === undefined || Exit.isSuccess(driven.exit) ? "" : renderCause(driven.exit.cause),
        status: trace.status,
        config: server
      })
    ]
    if (secretIn.length > 0) problems.push(`the secret shows in ${secretIn.join(", ")}`)

    // at most once, cancellation, counters
    if (!virtual && expect.cancelled) {
      yield* Effect.promise(async () => {
        const start = Date.now()
        while ((env.cancelled?.() ?? 0) === 0 && Date.now() - start < 1_000) await new Promise((r) => setTimeout(r, 20))
      })
    }
    const executions = env.executions()
    const counterCalls = steps.filter((step) => "call" in step && step.call === "counter").length
    if ((executions.counter ?? 0) > counterCalls) {
      problems.push(`counter ran ${executions.counter} times for ${counterCalls} call(s)`)
    }
    const duplicates = env.duplicates?.() ?? []
    if (duplicates.length > 0) problems.push(`a non-idempotent call ran twice: ${duplicates.join(", ")}`)
    if (expect.executions !== undefined) {
      for (const [tool, n] of Object.entries(expect.executions)) {
        if ((executions[tool] ?? 0) !== n) problems.push(`${tool} ran ${executions[tool] ?? 0} times, expected ${n}`)
      }
    }
    if (expect.cancelled === true) {
      const cancelled = env.cancelled?.() ?? 0
      if (cancelled === 0) problems.push("the server was not told (notifications/cancelled)")
      else notes.push("server told cancelled")
    }
    if (expect.stats !== undefined) {
      const stats = env.stats?.() ?? {}
      for (const [key, value] of Object.entries(expect.stats)) {
        if (stats[key] !== value) problems.push(`server ${key} = ${String(stats[key])}, expected ${String(value)}`)
        else notes.push(`${key} ${String(value)}`)
      }
    }
    return { driven, executions, reached: env.sawSecret?.(), spans: recorded.length }
  }))

  const run = Effect.gen(function*() {
    const { driven, executions, reached, spans: spanCount } = yield* (virtual
      ? Effect.provide(body, TestContext.TestContext)
      : body)
    // handles: after the setup scope closed the servers
    const handles = yield* leakedHandles(baseline)
    if (handles.length > 0) leaks.push(`handles: ${handles.join(", ")}`)

    const outcome = trace.labels.join(" → ")
    if (outcome !== expect.outcome && outcome !== expect.or) {
      problems.push(
        `outcome "${outcome}", expected "${expect.outcome}"${expect.or === undefined ? "" : ` or "${expect.or}"`}`
      )
    }
    if (driven.millis > ms(expect.within)) {
      problems.push(`took ${Math.round(driven.millis)} ms, more than ${ms(expect.within)} ms`)
    }
    if (expect.atLeast !== undefined && driven.millis < ms(expect.atLeast)) {
      problems.push(`took ${Math.round(driven.millis)} ms, less than ${ms(expect.atLeast)} ms`)
    }
    if (expect.callTook !== undefined) {
      const took = trace.callMillis[0]
      if (took === undefined) problems.push("no call step ran")
      else {
        notes.push(`the call took ${took} ms`)
        if (took < ms(expect.callTook.atLeast) || took > ms(expect.callTook.within)) {
          problems.push(
            `the call took ${took} ms, expected ${ms(expect.callTook.atLeast)}–${ms(expect.callTook.within)} ms`
          )
        }
      }
    }
    const firstError = trace.errors[0] as McpError.McpError | undefined
    const maybeExecuted = (firstError as { maybeExecuted?: boolean } | undefined)?.maybeExecuted
    if (maybeExecuted !== undefined) notes.push(`maybeExecuted ${maybeExecuted}`)
    if (expect.maybeExecuted !== undefined && maybeExecuted !== expect.maybeExecuted) {
      problems.push(`maybeExecuted ${maybeExecuted}, expected ${expect.maybeExecuted}`)
    }
    if (trace.sessions !== undefined && trace.sessions > 1) notes.push(`${trace.sessions} sessions`)
    if (expect.sessions !== undefined && trace.sessions !== expect.sessions) {
      problems.push(`${trace.sessions} session(s), expected ${expect.sessions}`)
    }
    if (trace.attempts !== undefined && trace.attempts > 1) notes.push(`${trace.attempts} attempts`)
    if (expect.attempts !== undefined && trace.attempts !== expect.attempts) {
      problems.push(`${trace.attempts} connect attempt(s), expected ${expect.attempts}`)
    }
    if (expect.log !== undefined && !sink.contains(expect.log)) problems.push(`no log line with "${expect.log}"`)
    for (const error of trace.errors) {
      if (labelOf(error).startsWith("untyped")) problems.push(`an untyped error: ${String(error)}`)
    }
    if (leaks.length > 0) problems.push(`leaks: ${leaks.join("; ")}`)
    return {
      fault: c.fault,
      transport,
      expected: expect.or === undefined ? expect.outcome : `${expect.outcome} | ${expect.or}`,
      outcome,
      millis: Math.round(driven.millis),
      virtual,
      leaks,
      executions: formatExecutions(executions),
      notes,
      problems,
      knownBug: bug,
      secret: { logLines: sink.lines, spans: spanCount, reached },
      warnings: process.env.MCP_RELIABILITY_DEBUG ? [...sink.seen] : [...sink.warnings]
    } satisfies Row
  })
  return run
}

/** Handles now above `baseline`, without waiting: for the summary of whole suites. */
export const handlesAbove = excess
