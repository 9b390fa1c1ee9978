/**
 * MCP servers that misbehave on cue, for testing programs against them: a script says what happens over time
 * (down for the first connects, slow answers, a crash on the Kth call, a tool list that changes, HTTP errors) and
 * live stats say what the server saw. The same server runs in memory, as a stdio child process, or over Streamable
 * HTTP on 127.0.0.1.
 *
 * Tools: `echo { text }` (read-only), `add { a, b }` (read-only, idempotent, structured `{ sum }`),
 * `counter {}` (not idempotent, structured `{ count }` = its executions so far), `fail { message? }` (answers
 * `isError: true`); any other name in `tools` is an echo-like tool answering `"<name>: <text>"`.
 *
 * @since 0.1.0
 */
import { McpServerConfig } from "@mcp-resilience/client"
import type { Server } from "@modelcontextprotocol/sdk/server/index.js"
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import {
  admit,
  createFlakyServer,
  createStore,
  entry,
  type Host,
  initialStats,
  type NormalizedScript,
  normalizeScript,
  type RawScript,
  type RawStats,
  readStateFile,
  SCRIPT_ENV
} from "../bin/flaky-core.mjs"
import { startHttp } from "./internal/httpHost.js"
import * as Processes from "./Processes.js"

/**
 * What the server does over time. Calls count `tools/call` requests from 1 over the server's life, across
 * connections and (for stdio) processes.
 *
 * - `name`: the server's name (serverInfo and config), default `"flaky"`.
 * - `downForConnects`: the first N connection attempts fail: in memory the connect is refused
 *   (`McpConnectError` `Refused`), a stdio child exits with code 1 before the handshake (`Closed`), HTTP answers
 *   the `initialize` POST with 503 (`Http`).
 * - `handshakeDelay`: `initialize` is answered this late (for attempt timeouts).
 * - `delay`: every tool answer waits this long (cancellable).
 * - `crashOnCall`: the Kth call (or each of several) crashes the server before the tool runs: every live
 *   connection closes (the stdio child exits with code 3; HTTP sessions are dropped and sockets destroyed). The
 *   next connect finds it up again.
 * - `tools`: the tools offered at first, default `["echo", "add", "counter", "fail"]`.
 * - `toolsAfter`: once call `calls` has been answered, the tools become `tools` and every live connection gets
 *   `notifications/tools/list_changed`.
 *
 * Delays run on Effect's Clock in process (in memory and HTTP: a `TestClock` drives them), on the real clock in a
 * stdio child.
 *
 * @example
 * ```ts
 * import type { FlakyServer } from "@mcp-resilience/testing"
 *
 * const script: FlakyServer.Script = {
 *   downForConnects: 2,
 *   delay: "100 millis",
 *   crashOnCall: 3,
 *   toolsAfter: { calls: 5, tools: ["echo", "search"] }
 * }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Script {
  readonly name?: string | undefined
  readonly downForConnects?: number | undefined
  readonly handshakeDelay?: Duration.DurationInput | undefined
  readonly delay?: Duration.DurationInput | undefined
  readonly crashOnCall?: number | ReadonlyArray<number> | undefined
  readonly tools?: ReadonlyArray<string> | undefined
  readonly toolsAfter?: { readonly calls: number; readonly tools: ReadonlyArray<string> } | undefined
}

/**
 * A script for an HTTP server, which can also answer with an HTTP status: the first `first` POSTs (default all)
 * get `code` with a JSON-RPC error body, a `Retry-After: retryAfter` header when given (seconds, or an HTTP date),
 * and `WWW-Authenticate` for 401. `McpClient` reports 401/403 as `McpAuthError`, others as `McpConnectError`
 * `Http` with the status and the `Retry-After`.
 *
 * @example
 * ```ts
 * import type { FlakyServer } from "@mcp-resilience/testing"
 *
 * const busy: FlakyServer.HttpScript = { status: { code: 503, retryAfter: 2, first: 1 } }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface HttpScript extends Script {
  readonly status?: {
    readonly code: number
    readonly retryAfter?: number | string | undefined
    readonly first?: number | undefined
  } | undefined
}

/**
 * What a flaky server saw.
 *
 * - `connects`: connection attempts that reached it (in memory: connects; stdio: process starts; HTTP: `initialize`
 *   POSTs not answered by `status`), refused ones included; `connectTimes` their times in epoch milliseconds by
 *   the server's clock (Effect's Clock in process, so virtual under `TestClock`).
 * - `refused`: attempts refused by `downForConnects`.
 * - `calls`: `tools/call` requests received; `executions`: tool runs by tool name (a crashed call does not run).
 * - `crashes`, `toolListChanges`, `statusAnswers`: scripted events that happened.
 *
 * @example
 * ```ts
 * import type { FlakyServer } from "@mcp-resilience/testing"
 *
 * const ranTwice = (stats: FlakyServer.Stats) => stats.executions["counter"] === 2
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  readonly connects: number
  readonly refused: number
  readonly connectTimes: ReadonlyArray<number>
  readonly calls: number
  readonly executions: Readonly<Record<string, number>>
  readonly crashes: number
  readonly toolListChanges: number
  readonly statusAnswers: number
}

/**
 * A running flaky server: the config to connect to it, a snapshot of its stats, and a crash on demand (every live
 * connection closes; stdio children are killed).
 *
 * @example
 * ```ts
 * import type { McpServerConfig } from "@mcp-resilience/client"
 * import type { FlakyServer } from "@mcp-resilience/testing"
 *
 * const connects = (server: FlakyServer.FlakyServer<McpServerConfig.McpServerConfig>) => server.stats().connects
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface FlakyServer<Config extends McpServerConfig.McpServerConfig> {
  readonly config: Config
  readonly stats: () => Stats
  readonly crash: () => void
}

/**
 * A flaky server over Streamable HTTP at `url` (`http://127.0.0.1:<port>/mcp`).
 *
 * @example
 * ```ts
 * import type { FlakyServer } from "@mcp-resilience/testing"
 *
 * const endpoint = (server: FlakyServer.HttpServer) => `${server.url} (port ${server.port})`
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface HttpServer extends FlakyServer<McpServerConfig.Http> {
  readonly url: string
  readonly port: number
}

/**
 * A flaky server run as a stdio child per connection; `pids()` lists its live processes, `stateFile` holds the
 * counters shared by its processes.
 *
 * @example
 * ```ts
 * import type { FlakyServer } from "@mcp-resilience/testing"
 *
 * const leftovers = (server: FlakyServer.StdioServer) => server.pids().length
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface StdioServer extends FlakyServer<McpServerConfig.Stdio> {
  readonly stateFile: string
  readonly pids: () => ReadonlyArray<number>
}

const millisOf = (d: Duration.DurationInput | undefined): number | undefined =>
  d === undefined ? undefined : Duration.toMillis(Duration.decode(d))

/** The script as plain JSON data, durations in milliseconds; throws on a bad field. */
const toRaw = (script: HttpScript): NormalizedScript => {
  const raw: RawScript = {
    name: script.name,
    downForConnects: script.downForConnects,
    handshakeDelayMs: millisOf(script.handshakeDelay),
    delayMs: millisOf(script.delay),
    crashOnCall: script.crashOnCall,
    tools: script.tools,
    toolsAfter: script.toolsAfter,
    status: script.status
  }
  return normalizeScript(raw)
}

