import { assert, describe, it } from "@effect/vitest"
import { Backoff, RetryPolicy } from "@mcp-resilience/policy"
import { Cause, Clock, Duration, Effect, Exit, Fiber, Option, Random, TestClock } from "effect"
import * as McpClient from "../src/McpClient.js"
import { McpAuthError, McpConnectError } from "../src/McpError.js"
import { McpTransports } from "../src/McpTransport.js"
import { inMemory, runVirtual, scriptedTransports, tick } from "./utils.js"

const failureOf = <A, E>(exit: Exit.Exit<A, E>) =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined

const refused = new McpConnectError({ server: "mem", reason: "Refused", detail: "connection refused (ECONNREFUSED)" })
const policy = RetryPolicy.make({
  maxAttempts: 5,
  base: "1 second",
  factor: 2,
  cap: "10 seconds",
  jitter: "none",
  attemptTimeout: "30 seconds",
  deadline: "60 seconds"
})

describe("McpClient under TestClock", () => {
  it.effect("connects after N failures, waiting exactly the policy's delays", () =>
    Effect.gen(function*() {
      const transports = scriptedTransports([refused, refused, refused])
      const fiber = yield* McpClient.make(inMemory(), { policy }).pipe(
        Effect.flatMap((client) => Effect.zip(Clock.currentTimeMillis, Effect.succeed(client.attempts))),
        Effect.scoped,
        Effect.provideService(McpTransports, transports.service),
        Effect.fork
      )
      const exit = yield* runVirtual(fiber, "100 millis")
      assert.isTrue(Exit.isSuccess(exit))
      if (Exit.isSuccess(exit)) {
        const [at, attempts] = exit.value
        assert.strictEqual(attempts, 4)
        assert.strictEqual(at, 1000 + 2000 + 4000) // none jitter: 1 s, 2 s, 4 s
      }
      assert.strictEqual(transports.opens(), 4)
    }))

  it.effect("gives up after maxAttempts with the last typed error", () =>
    Effect.gen(function*() {
      const last = new McpConnectError({ server: "mem", reason: "Http", status: 503, detail: "Service Unavailable" })
      const transports = scriptedTransports([refused, refused, refused, refused, last, refused])
      const fiber = yield* McpClient.make(inMemory(), { policy }).pipe(
        Effect.scoped,
        Effect.provideService(McpTransports, transports.service),
        Effect.fork
      )
      const exit = yield* runVirtual(fiber, "100 millis")
      assert.strictEqual(failureOf(exit)?._tag, last._tag)
      assert.strictEqual(failureOf(exit)?.message, last.message)
      assert.strictEqual(transports.opens(), 5)
      assert.strictEqual(yield* Clock.currentTimeMillis, 1000 + 2000 + 4000 + 8000)
    }))

  it.effect("tries an auth failure once", () =>
    Effect.gen(function*() {
      const denied = new McpAuthError({ server: "mem", status: 401, detail: "Unauthorized" })
      const transports = scriptedTransports([denied])
      const exit = yield* McpClient.make(inMemory(), { policy }).pipe(
        Effect.scoped,
        Effect.provideService(McpTransports, transports.service),
        Effect.exit
      )
      assert.strictEqual(failureOf(exit)?._tag, denied._tag)
      assert.strictEqual(failureOf(exit)?.message, denied.message)
      assert.strictEqual(transports.opens(), 1)
    }))

  it.effect("full jitter waits exactly the delays the seeded Random draws", () =>
    Effect.gen(function*() {
      const transports = scriptedTransports([refused, refused, refused])
      const jittered = RetryPolicy.make({ ...policy, jitter: "full" })
      const expected = yield* Backoff.delays(RetryPolicy.backoff(jittered), 3).pipe(Effect.withRandom(Random.make(7)))
      const fiber = yield* McpClient.make(inMemory(), { policy: jittered }).pipe(
        Effect.flatMap(() => Clock.currentTimeMillis),
        Effect.scoped,
        Effect.provideService(McpTransports, transports.service),
        Effect.withRandom(Random.make(7)),
        Effect.fork
      )
      const exit = yield* runVirtual(fiber, "1 millis")
      const total = expected.reduce((sum, d) => sum + Duration.toMillis(d), 0)
      assert.isTrue(expected.every((d, i) => Duration.toMillis(d) <= 1000 * 2 ** i))
      assert.deepStrictEqual(exit, Exit.succeed(Math.ceil(total)))
    }))

  it.effect("interruption during a backoff wait stops the retries and opens nothing more", () =>
    Effect.gen(function*() {
      const transports = scriptedTransports([refused, refused, refused])
      const fiber = yield* McpClient.make(inMemory(), { policy }).pipe(
        Effect.scoped,
        Effect.provideService(McpTransports, transports.service),
        Effect.fork
      )
      for (let i = 0; i < 5; i++) yield* tick
      yield* TestClock.adjust("500 millis")
      assert.strictEqual(transports.opens(), 1)
      yield* Fiber.interrupt(fiber)
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(transports.opens(), 1)
    }))

  it.effect("a call past its deadline fails with McpTimeoutError and is cancelled on the server", () =>
    Effect.gen(function*() {
      const log = { cancelled: [] as Array<string>, calls: [] as Array<string> }
      const transports = scriptedTransports([], log)
      const fiber = yield* Effect.gen(function*() {
        const client = yield* McpClient.make(inMemory(log), { policy })
        return yield* client.callTool("slow", { ms: 10_000 }, { timeout: "5 seconds" })
      }).pipe(Effect.scoped, Effect.provideService(McpTransports, transports.service), Effect.fork)
      for (let i = 0; i < 10; i++) yield* tick
      yield* TestClock.adjust("4999 millis")
      for (let i = 0; i < 5; i++) yield* tick
      assert.isTrue((yield* Fiber.poll(fiber))._tag === "None", "still running 1 ms before its deadline")
      yield* TestClock.adjust("1 millis")
      const exit = yield* Fiber.await(fiber)
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit) && exit.cause._tag === "Fail") {
        assert.strictEqual(exit.cause.error._tag, "McpTimeoutError")
        assert.deepStrictEqual((exit.cause.error as { after: Duration.Duration }).after, Duration.seconds(5))
      }
      for (let i = 0; i < 10; i++) yield* tick
      assert.deepStrictEqual(log.calls, ["slow"])
      assert.strictEqual(log.cancelled.length, 1)
    }))

  it.effect("interrupting a call cancels it on the server", () =>
    Effect.gen(function*() {
      const log = { cancelled: [] as Array<string>, calls: [] as Array<string> }
      const transports = scriptedTransports([], log)
      yield* Effect.gen(function*() {
        const client = yield* McpClient.make(inMemory(log), { policy })
        const call = yield* Effect.fork(client.callTool("slow", { ms: 10_000 }))
        for (let i = 0; i < 10; i++) yield* tick
        yield* Fiber.interrupt(call)
        for (let i = 0; i < 10; i++) yield* tick
      }).pipe(Effect.scoped, Effect.provideService(McpTransports, transports.service))
      assert.strictEqual(log.cancelled.length, 1)
    }))
})
