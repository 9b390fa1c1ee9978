/**
 * Progress: deadlines reset on progress under TestClock (with an in-memory server that reports
 * progress when the test says so), and `callWithProgress` against real servers (the fixture over
 * stdio, server-everything's long-running tool).
 */
import { assert, describe, it } from "@effect/vitest"
import { RetryPolicy } from "@mcp-resilience/policy"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import { Cause, Chunk, Duration, Effect, Exit, Fiber, Option, Stream, TestClock } from "effect"
import { Logger, LogLevel } from "effect"
import { McpTimeoutError } from "../src/McpError.js"
import type { CallEvent } from "../src/McpProgress.js"
import * as McpServerConfig from "../src/McpServerConfig.js"
import { type CallOptions, McpTools } from "../src/McpTools.js"
import { readState, serverEverything } from "./fixtures/paths.js"
import { eventually, fixture, processesMentioning, stateFiles, tick } from "./utils.js"

/** A server whose `work` tool reports progress each time `report()` is called and never answers. */
const progressServer = () => {
  let send: ((progress: number) => void) | undefined
  const config = McpServerConfig.inMemory({
    name: "progress",
    connect: (transport) => {
      const server = new McpServer({ name: "progress", version: "1.0.0" })
      server.registerTool(
        "work",
        { inputSchema: {}, annotations: { readOnlyHint: false } },
        (_args, extra) =>
          new Promise(() => {
            let n = 0
            const progressToken = extra._meta?.progressToken
            // a call that does not ask for progress gets none
            send = () =>
              progressToken === undefined ? undefined : void extra.sendNotification({
                method: "notifications/progress",
                params: { progressToken, progress: ++n, total: 10 }
              })
          })
      )
      return server.connect(transport)
    }
  })
  return { config, report: () => send?.(0) }
}

const ticks = Effect.repeatN(tick, 10)

/** Runs `work` under `options`, reporting progress at the given virtual times; returns when it failed. */
const failsAt = (
  options: CallOptions,
  reportAt: ReadonlyArray<number>,
  horizon: number
) =>
  Effect.gen(function*() {
    const { config, report } = progressServer()
    const tools = yield* McpTools.make({ server: config })
    const fiber = yield* Effect.fork(Effect.exit(tools.call("work", {}, { timeout: "10 seconds", ...options })))
    yield* ticks
    for (let second = 1; second <= horizon; second++) {
      yield* TestClock.adjust("1 second")
      yield* ticks
      const polled = fiber.unsafePoll()
      if (polled !== null) {
        const exit = Exit.flatten(polled)
        assert.isTrue(Exit.isFailure(exit))
        const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
        assert.instanceOf(error, McpTimeoutError)
        return { second, after: (error as McpTimeoutError).after }
      }
      if (reportAt.includes(second)) {
        report()
        yield* ticks
      }
    }
    return yield* Effect.dieMessage(`the call was still running after ${horizon} s`)
  }).pipe(Effect.scoped)

describe("progress resets the deadline (TestClock)", () => {
  it.effect("without resetTimeoutOnProgress, progress does not extend the deadline", () =>
    Effect.gen(function*() {
      const { second } = yield* failsAt({}, [5, 8], 60)
      assert.strictEqual(second, 10)
    }))

  it.effect("each progress restarts the deadline, up to maxTotalTimeout", () =>
    Effect.gen(function*() {
      const { after, second } = yield* failsAt({ resetTimeoutOnProgress: true, maxTotalTimeout: "25 seconds" }, [
        8,
        15,
        22
      ], 60)
      // 8 -> 18, 15 -> 25 (the total bound), 22 -> still 25
      assert.strictEqual(second, 25)
      assert.strictEqual(Duration.toMillis(after), 25_000)
    }))

  it.effect("a call that stops reporting fails a timeout after its last progress", () =>
    Effect.gen(function*() {
      const { after, second } = yield* failsAt({ resetTimeoutOnProgress: true, maxTotalTimeout: "1 hour" }, [
        5,
        12
      ], 60)
      assert.strictEqual(second, 22)
      assert.strictEqual(Duration.toMillis(after), 10_000)
    }))

  it.effect("the total bound defaults to 10 times the timeout", () =>
    Effect.gen(function*() {
      const every9 = Array.from({ length: 20 }, (_, i) => (i + 1) * 9)
      const { second } = yield* failsAt({ resetTimeoutOnProgress: true }, every9, 200)
      assert.strictEqual(second, 100)
    }))
})

const newState = stateFiles()
/** Integration tests stay quiet when they pass (connect and retry lines). */
const quiet = Logger.withMinimumLogLevel(LogLevel.None)
const fast = RetryPolicy.make({ maxAttempts: 3, base: "20 millis", cap: "100 millis", jitter: "none" })

const progressOf = (events: Chunk.Chunk<CallEvent>) =>
  Chunk.toReadonlyArray(events).flatMap((e) => (e._tag === "Progress" ? [e.progress] : []))

describe("callWithProgress with real servers", () => {
  it.live("the fixture's progress arrives in order, then the result", () =>
    Effect.gen(function*() {
      const state = newState()
      yield* Effect.scoped(Effect.gen(function*() {
        const tools = yield* McpTools.make({ server: fixture(state), policy: fast })
        const events = yield* Stream.runCollect(tools.callWithProgress("slow", { ms: 700 }))
        const all = Chunk.toReadonlyArray(events)
        const progress = progressOf(events)
        assert.isAtLeast(progress.length, 3, `progress: ${JSON.stringify(progress)}`)
        for (let i = 1; i < progress.length; i++) assert.isAbove(progress[i]!, progress[i - 1]!)
        assert.strictEqual(all[all.length - 1]!._tag, "Result")
        assert.strictEqual(all.filter((e) => e._tag === "Result").length, 1)
      }))
      assert.deepStrictEqual(processesMentioning(state), [])
    }).pipe(quiet), 20_000)

  it.live("ending the stream early cancels the call on the server", () =>
    Effect.gen(function*() {
      const state = newState()
      yield* Effect.scoped(Effect.gen(function*() {
        const tools = yield* McpTools.make({ server: fixture(state), policy: fast })
        const first = yield* Stream.runHead(tools.callWithProgress("slow", { ms: 30_000 }))
        assert.strictEqual(Option.getOrThrow(first)._tag, "Progress")
        yield* eventually(() => readState(state).cancelled.length === 1, "notifications/cancelled at the server")
        assert.strictEqual(readState(state).cancelled[0]!.tool, "slow")
      }))
      assert.deepStrictEqual(processesMentioning(state), [])
    }).pipe(quiet), 20_000)

  it.live(
    "server-everything's long-running operation reports each step in order",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const tools = yield* McpTools.make({
          server: McpServerConfig.stdio({ name: "everything", command: process.execPath, args: [serverEverything] }),
          policy: fast
        })
        const fiber = yield* Effect.fork(
          Stream.runCollect(tools.callWithProgress("trigger-long-running-operation", { duration: 1, steps: 4 }))
        )
        const events = yield* Fiber.join(fiber)
        assert.deepStrictEqual(progressOf(events), [1, 2, 3, 4])
        const last = Chunk.unsafeLast(events)
        assert.strictEqual(last._tag, "Result")
      })).pipe(quiet),
    20_000
  )
})
