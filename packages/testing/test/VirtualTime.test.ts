import { assert, describe, it } from "@effect/vitest"
import { RetryPolicy, Transient } from "@mcp-resilience/policy"
import { VirtualTime } from "@mcp-resilience/testing"
import { Cause, Clock, Data, Effect, Exit, Fiber, Schedule, TestClock } from "effect"

class Busy extends Data.TaggedError("Busy") {
  readonly [Transient.TransientTypeId] = true
}
class TimedOut extends Data.TaggedError("TimedOut") {}
class AttemptTimedOut extends Data.TaggedError("AttemptTimedOut") {
  readonly [Transient.TransientTypeId] = true
}

const policy = RetryPolicy.make({
  maxAttempts: 4,
  base: "1 second",
  factor: 2,
  jitter: "none",
  attemptTimeout: "10 seconds",
  deadline: "1 minute"
})

describe("VirtualTime", () => {
  it.effect("run: drives a retry policy to completion, reporting virtual time and attempts", () =>
    Effect.gen(function*() {
      const attempts = VirtualTime.attempts(Effect.fail(new Busy()))
      const result = yield* VirtualTime.run(
        RetryPolicy.retry(attempts.effect, policy, { onTimeout: () => new TimedOut() })
      )
      assert.deepStrictEqual(result.exit, Exit.fail(new Busy()))
      assert.strictEqual(result.virtualMillis, 1_000 + 2_000 + 4_000)
      assert.strictEqual(result.clockMoves, 3)
      assert.strictEqual(attempts.count(), 4)
      assert.deepStrictEqual(attempts.startedAt(), [0, 1_000, 3_000, 7_000])
    }))

  it.effect("run: attempt timeouts expire in virtual time", () =>
    Effect.gen(function*() {
      const hanging = VirtualTime.attempts(Effect.never)
      const result = yield* VirtualTime.run(
        RetryPolicy.retry(hanging.effect, RetryPolicy.make({ ...policy, attemptTimeout: "5 seconds" }), {
          onTimeout: () => new AttemptTimedOut()
        })
      )
      assert.deepStrictEqual(result.exit, Exit.fail(new AttemptTimedOut()))
      assert.strictEqual(result.virtualMillis, 5_000 * 4 + 1_000 + 2_000 + 4_000)
      assert.strictEqual(hanging.count(), 4)
    }))

  it.effect("run: measures from the clock's time when it starts", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust("1 hour")
      const result = yield* VirtualTime.run(Effect.as(Effect.sleep("90 seconds"), "done"))
      assert.deepStrictEqual(result.exit, Exit.succeed("done"))
      assert.strictEqual(result.virtualMillis, 90_000)
      assert.strictEqual(yield* Clock.currentTimeMillis, 3_600_000 + 90_000)
    }))

  it.effect("run: waits on promises (in-process I/O) without moving the clock", () =>
    Effect.gen(function*() {
      const io = Effect.promise(() => new Promise<number>((resolve) => setImmediate(() => resolve(42))))
      const result = yield* VirtualTime.run(Effect.flatMap(io, (n) => Effect.as(Effect.sleep("1 second"), n)))
      assert.deepStrictEqual(result.exit, Exit.succeed(42))
      assert.strictEqual(result.virtualMillis, 1_000)
    }))

  it.effect("run: gives up with a defect and interrupts the effect when it cannot complete", () =>
    Effect.gen(function*() {
      let interrupted = false
      const stuck = Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => (interrupted = true))))
      const exit = yield* Effect.exit(VirtualTime.run(stuck, { maxRounds: 20 }))
      assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause))
      assert.isTrue(interrupted)
      const stepping = yield* Effect.exit(
        VirtualTime.run(Effect.never, { step: "1 hour", maxTime: "3 hours", maxRounds: 100 })
      )
      assert.isTrue(Exit.isFailure(stepping))
      assert.strictEqual(yield* Clock.currentTimeMillis, 4 * 3_600_000)
    }))

  it.live("run: outside a TestClock it provides one", () =>
    Effect.gen(function*() {
      const started = Date.now()
      const result = yield* VirtualTime.run(Effect.as(Effect.sleep("10 hours"), "slept"))
      assert.deepStrictEqual(result.exit, Exit.succeed("slept"))
      assert.strictEqual(result.virtualMillis, 36_000_000)
      assert.isBelow(Date.now() - started, 5_000)
    }))

  it.effect("attempts: counts the runs of a plain Effect.retry", () =>
    Effect.gen(function*() {
      const attempts = VirtualTime.attempts(Effect.fail("down"))
      yield* VirtualTime.run(
        Effect.retry(attempts.effect, Schedule.spaced("1 second").pipe(Schedule.upTo("3 seconds")))
      )
      assert.deepStrictEqual(attempts.startedAt(), [0, 1_000, 2_000, 3_000])
    }))

  it.effect("settle and advance: step by step", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(Effect.as(Effect.sleep("2 seconds"), "woke"))
      yield* VirtualTime.advance("1 second")
      assert.isTrue((yield* Fiber.poll(fiber))._tag === "None")
      yield* VirtualTime.advance("1 second")
      assert.deepStrictEqual(yield* Fiber.poll(fiber).pipe(Effect.map((o) => o._tag)), "Some")
      yield* VirtualTime.settle(1)
    }))
})
