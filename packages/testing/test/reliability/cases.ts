/**
 * The reliability matrix: one entry per fault, the transports it applies to, the server that produces it, what the
 * program does, and what must happen. `harness.ts` runs them; `matrix.test.ts` turns them into tests and the table.
 *
 * Conventions: `counter` is the non-idempotent tool (the server counts every execution, by call id where it can);
 * `echo` is read-only. Live rows (stdio, HTTP) use `livePolicy` (4 attempts, 20 ms base, no jitter) and a 3 s call
 * timeout; memory rows run under TestClock with `virtualPolicy` (4 attempts, 1 s / 2 s / 4 s, 5 s per attempt) and a
 * 5 s call timeout, so their times are exact virtual milliseconds. Live bounds (`within`) are deliberately loose: they
 * catch hangs, not slowness, on a busy 2-core machine.
 */
import { McpServerConfig } from "@mcp-resilience/client"
import { RetryPolicy } from "@mcp-resilience/policy"
import type { FaultyTransport } from "@mcp-resilience/testing"
import { Duration, Effect, Scope } from "effect"
import type { ChaosHttp } from "./chaos-server.mjs"
import { startChaosHttp } from "./chaos-server.mjs"
import {
  allTransports,
  type Case,
  type Ctx,
  type Env,
  isVirtual,
  livePolicy,
  type TransportKind,
  virtualPolicy
} from "./harness.js"
import { realSleep } from "./leaks.js"
import { chaos, chaosProcess, faulty, fixture, flaky, freePort } from "./servers.js"

const live = (t: TransportKind) => !isVirtual(t)
/** A call timeout: short on the live clock, round in virtual time. */
const timeout = (t: TransportKind, liveMillis = 300): Duration.DurationInput =>
  live(t) ? Duration.millis(liveMillis) : Duration.seconds(5)
const num = (u: unknown) => (typeof u === "number" ? u : 0)

/** Adds fields computed from the env (e.g. an interruption condition that reads the server's state). */
const withEnv = (
  setup: Effect.Effect<Env, never, Scope.Scope>,
  f: (env: Env) => Partial<Env>
): Effect.Effect<Env, never, Scope.Scope> => Effect.map(setup, (env) => ({ ...env, ...f(env) }))

const executed = (env: Env, tool: string) => (env.executions()[tool] ?? 0) > 0

/** An HTTP address where nothing listens. */
const refusedHttp = (_ctx: Ctx): Effect.Effect<Env, never, Scope.Scope> =>
  Effect.map(Effect.promise(freePort), (port) => ({
    server: McpServerConfig.http({ name: "nobody", url: `http://127.0.0.1:${port}/mcp` }),
    executions: () => ({})
  }))

/** The chaos server over HTTP, listening only `delayMillis` after the program starts. */
const lateHttp = (ctx: Ctx, delayMillis: number): Effect.Effect<Env, never, Scope.Scope> =>
  Effect.gen(function*() {
    const port = yield* Effect.promise(freePort)
    const scope = yield* Effect.scope
    let server: ChaosHttp | undefined
    yield* Effect.forkScoped(
      realSleep(delayMillis).pipe(
        Effect.zipRight(
          Effect.acquireRelease(
            Effect.promise(() => startChaosHttp({}, { port, token: ctx.secret })),
            (s) => Effect.promise(() => s.close())
          )
        ),
        Effect.tap((s) => Effect.sync(() => (server = s))),
        Scope.extend(scope)
      )
    )
    return {
      server: McpServerConfig.http({ name: "late", url: `http://127.0.0.1:${port}/mcp` }),
      executions: () => server?.store.state.executions ?? {},
      openSessions: () => server?.openSessions() ?? 0,
      sawSecret: () => server?.store.state.sawToken ?? false
    } satisfies Env
  })

