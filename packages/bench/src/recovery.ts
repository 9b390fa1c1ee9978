/**
 * Recovery time: from a server's return to the first successful call, against the delay the
 * connection schedule asked for.
 *
 * A living `McpTools` service (`McpTools.make`, what `McpTools.layer` builds) over stdio to the
 * client's fixture server. Each trial kills the server process while a caller keeps calling
 * `echo`, keeps the server down (every start exits while a marker file exists) for `outage` ms,
 * then brings it back by deleting the file. The supervisor's connect attempts fail meanwhile,
 * each followed by a jittered wait (reported through `onRetry`). Measured per trial, on the wall
 * clock:
 *
 * - **scheduled**: from the return to the start of the attempt that succeeded, as the schedule set
 *   it (the time of the `onRetry` before it plus its delay): the price of backing off;
 * - **lag**: from that scheduled start (or the return, if later) to the first successful call:
 *   what the library adds on top of the schedule. The goal is one connect: a fresh connect plus a
 *   call on a healthy server, measured in the same run.
 */
import { McpServerConfig, McpTools } from "@mcp-resilience/client"
import { RetryPolicy } from "@mcp-resilience/policy"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { median, range } from "./stats.js"

/** The client's fixture server (stdio), which can stay down while a file exists. */
const fixture = fileURLToPath(new URL("../../client/test/fixtures/server.mjs", import.meta.url))

export interface RecoveryOptions {
  readonly trials: number
  /** How long the server stays down, in ms. */
  readonly outage: number
  /** Healthy connects measured for the goal. */
  readonly connects: number
}

export interface Recovery {
  readonly outage: number
  /** Per trial, ms. */
  readonly scheduled: ReadonlyArray<number>
  readonly lag: ReadonlyArray<number>
  /** From the return to the first successful call, ms. */
  readonly total: ReadonlyArray<number>
  /** Failed attempts during each outage. */
  readonly attempts: ReadonlyArray<number>
  /** Healthy connect + first call, ms. */
  readonly connect: ReadonlyArray<number>
}

/** 100 ms base, x2, 1 s cap, full jitter: waits short enough that an outage sees several attempts. */
const policy = RetryPolicy.make({ maxAttempts: 100, base: "100 millis", cap: "1 second", deadline: "2 minutes" })

const ECHO = { text: "recovery" }

const quiet = <A, E, R>(effect: Effect.Effect<A, E, R>) => effect.pipe(Logger.withMinimumLogLevel(LogLevel.None))

/** A fresh `McpTools` service to the fixture that is down while `marker` exists; `onRetry` records each wait. */
const makeTools = (marker: string, state: string, onRetry: (delay: number) => void) =>
  McpTools.make({
    server: McpServerConfig.stdio({
      name: "recovery",
      command: process.execPath,
      args: [fixture, "--down-while", marker, "--state-file", state]
    }),
    policy,
    resetAfter: "1 hour",
    callTimeout: "30 seconds",
    onRetry: (step) => Effect.sync(() => onRetry(Duration.toMillis(step.delay)))
  })

/** Healthy: making the service (spawn + handshake) and one call, `n` times. */
const healthyConnects = (n: number, marker: string, state: string) =>
  Effect.forEach(range(n), () =>
    // up to the first answer; closing is not part of it
    Effect.scoped(Effect.gen(function*() {
      const start = performance.now()
      const tools = yield* makeTools(marker, state, () => {})
      yield* tools.call("echo", ECHO)
      return performance.now() - start
    })))

/** One outage and return. */
const trial = (outage: number, marker: string, state: string) =>
  Effect.scoped(Effect.gen(function*() {
    const waits: Array<{ at: number; delay: number }> = []
    let down = false
    const tools = yield* makeTools(marker, state, (delay) => {
      if (down) waits.push({ at: performance.now(), delay })
    })
    yield* tools.call("echo", ECHO)
    const pid = tools.client?.pid
    if (pid === undefined) return yield* Effect.dieMessage("recovery: the stdio session has no pid")

    // down: the marker makes every new start exit; kill the live process
    fs.writeFileSync(marker, "")
    down = true
    const killedAt = performance.now()
    process.kill(pid, "SIGKILL")
    let returnedAt = 0
    // a caller that keeps calling until one call succeeds after the return
    const caller = yield* Effect.fork(Effect.gen(function*() {
      while (true) {
        const result = yield* Effect.either(tools.call("echo", ECHO))
        const at = performance.now()
        if (result._tag === "Right" && returnedAt > 0) return at
        yield* Effect.sleep("5 millis")
      }
    }))
    yield* Effect.sleep(outage - (performance.now() - killedAt))
    fs.rmSync(marker, { force: true })
    returnedAt = performance.now()
    const succeededAt = yield* Fiber.join(caller)
    down = false
    // the attempt that succeeded started where the last wait before the success ended
    const before = waits.filter((w) => w.at < succeededAt)
    const last = before[before.length - 1]
    const scheduledStart = last === undefined ? killedAt : last.at + last.delay
    return {
      scheduled: Math.max(0, scheduledStart - returnedAt),
      lag: succeededAt - Math.max(scheduledStart, returnedAt),
      total: succeededAt - returnedAt,
      attempts: before.length
    }
  }))

/** Runs the study; temporary files are removed whatever happens. */
export const recovery = (options: RecoveryOptions): Effect.Effect<Recovery> =>
  Effect.acquireUseRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "mcp-recovery-"))),
    (dir) =>
      Effect.gen(function*() {
        const marker = path.join(dir, "down")
        const state = path.join(dir, "state.json")
        const connect = yield* healthyConnects(options.connects, marker, state)
        const results = []
        for (let i = 0; i < options.trials; i++) results.push(yield* trial(options.outage, marker, state))
        return {
          outage: options.outage,
          scheduled: results.map((r) => r.scheduled),
          lag: results.map((r) => r.lag),
          total: results.map((r) => r.total),
          attempts: results.map((r) => r.attempts),
          connect
        }
      }),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  ).pipe(quiet, Effect.orDie)

/** A one-line verdict: whether the median lag is within one median connect. */
export const verdict = (r: Recovery): { readonly holds: boolean; readonly line: string } => {
  const lag = median(r.lag)
  const connect = median(r.connect)
  const holds = lag <= connect
  return {
    holds,
    line: `median lag ${lag.toFixed(0)} ms after the scheduled attempt, against one connect of ${
      connect.toFixed(0)
    } ms: ${holds ? "holds" : "does NOT hold"}`
  }
}
