/**
 * McpTools with the stores a fleet shares (CircuitBreakerStore, HandshakeLimiter) in context:
 * the in-memory layers of @mcp-resilience/policy, under TestClock.
 */
import { assert, describe, it } from "@effect/vitest"
import { CircuitBreaker, CircuitBreakerStore, HandshakeLimiter, RetryPolicy } from "@mcp-resilience/policy"
import { Effect, Fiber, TestClock } from "effect"
import { McpTools } from "../src/McpTools.js"
import { inMemory, tick } from "./utils.js"

const settle = Effect.gen(function*() {
  for (let i = 0; i < 10; i++) yield* tick
})

describe("McpTools with fleet stores in context", () => {
  it.effect("a breaker opened by one McpTools rejects the calls of another on the same server", () =>
    Effect.gen(function*() {
      const log = { cancelled: [] as Array<string>, calls: [] as Array<string> }
      const server = inMemory(log)
      const options = {
        server,
        policy: RetryPolicy.make({ jitter: "none" }),
        breaker: { strategy: CircuitBreaker.consecutive(3), breakDuration: "5 seconds" }
      } as const
      const a = yield* McpTools.make(options)
      const b = yield* McpTools.make(options)
      for (let i = 0; i < 3; i++) {
        const call = yield* Effect.fork(Effect.flip(a.call("slow", { ms: 60_000 }, { timeout: "1 second" })))
        yield* settle
        yield* TestClock.adjust("1 second")
        assert.strictEqual((yield* Fiber.join(call))._tag, "McpTimeoutError")
      }
      const calls = log.calls.length
      const rejected = yield* Effect.flip(b.call("echo", { text: "x" }))
      assert.strictEqual(rejected._tag, "McpCircuitOpenError")
      assert.strictEqual(log.calls.length, calls, "b's rejected call does not reach the server")
      // one probe for both: b's succeeds and a admits calls again
      yield* TestClock.adjust("5 seconds")
      yield* b.call("echo", { text: "probe" })
      const echoed = yield* a.call("echo", { text: "again" })
      assert.deepStrictEqual(echoed.content, [{ type: "text", text: "again" }])
    }).pipe(Effect.scoped, Effect.provide(CircuitBreakerStore.layerMemory())))

  it.effect("the HandshakeLimiter in context spaces the handshakes to one server", () =>
    Effect.gen(function*() {
      const server = inMemory()
      const connected: Array<string> = []
      const open = (name: string) =>
        Effect.fork(Effect.tap(McpTools.make({ server }), () => Effect.sync(() => connected.push(name))))
      const a = yield* open("a")
      const b = yield* open("b")
      yield* settle
      assert.deepStrictEqual(connected, ["a"])
      yield* TestClock.adjust("999 millis")
      yield* settle
      assert.deepStrictEqual(connected, ["a"])
      yield* TestClock.adjust("1 millis")
      yield* settle
      assert.deepStrictEqual(connected, ["a", "b"])
      yield* Fiber.join(a)
      yield* Fiber.join(b)
    }).pipe(Effect.scoped, Effect.provide(HandshakeLimiter.layerMemory({ limit: 1 }))))
})