const snapshot = (state: RawStats): Stats => {
  const { pids: _pids, ...stats } = structuredClone(state)
  return stats
}

/** A host running on the caller's runtime: delays on its Clock, times from its Clock. */
const inProcessHost = (runtime: Runtime.Runtime<never>) => {
  const runPromise = Runtime.runPromise(runtime)
  const clock = Runtime.runSync(runtime)(Effect.clock)
  const servers = new Set<Server>()
  const host: Host & { readonly servers: Set<Server>; readonly crash: () => void } = {
    store: createStore(),
    servers,
    sleep: (ms, signal) => runPromise(Effect.sleep(Duration.millis(ms)), signal === undefined ? {} : { signal }),
    crash: () => {
      for (const server of [...servers]) server.close().catch(() => {})
    }
  }
  return { host, now: () => clock.unsafeCurrentTimeMillis() }
}

/**
 * A flaky server in this process, reached through `McpServerConfig.inMemory`: no I/O, and every delay runs on the
 * Clock of the Effect that creates it, so a test under `TestClock` controls all time. Fails (as a defect) on a bad
 * script.
 *
 * @example
 * ```ts
 * import { McpClient } from "@mcp-resilience/client"
 * import { RetryPolicy } from "@mcp-resilience/policy"
 * import { FlakyServer, VirtualTime } from "@mcp-resilience/testing"
 * import { Effect } from "effect"
 *
 * const policy = RetryPolicy.make({ base: "1 second", jitter: "none" })
 * const program = Effect.gen(function*() {
 *   const server = yield* FlakyServer.inMemory({ downForConnects: 2 })
 *   const result = yield* VirtualTime.run(Effect.scoped(McpClient.make(server.config, { policy })))
 *   return { connects: server.stats().connects, virtualMillis: result.virtualMillis } // 3, 3000
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const inMemory = (script: Script = {}): Effect.Effect<FlakyServer<McpServerConfig.InMemory>> =>
  Effect.gen(function*() {
    const normalized = toRaw(script)
    const runtime = yield* Effect.runtime<never>()
    const { host, now } = inProcessHost(runtime)
    const config = McpServerConfig.inMemory({
      name: normalized.name,
      connect: async (transport: Transport) => {
        const { admitted, message } = admit(host.store, normalized, now())
        if (!admitted) throw new Error(`${normalized.name}: ${message}`)
        await createFlakyServer(normalized, host).connect(transport)
      }
    })
    return { config, stats: () => snapshot(host.store.state), crash: () => host.crash() }
  })

/**
 * A flaky server over Streamable HTTP on 127.0.0.1 at an ephemeral port, one SDK transport per session. Closing
 * the scope drops every session, destroys every socket and stops listening. Delays run on the Clock of the
 * Effect that starts it (use `it.live`: the client's side is real I/O).
 *
 * @example
 * ```ts
 * import { McpClient } from "@mcp-resilience/client"
 * import { FlakyServer } from "@mcp-resilience/testing"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const server = yield* FlakyServer.http({ status: { code: 401 } })
 *   return yield* Effect.flip(McpClient.make(server.config)) // McpAuthError (HTTP 401)
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const http = (script: HttpScript = {}): Effect.Effect<HttpServer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const normalized = toRaw(script)
    const runtime = yield* Effect.runtime<never>()
    const { host, now } = inProcessHost(runtime)
    const listening = yield* Effect.acquireRelease(
      Effect.promise(() => startHttp(normalized, host, now)),
      (server) => Effect.promise(() => server.close())
    )
    return {
      url: listening.url,
      port: listening.port,
      config: McpServerConfig.http({ name: normalized.name, url: listening.url }),
      stats: () => snapshot(host.store.state),
      crash: listening.crash
    }
  })

const removeStateFiles = (stateFile: string): void => {
  const dir = path.dirname(stateFile)
  const base = path.basename(stateFile)
  for (const name of fs.readdirSync(dir)) {
    if (name === base || (name.startsWith(`${base}.`) && name.endsWith(".tmp"))) {
      fs.rmSync(path.join(dir, name), { force: true })
    }
  }
}

/**
 * A flaky server run as a stdio child process (`node bin/flaky-server.mjs --state <file>`, the script in the
 * environment variable `MCP_FLAKY_SCRIPT`); every connect starts a new process, and the counters live in a temp
 * state file so they survive crashes and restarts. Delays are real time. Closing the scope kills any process of
 * this server still alive (the client normally stops it first) and removes the state file.
 *
 * @example
 * ```ts
 * import { McpClient } from "@mcp-resilience/client"
 * import { RetryPolicy } from "@mcp-resilience/policy"
 * import { FlakyServer } from "@mcp-resilience/testing"
 * import { Effect } from "effect"
 *
 * const policy = RetryPolicy.make({ base: "20 millis", jitter: "none" })
 * const program = Effect.gen(function*() {
 *   const server = yield* FlakyServer.stdio({ downForConnects: 1 })
 *   const client = yield* McpClient.make(server.config, { policy })
 *   return { attempts: client.attempts, pid: client.pid } // 2 attempts
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const stdio = (script: Script = {}): Effect.Effect<StdioServer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const normalized = toRaw(script)
    const stateFile = path.join(os.tmpdir(), `mcp-flaky-${process.pid}-${randomUUID()}.json`)
    const pids = () => readStateFile(stateFile).pids.filter(Processes.isLive)
    const kill = () => {
      for (const pid of pids()) {
        try {
          process.kill(pid, "SIGKILL")
        } catch {
          // already gone
        }
      }
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => fs.writeFileSync(stateFile, JSON.stringify(initialStats()))),
      () =>
        Effect.sync(() => {
          kill()
          removeStateFiles(stateFile)
        })
    )
    const config = McpServerConfig.stdio({
      name: normalized.name,
      command: process.execPath,
      args: [entry, "--state", stateFile],
      env: { [SCRIPT_ENV]: JSON.stringify(normalized) },
      shutdownGraceMillis: 1_000
    })
    return { config, stateFile, pids, stats: () => snapshot(readStateFile(stateFile)), crash: kill }
  })