const retryAfterAtConnect = (code: number, retryAfter: number | undefined): Case => ({
  fault: `${code} on connect ${retryAfter === undefined ? "without" : "with"} Retry-After`,
  transports: ["http"],
  setup: (ctx) => flaky(ctx, { status: { code, first: 1, ...(retryAfter === undefined ? {} : { retryAfter }) } }),
  steps: [{ call: "echo" }],
  expect: {
    outcome: "ok",
    attempts: 2,
    within: retryAfter === undefined ? "5 seconds" : "8 seconds",
    ...(retryAfter === undefined ? {} : { atLeast: `${retryAfter} seconds` }),
    stats: { statusAnswers: 1 }
  }
})

const auth = (code: 401 | 403): Case => ({
  fault: `${code} ${code === 401 ? "Unauthorized" : "Forbidden"}`,
  transports: ["http"],
  setup: (ctx) => flaky(ctx, { status: { code } }),
  steps: [{ call: "echo" }],
  // never retried: the server answered exactly once
  expect: { outcome: `McpAuthError.Rejected(${code})`, within: "3 seconds", stats: { statusAnswers: 1 } }
})

export const cases: ReadonlyArray<Case> = [
  // ---------------------------------------------------------------------------------------------------------------
  // Connecting
  // ---------------------------------------------------------------------------------------------------------------
  {
    fault: "server not started yet",
    transports: allTransports,
    setup: (ctx) =>
      ctx.transport === "stdio"
        ? fixture(ctx, { refuseFirst: 2 }) // exits 1 before reading stdin, twice
        : ctx.transport === "http"
        ? lateHttp(ctx, 300) // ECONNREFUSED until it listens
        : flaky(ctx, { downForConnects: 2 }),
    options: (t) => (t === "http" ? { policy: RetryPolicy.make({ ...livePolicy, maxAttempts: 10 }) } : {}),
    steps: [{ call: "echo" }],
    expect: (t) =>
      t === "memory"
        ? { outcome: "ok", attempts: 3, atLeast: "3 seconds", within: "3 seconds" }
        : t === "stdio"
        ? { outcome: "ok", attempts: 3, within: "10 seconds" }
        : { outcome: "ok", atLeast: "300 millis", within: "5 seconds" }
  },
  {
    fault: "connection refused",
    transports: ["http", "memory"],
    setup: (ctx) =>
      ctx.transport === "http" ? refusedHttp(ctx) : Effect.map(flaky(ctx), faulty([{ fault: "failStart" }])),
    steps: [{ call: "echo" }],
    expect: (t) =>
      t === "memory"
        ? { outcome: "McpConnectError.Refused", atLeast: "7 seconds", within: "7 seconds" }
        : { outcome: "McpConnectError.Refused", within: "5 seconds" }
  },
  {
    fault: "command not found",
    transports: ["stdio"],
    setup: (ctx) =>
      Effect.succeed({
        server: McpServerConfig.stdio({ name: "missing", command: `/nonexistent/${ctx.marker}` }),
        executions: () => ({})
      }),
    steps: [{ call: "echo" }],
    // ENOENT is not transient: one attempt, no waits
    expect: { outcome: "McpConnectError.Spawn", within: "2 seconds" }
  },
  {
    fault: "crash before initialize",
    transports: allTransports,
    setup: (ctx) => chaos(ctx, { initialize: "crash" }),
    steps: [{ call: "echo" }],
    expect: (t) =>
      t === "memory"
        ? { outcome: "McpConnectError.Closed", atLeast: "7 seconds", within: "7 seconds" }
        : { outcome: "McpConnectError.Closed", within: "8 seconds" }
  },
  {
    fault: "hang in initialize",
    transports: allTransports,
    setup: (ctx) =>
      ctx.transport === "memory" ? flaky(ctx, { handshakeDelay: "1 hour" }) : fixture(ctx, { hangInitialize: true }),
    options: (
      t
    ) => (live(t) ? { policy: RetryPolicy.make({ ...livePolicy, maxAttempts: 2, attemptTimeout: "300 millis" }) } : {}),
    steps: [{ call: "echo" }],
    // memory: 4 attempts of 5 s and waits of 1, 2 and 4 s
    expect: (t) =>
      t === "memory"
        ? { outcome: "McpTimeoutError", atLeast: "27 seconds", within: "27 seconds" }
        : { outcome: "McpTimeoutError", atLeast: "600 millis", within: "5 seconds" }
  },

  // ---------------------------------------------------------------------------------------------------------------
  // During a call
  // ---------------------------------------------------------------------------------------------------------------
  {
    fault: "crash mid-call",
    transports: allTransports,
    setup: (ctx) =>
      ctx.transport === "memory" ? flaky(ctx, { crashOnCall: 1 }) : fixture(ctx, { exitOnCall: "counter" }),
    steps: (t) => [{ call: "counter", timeout: timeout(t, 1_000) }, { call: "echo" }],
    expect: (t) => ({
      outcome: "McpConnectError.Closed → ok",
      maybeExecuted: true,
      // FlakyServer crashes before the tool runs; the fixture after
      executions: { counter: t === "memory" ? 0 : 1 },
      sessions: t === "http" ? 1 : 2,
      within: t === "memory" ? "1 second" : "10 seconds"
    })
  },
  {
    fault: "hang mid-call",
    transports: allTransports,
    setup: (ctx) => (ctx.transport === "memory" ? chaos(ctx, { every: "hang" }) : fixture(ctx, { delayMs: 30_000 })),
    steps: (t) => [{ call: "counter", timeout: timeout(t) }],
    expect: (t) => ({
      outcome: "McpTimeoutError",
      maybeExecuted: true,
      cancelled: true,
      executions: { counter: 1 },
      ...(t === "memory"
        ? { atLeast: "5 seconds", within: "5 seconds" }
        : { atLeast: "300 millis", within: "5 seconds" })
    })
  },
  {
    fault: "slow answers within the deadline",
    transports: allTransports,
    setup: (ctx) =>
      ctx.transport === "memory"
        ? Effect.map(
          flaky(ctx),
          faulty([{ fault: "delay", direction: "receive", method: "tools/call", delay: "2 seconds" }])
        )
        : fixture(ctx, { delayMs: 200 }),
    steps: [{ call: "counter" }],
    expect: (t) => ({
      outcome: "ok",
      executions: { counter: 1 },
      ...(t === "memory"
        ? { atLeast: "2 seconds", within: "2 seconds" }
        : { atLeast: "200 millis", within: "8 seconds" })
    })
  },
  {
    fault: "lost answer to a read-only call",
    transports: allTransports,
    setup: (ctx) =>
      Effect.map(flaky(ctx), faulty([{ fault: "drop", direction: "receive", method: "tools/call", times: 1 }])),
    steps: (t) => [{ call: "echo", args: { text: "again" }, timeout: timeout(t) }],
    // read-only: retried after the timeout, so it ran twice, which is allowed
    expect: (t) => ({
      outcome: "ok",
      executions: { echo: 2 },
      ...(t === "memory"
        ? { atLeast: "5 seconds", within: "6 seconds" }
        : { atLeast: "300 millis", within: "8 seconds" })
    })
  },
  {
    fault: "lost request (non-idempotent call)",
    transports: allTransports,
    setup: (ctx) =>
      Effect.map(flaky(ctx), faulty([{ fault: "drop", direction: "send", method: "tools/call", times: 1 }])),
    steps: (t) => [{ call: "counter", timeout: timeout(t) }],
    // the client cannot know that the request was lost: at most once, and it says the tool may have run
    expect: (t) => ({
      outcome: "McpTimeoutError",
      maybeExecuted: true,
      executions: { counter: 0 },
      within: t === "memory" ? "5 seconds" : "8 seconds"
    })
  },
  {
    fault: "invalid JSON on the wire",
    transports: ["stdio", "http"],
    setup: (ctx) =>
      ctx.transport === "stdio"
        ? fixture(ctx, { invalidJson: true, invalidJsonAtStart: true }) // `{not json` lines on stdout
        : chaos(ctx, { calls: ["invalidJson"] }), // an SSE event whose data is `{not json`
    steps: [{ call: "counter" }],
    expect: (t) => ({
      outcome: "ok",
      executions: { counter: 1 },
      within: "8 seconds",
      ...(t === "stdio" ? { log: "ignored a line on stdout" } : {})
    })
  },
  {
    fault: "a message that is not JSON-RPC",
    transports: allTransports,
    setup: (ctx) => chaos(ctx, { calls: ["notJsonRpc"] }),
    steps: [{ call: "counter" }],
    expect: { outcome: "ok", executions: { counter: 1 }, within: "5 seconds" }
  },
  {
    fault: "valid message, wrong result shape",
    transports: allTransports,
    setup: (ctx) => chaos(ctx, { calls: ["wrongShape"] }),
    steps: [{ call: "counter" }, { call: "echo" }],
    expect: { outcome: "McpProtocolError → ok", executions: { counter: 1 }, within: "5 seconds" }
  },
  {
    fault: "oversized message (12 MiB)",
    transports: allTransports,
    setup: (ctx) => chaos(ctx, { calls: ["oversized"] }),
    // the size is under test, not the speed: reading 12 MiB through the SDK's SSE parser takes over a second, and
    // more than the 3 s default call timeout on a busy 2-core machine
    steps: [{ call: "counter", timeout: "15 seconds" }, { call: "echo" }],
    // stdio: past the SDK's 10 MiB read buffer the client kills the child and reconnects; http: past
    // maxMessageBytes (10 MiB by default) the answer fails as a protocol error and the session goes on;
    // memory has no bytes to count
    expect: (t) =>
      t === "stdio"
        ? { outcome: "McpConnectError.Closed → ok", maybeExecuted: true, sessions: 2, within: "8 seconds" }
        : t === "http"
        ? { outcome: "McpProtocolError → ok", executions: { counter: 1 }, within: "15 seconds" }
        : { outcome: "ok → ok", executions: { counter: 1 }, within: "15 seconds" }
  },
  {
    fault: "stderr flood at start (20,000 lines)",
    transports: ["stdio"],
    setup: (ctx) => fixture(ctx, { stderrFlood: 20_000 }),
    steps: [{ call: "echo" }],
    expect: { outcome: "ok", within: "10 seconds" }
  },
  {
    fault: "stderr flood during a call (20,000 lines)",
    transports: ["stdio"],
    setup: (ctx) => chaos(ctx, { stderrLines: 20_000 }),
    steps: [{ call: "counter" }],
    expect: { outcome: "ok", executions: { counter: 1 }, within: "10 seconds" }
  },
  {
    fault: "connection reset mid-stream",
    transports: allTransports,
    // half a message, then the connection drops (stdio: the child exits; HTTP: the socket is destroyed)
    setup: (ctx) => chaos(ctx, { calls: ["cut"] }),
    steps: (t) => [{ call: "counter", timeout: timeout(t, 1_000) }, { call: "echo" }],
    expect: (t) => ({
      outcome: "McpConnectError.Closed → ok",
      maybeExecuted: true,
      executions: { counter: 1 },
      within: t === "memory" ? "1 second" : "8 seconds"
    })
  },
  {
    // the raw SDK keeps a 2 s deadline within 2.0–2.15 s under the same flood; 10 % is the bound
    fault: "notification flood during a hanging call",
    transports: ["stdio", "http"],
    // over HTTP in a process of its own: a server in this process would flood our own event loop
    setup: (ctx) => chaosProcess(ctx, { every: "flood" }),
    steps: [{ call: "counter", timeout: "2 seconds" }],
    expect: {
      outcome: "McpTimeoutError",
      maybeExecuted: true,
      executions: { counter: 1 },
      callTook: { atLeast: "2 seconds", within: "2200 millis" },
      within: "10 seconds"
    }
  },
  {
    fault: "duplicate responses",
    transports: allTransports,
    setup: (ctx) => chaos(ctx, { calls: ["duplicate"] }),
    steps: [{ call: "counter" }, { call: "echo" }],
    expect: { outcome: "ok → ok", executions: { counter: 1 }, within: "5 seconds" }
  },
  {
    fault: "responses to unknown ids",
    transports: allTransports,
    setup: (ctx) => chaos(ctx, { calls: ["unknownId"] }),
    steps: [{ call: "counter" }, { call: "echo" }],
    expect: { outcome: "ok → ok", executions: { counter: 1 }, within: "5 seconds" }
  },
  {
    fault: "reordered responses",
    transports: allTransports,
    setup: (ctx) =>
      Effect.map(
        flaky(ctx),
        faulty([{ fault: "reorder", direction: "receive", kind: "response", method: "tools/call", times: 1 }])
      ),
    steps: [{ parallel: ["a", "b", "c"] }],
    expect: { outcome: "ok", executions: { echo: 3 }, within: "5 seconds" }
  },
  {
    fault: "tool list change during a call",
    transports: allTransports,
    setup: (ctx) => chaos(ctx, { calls: ["listChanged"] }),
    steps: [{ call: "echo" }, { waitForTool: "late_tool", within: "2 seconds" }, { call: "late_tool" }],
    expect: { outcome: "ok → seen → ok", sessions: 1, within: "5 seconds" }
  },
  {
    fault: "tool answers isError",
    transports: allTransports,
    setup: (ctx) => flaky(ctx),
    steps: [{ call: "fail", args: { message: "no such city" } }],
    expect: { outcome: "McpToolError.IsError", executions: { fail: 1 }, within: "5 seconds" }
  },
  {
    fault: "unknown tool",
    transports: allTransports,
    setup: (ctx) => flaky(ctx),
    steps: [{ call: "nope" }],
    expect: { outcome: "McpToolError.UnknownTool", within: "5 seconds" }
  },

  // ---------------------------------------------------------------------------------------------------------------
  // HTTP statuses
  // ---------------------------------------------------------------------------------------------------------------
  auth(401),
  auth(403),
  {
    fault: "404 on the session",
    transports: ["http"],
    // the server forgot the session: the call is repeated on a new session, where it runs once
    setup: (ctx) => chaos(ctx, { calls: ["sessionGone"] }),
    steps: [{ call: "counter" }],
    expect: { outcome: "ok", sessions: 2, executions: { counter: 1 }, within: "5 seconds" }
  },
  retryAfterAtConnect(429, 1),
  retryAfterAtConnect(429, undefined),
  retryAfterAtConnect(503, 1),
  retryAfterAtConnect(503, undefined),
  retryAfterAtConnect(500, undefined),
  {
    fault: "429 on a call with Retry-After",
    transports: ["http"],
    // a 429 means the request was not processed: safe to repeat, after the wait the server asked for
    setup: (ctx) => chaos(ctx, { calls: [{ status: 429, retryAfter: 1 }] }),
    steps: [{ call: "counter" }],
    expect: { outcome: "ok", executions: { counter: 1 }, atLeast: "1 second", within: "5 seconds" }
  },
  {
    fault: "503 on a call (non-idempotent)",
    transports: ["http"],
    setup: (ctx) => chaos(ctx, { calls: [{ status: 503 }] }),
    steps: [{ call: "counter" }, { call: "echo" }],
    expect: {
      outcome: "McpConnectError.Http(503) → ok",
      maybeExecuted: true,
      executions: { counter: 0 },
      within: "5 seconds"
    }
  },
  {
    fault: "503 on a read-only call with Retry-After",
    transports: ["http"],
    setup: (ctx) => chaos(ctx, { calls: [{ status: 503, retryAfter: 1 }] }),
    steps: [{ call: "echo" }],
    expect: { outcome: "ok", executions: { echo: 1 }, atLeast: "1 second", within: "5 seconds" }
  },
  {
    fault: "500 on a call",
    transports: ["http"],
    setup: (ctx) => chaos(ctx, { calls: [{ status: 500 }] }),
    steps: [{ call: "counter" }],
    expect: {
      outcome: "McpConnectError.Http(500)",
      maybeExecuted: true,
      executions: { counter: 0 },
      within: "5 seconds"
    }
  },

  // ---------------------------------------------------------------------------------------------------------------
  // A session lost and replaced
  // ---------------------------------------------------------------------------------------------------------------
  {
    fault: "server crashes between calls",
    transports: allTransports,
    setup: (ctx) => flaky(ctx),
    steps: [{ call: "echo" }, { crashServer: true }, { sleep: "50 millis" }, { call: "echo" }],
    expect: (t) => ({ outcome: "ok → ok", sessions: 2, within: t === "memory" ? "1 second" : "10 seconds" })
  },
  {
    fault: "server stops answering pings",
    transports: allTransports,
    setup: (ctx) => Effect.map(flaky(ctx), faulty([{ fault: "drop", direction: "send", method: "ping", times: 2 }])),
    options: (t) => ({
      health: live(t)
        ? { interval: "100 millis", timeout: "50 millis", misses: 2 }
        : { interval: "1 second", timeout: "500 millis", misses: 2 }
    }),
    steps: (t) => [{ sleep: live(t) ? "400 millis" : "3 seconds" }, { call: "echo" }],
    // memory: the second ping times out at 2.5 s and the new session is up at once
    expect: (t) => ({ outcome: "ok", sessions: 2, within: t === "memory" ? "3 seconds" : "10 seconds" })
  },

  // ---------------------------------------------------------------------------------------------------------------
  // Shutdown
  // ---------------------------------------------------------------------------------------------------------------
  {
    fault: "server exits during shutdown",
    transports: ["stdio", "http"],
    // stdio: exits 7 as soon as stdin closes; HTTP: the DELETE's connection is reset
    setup: (ctx) => chaos(ctx, { shutdown: ctx.transport === "stdio" ? "exit" : "reset" }),
    steps: [{ call: "counter" }],
    expect: { outcome: "ok", executions: { counter: 1 }, within: "5 seconds" }
  },
  {
    fault: "server ignores shutdown",
    transports: allTransports,
    // stdio: ignores stdin's end and SIGTERM (only SIGKILL ends it); HTTP: never answers the DELETE; memory: its
    // transport never finishes closing
    setup: (ctx) =>
      ctx.transport === "stdio"
        ? fixture(ctx, { ignoreStdinClose: true, ignoreSigterm: true })
        : chaos(ctx, { shutdown: "hang" }),
    steps: [{ call: "echo" }],
    // stdio: two grace periods of 300 ms, then SIGKILL; HTTP and memory: each close step is bounded by 2 s
    expect: (t) =>
      t === "stdio"
        ? { outcome: "ok", atLeast: "600 millis", within: "6 seconds" }
        : t === "http"
        ? { outcome: "ok", atLeast: "2 seconds", within: "6 seconds" }
        : { outcome: "ok", atLeast: "2 seconds", within: "2 seconds" }
  },

  // ---------------------------------------------------------------------------------------------------------------
  // Interruption, in each phase
  // ---------------------------------------------------------------------------------------------------------------
  {
    fault: "interrupted while connecting",
    transports: allTransports,
    setup: (ctx) =>
      ctx.transport === "memory"
        ? withEnv(flaky(ctx, { handshakeDelay: "1 hour" }), () => ({ interruptWhen: (p) => p.elapsed >= 1_000 }))
        : withEnv(fixture(ctx, { hangInitialize: true }), (env) => {
          // 50 ms after the server got `initialize`: over HTTP the client then knows the session (the answer's
          // headers came at once, its body never does) and must DELETE it. Interrupted earlier, before those
          // headers arrived, the client never learns the session id and cannot delete it: only the server can
          // expire a session nobody finished opening, so that moment is not a client leak.
          let seenAt: number | undefined
          return {
            interruptWhen: (p) => {
              if (num(env.stats?.().initializeRequests) >= 1) seenAt ??= p.elapsed
              return seenAt !== undefined && p.elapsed - seenAt >= 50
            }
          }
        }),
    steps: [{ call: "echo" }],
    // memory: interrupted at 1 s of virtual time, in the first attempt's hour-long handshake
    expect: (t) => ({ outcome: "interrupted", within: t === "memory" ? "1 second" : "5 seconds" })
  },
  {
    fault: "interrupted during a backoff wait",
    transports: allTransports,
    setup: (ctx) =>
      ctx.transport === "stdio"
        ? withEnv(fixture(ctx, { refuseFirst: 100 }), (env) => ({
          interruptWhen: (p) => num(env.stats?.().refusals) >= 1 && p.elapsed > 200
        }))
        : ctx.transport === "http"
        ? withEnv(refusedHttp(ctx), () => ({ interruptWhen: (p) => p.elapsed > 200 }))
        : Effect.map(flaky(ctx), (env) => {
          const rules = faulty([{ fault: "failStart" }])(env)
          const starts = () => (rules.transports as FaultyTransport.FaultyTransports).stats.starts
          return { ...rules, interruptWhen: () => starts() >= 1 }
        }),
    options: (t) => ({
      policy: RetryPolicy.make({ ...(live(t) ? livePolicy : virtualPolicy), base: "10 seconds", cap: "10 seconds" })
    }),
    steps: [{ call: "echo" }],
    expect: (t) => ({ outcome: "interrupted", within: t === "memory" ? "0 millis" : "5 seconds" })
  },
  {
    fault: "interrupted mid-call",
    transports: allTransports,
    setup: (ctx) =>
      withEnv(chaos(ctx, { every: "hang" }), (env) => ({ interruptWhen: () => executed(env, "counter") })),
    steps: [{ call: "counter", timeout: "1 minute" }],
    expect: (t) => ({
      outcome: "interrupted",
      cancelled: true,
      executions: { counter: 1 },
      within: t === "memory" ? "0 millis" : "5 seconds"
    })
  },
  {
    fault: "interrupted while reconnecting",
    transports: allTransports,
    // the first session crashes on the first call; the next handshake hangs; the program is interrupted then
    setup: (ctx) =>
      withEnv(chaos(ctx, { initialize: ["ok", "hang"], calls: ["crashBefore"] }), (env) => ({
        interruptWhen: () => num(env.stats?.().initializes) >= 2
      })),
    steps: [{ call: "counter" }, { call: "echo", timeout: "1 minute" }],
    expect: (t) => ({
      outcome: "McpConnectError.Closed → interrupted",
      maybeExecuted: true,
      executions: { counter: 0 },
      within: t === "memory" ? "1 second" : "6 seconds"
    })
  },
  {
    fault: "program ends while the session is being replaced",
    transports: allTransports,
    // the second call crashes the server and is not retried (not idempotent); the program ends at once, while the
    // supervisor is starting the next session: the half-made session must be released too (no process, no fiber)
    setup: (ctx) => chaos(ctx, { calls: ["ok", "crash"] }),
    steps: [{ call: "echo" }, { call: "counter" }],
    expect: (t) => ({
      outcome: "ok → McpConnectError.Closed",
      maybeExecuted: true,
      executions: { echo: 1, counter: 1 },
      within: t === "memory" ? "1 second" : "5 seconds"
    })
  },
  {
    fault: "interrupted during shutdown",
    transports: allTransports,
    // a slow shutdown (as in "server ignores shutdown"), interrupted as it starts: release still completes
    setup: (ctx) =>
      withEnv(
        ctx.transport === "stdio"
          ? fixture(ctx, { ignoreStdinClose: true, ignoreSigterm: true })
          : chaos(ctx, { shutdown: "hang" }),
        () => ({ interruptWhen: (p) => p.phase === "shutdown" })
      ),
    steps: [{ call: "echo" }],
    expect: (t) => ({
      outcome: "ok → interrupted",
      or: "ok",
      ...(t === "stdio"
        ? { atLeast: "600 millis", within: "6 seconds" }
        : t === "http"
        ? { atLeast: "2 seconds", within: "6 seconds" }
        : { atLeast: "2 seconds", within: "2 seconds" })
    })
  }
]
