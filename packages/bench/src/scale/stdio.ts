/**
 * Stdio spawn/kill cycles against `packages/client/test/fixtures/tiny-server.mjs` (a dependency-free
 * MCP server that starts in milliseconds). Every child gets a marker argument unique to its batch;
 * after the batch, `/proc` is scanned for live processes whose command line holds the marker:
 * each one is an orphan.
 *
 * - close: connect, then close the scope (raw: `client.connect`, then `client.close()`);
 * - kill: one `McpTools` session; SIGKILL its child from outside and let supervision reconnect
 *   (wait for `Connected` with a new PID, then one `echo`). Raw: kill, wait for `onclose`, connect
 *   a new `Client` + `StdioClientTransport`, one `echo`;
 * - backoff: a server that always exits at once (`node -e "process.exit(1)" <marker>`) under a
 *   policy whose backoff is an hour; interrupt the connect while it waits. No raw counterpart (the
 *   SDK does not retry);
 * - handshake: a server that never answers (`node -e "setInterval(...)" <marker>`); interrupt the
 *   connect once the child is running. Release closes stdin, then SIGTERM after
 *   `shutdownGraceMillis` (100 here). No raw counterpart.
 */
import { McpClient, McpServerConfig, McpTools } from "@mcp-resilience/client"
import { RetryPolicy } from "@mcp-resilience/policy"
import { Processes } from "@mcp-resilience/testing"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { randomUUID } from "node:crypto"
import { fileURLToPath } from "node:url"
import { CLIENT_INFO } from "../servers.js"
import { median } from "../stats.js"
import { run } from "./run.js"

/** The tiny server's path. */
export const tinyServerPath: string = fileURLToPath(
  new URL("../../../client/test/fixtures/tiny-server.mjs", import.meta.url)
)

export const STDIO_SCENARIOS = ["close", "kill", "backoff", "handshake"] as const
export type StdioScenario = typeof STDIO_SCENARIOS[number]

export interface StdioSettings {
  /** Cycles of our side, per scenario. */
  readonly cycles: Readonly<Record<StdioScenario, number>>
  /** Cycles of the raw side of `close` and `kill`. */
  readonly rawCycles: number
}

export interface StdioResult {
  readonly scenario: StdioScenario
  readonly side: "raw" | "ours"
  readonly cycles: number
  readonly millis: number
  /** Median time of the part that matters: connect+close, kill to a working session, interrupt to done. */
  readonly medianMillis: number
  /** Live processes with the batch's marker once the batch is over. */
  readonly orphans: number
  /** Cycles that did not end as expected (a failed connect, an interrupt that did not interrupt). */
  readonly failures: number
}

const ECHO = { text: "hello" }

/** Every marker of this run starts with this, so that what is left can be found (and stopped) at the end. */
export const runMarker: string = `scale-${randomUUID().slice(0, 8)}`

/** A marker no other process has: `scale-<run>-<scenario>-<uuid>`. */
const marker = (scenario: string) => `${runMarker}-${scenario}-${randomUUID()}`

const tiny = (mark: string) =>
  McpServerConfig.stdio({
    name: "tiny",
    command: process.execPath,
    args: [tinyServerPath, mark],
    stderr: "ignore",
    shutdownGraceMillis: 100
  })

/** One attempt, no waiting: these scenarios are about cleanup, not retries. */
const oneAttempt = RetryPolicy.make({ maxAttempts: 1, attemptTimeout: "10 seconds", deadline: "10 seconds" })

const now = () => performance.now()

/** Runs `cycle` `n` times, then counts the marker's live processes. */
const batch = async (
  scenario: StdioScenario,
  side: "raw" | "ours",
  n: number,
  cycle: (mark: string) => Promise<{ readonly millis: number; readonly ok: boolean }>
): Promise<StdioResult> => {
  const mark = marker(scenario)
  const times: Array<number> = []
  let failures = 0
  const start = now()
  for (let i = 0; i < n; i++) {
    const { millis, ok } = await cycle(mark)
    times.push(millis)
    if (!ok) failures++
  }
  const millis = now() - start
  return {
    scenario,
    side,
    cycles: n,
    millis,
    medianMillis: median(times),
    orphans: Processes.mentioning(mark).length,
    failures
  }
}

const rawConnect = async (mark: string) => {
  const client = new Client(CLIENT_INFO)
  await client.connect(
    new StdioClientTransport({ command: process.execPath, args: [tinyServerPath, mark], stderr: "ignore" })
  )
  return client
}

const closeCycles = {
  raw: async (mark: string) => {
    const start = now()
    try {
      const client = await rawConnect(mark)
      await client.close()
      return { millis: now() - start, ok: true }
    } catch {
      return { millis: now() - start, ok: false }
    }
  },
  ours: async (mark: string) => {
    const start = now()
    const exit = await run(Effect.exit(Effect.scoped(McpClient.make(tiny(mark), { policy: oneAttempt }))))
    return { millis: now() - start, ok: Exit.isSuccess(exit) }
  }
}

