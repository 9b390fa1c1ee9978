/**
 * The circuit breaker wired into McpTools, under TestClock.
 */
import { assert, describe, it } from "@effect/vitest"
import { CircuitBreaker, RetryPolicy } from "@mcp-resilience/policy"
import { Duration, Effect, Fiber, TestClock } from "effect"
import { McpTools } from "../src/McpTools.js"
import { inMemory, tick } from "./utils.js"

const settle = Effect.gen(function*() {
  for (let i = 0; i < 10; i++) yield* tick
})

describe("McpTools with a circuit breaker", () => {
  it.effect("opens after consecutive timeouts, fails fast, shows CircuitOpen, and closes after a good probe", () =>
    Effect.gen(function*() {
      const log = { cancelled: [] as Array<string>, calls: [] as Array<string> }
      yield* Effect.scoped(Effect.gen(function*() {
        const tools = yield* McpTools.make({
          server: inMemory(log),
          policy: RetryPolicy.make({ jitter: "none" }),
          breaker: { strategy: CircuitBreaker.consecutive(3), breakDuration: "5 seconds" }
        })
        for (let i = 0; i < 3; i++) {
          const call = yield* Effect.fork(Effect.flip(tools.call("slow", { ms: 60_000 }, { timeout: "1 second" })))
          yield* settle
          yield* TestClock.adjust("1 second")
          const error = yield* Fiber.join(call)
          assert.strictEqual(error._tag, "McpTimeoutError")
        }
        yield* settle
        assert.strictEqual((yield* tools.status)._tag, "CircuitOpen")
        const calls = log.calls.length
        const rejected = yield* Effect.flip(tools.call("echo", { text: "x" }))
        assert.strictEqual(rejected._tag, "McpCircuitOpenError")
        assert.deepStrictEqual((rejected as { retryAfter?: Duration.Duration }).retryAfter, Duration.seconds(5))
        assert.strictEqual(log.calls.length, calls, "a rejected call does not reach the server")
        yield* TestClock.adjust("5 seconds")
        const echoed = yield* tools.call("echo", { text: "probe" })
        assert.deepStrictEqual(echoed.content, [{ type: "text", text: "probe" }])
        yield* settle
        assert.strictEqual((yield* tools.status)._tag, "Connected")
      }))
    }))

  it.effect("tool errors (isError) do not trip the breaker", () =>
    Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        const tools = yield* McpTools.make({
          server: inMemory(),
          breaker: { strategy: CircuitBreaker.consecutive(2) }
        })
        for (let i = 0; i < 5; i++) {
          const error = yield* Effect.flip(tools.call("fail", { message: "no" }))
          assert.strictEqual(error._tag, "McpToolError")
        }
        const echoed = yield* tools.call("echo", { text: "fine" })
        assert.deepStrictEqual(echoed.content, [{ type: "text", text: "fine" }])
      }))
    }))
})