/** Kill-and-reconnect: the session stays open over the whole batch; each cycle kills its child. */
const killBatch = {
  raw: async (n: number): Promise<StdioResult> => {
    let client: Client | undefined
    let mark = ""
    const result = await batch("kill", "raw", n, async (m) => {
      mark = m
      if (client === undefined) client = await rawConnect(m)
      const start = now()
      try {
        const closed = new Promise<void>((resolve) => (client!.onclose = resolve))
        process.kill((client.transport as StdioClientTransport).pid!, "SIGKILL")
        await closed
        client = await rawConnect(m)
        await client.callTool({ name: "echo", arguments: ECHO })
        return { millis: now() - start, ok: true }
      } catch {
        return { millis: now() - start, ok: false }
      }
    })
    await client?.close()
    return { ...result, orphans: Processes.mentioning(mark).length }
  },
  ours: (n: number): Promise<StdioResult> => {
    const mark = marker("kill")
    return run(Effect.scoped(Effect.gen(function*() {
      const tools = yield* McpTools.make({
        server: tiny(mark),
        policy: RetryPolicy.make({ base: "10 millis", cap: "100 millis", attemptTimeout: "10 seconds" }),
        // every session counts as long-lived: reconnect at once, no growing backoff between kills
        resetAfter: "0 millis"
      })
      const times: Array<number> = []
      let failures = 0
      const start = now()
      for (let i = 0; i < n; i++) {
        const pid = tools.client?.pid
        const t = now()
        if (pid === undefined) {
          failures++
          continue
        }
        process.kill(pid, "SIGKILL")
        const next = yield* tools.statusChanges.pipe(
          Stream.filter((status) => status._tag === "Connected" && status.pid !== pid),
          Stream.runHead,
          Effect.timeout("10 seconds"),
          Effect.option
        )
        const ok = Option.isSome(next) && Option.isSome(next.value) &&
          Exit.isSuccess(yield* Effect.exit(tools.call("echo", ECHO)))
        times.push(now() - t)
        if (!ok) failures++
      }
      return { times, failures, millis: now() - start }
    }))).then(({ failures, millis, times }) => ({
      scenario: "kill" as const,
      side: "ours" as const,
      cycles: n,
      millis,
      medianMillis: median(times),
      orphans: Processes.mentioning(mark).length,
      failures
    }))
  }
}

/**
 * Connect to `server` in a fiber; once it waits for a retry (`waitFor: "retry"`) or a process
 * with `mark` runs (`"spawned"`), interrupt it.
 */
const interruptCycle = (
  server: McpServerConfig.Stdio,
  policy: RetryPolicy.RetryPolicy,
  waitFor: "retry" | "spawned",
  mark: string
) =>
  run(Effect.gen(function*() {
    const waiting = yield* Deferred.make<void>()
    const fiber = yield* Effect.fork(Effect.scoped(McpClient.make(server, {
      policy,
      onRetry: () => Deferred.succeed(waiting, undefined)
    })))
    if (waitFor === "retry") {
      yield* Deferred.await(waiting)
    } else {
      // the child is running (it never answers, so the handshake is in flight)
      while (Processes.mentioning(mark).length === 0) yield* Effect.sleep("2 millis")
    }
    const start = now()
    const exit = yield* Fiber.interrupt(fiber)
    return { millis: now() - start, ok: Exit.isInterrupted(exit) }
  }))

const backoffPolicy = RetryPolicy.make({
  maxAttempts: 5,
  base: "1 hour",
  cap: "1 hour",
  jitter: "none",
  attemptTimeout: "10 seconds",
  deadline: "10 hours"
})

const backoffCycle = (mark: string) =>
  interruptCycle(
    McpServerConfig.stdio({
      name: "exits",
      command: process.execPath,
      args: ["-e", "process.exit(1)", mark],
      stderr: "ignore",
      shutdownGraceMillis: 100
    }),
    backoffPolicy,
    "retry",
    mark
  )

const handshakeCycle = (mark: string) =>
  interruptCycle(
    McpServerConfig.stdio({
      name: "silent",
      command: process.execPath,
      args: ["-e", "setInterval(() => {}, 1000)", mark],
      stderr: "ignore",
      shutdownGraceMillis: 100
    }),
    RetryPolicy.make({ maxAttempts: 1, attemptTimeout: "1 minute", deadline: "1 minute" }),
    "spawned",
    mark
  )

/** Every scenario in turn; `progress` gets one line per batch. */
export const measure = async (
  settings: StdioSettings,
  progress: (line: string) => void
): Promise<ReadonlyArray<StdioResult>> => {
  const results: Array<StdioResult> = []
  const add = (result: StdioResult) => {
    results.push(result)
    progress(
      `  ${result.scenario} (${result.side}): ${result.cycles} cycles in ${(result.millis / 1000).toFixed(1)} s, ` +
        `${result.orphans} orphan(s), ${result.failures} failure(s)`
    )
  }
  add(await batch("close", "raw", settings.rawCycles, closeCycles.raw))
  add(await batch("close", "ours", settings.cycles.close, closeCycles.ours))
  add(await killBatch.raw(settings.rawCycles))
  add(await killBatch.ours(settings.cycles.kill))
  add(await batch("backoff", "ours", settings.cycles.backoff, backoffCycle))
  add(await batch("handshake", "ours", settings.cycles.handshake, handshakeCycle))
  return results
}
