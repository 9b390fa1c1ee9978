/**
 * Issue 19: an empty retry budget does not strand a client. A run whose retry the budget refuses
 * probes at the budget's minimum pace (`probeInterval`, 30 s by default, on average: each wait is
 * drawn from [0, 60 s), never shorter than the policy's own delay) instead of failing; a probe takes nothing from the budget, and successes refill it.
 */
import { assert, describe, it } from "@effect/vitest"
import { RetryBudget, RetryPolicy, Transient } from "@mcp-resilience/policy"
import { Clock, Data, Duration, Effect, Exit, Fiber, Random, TestClock } from "effect"

class Down extends Data.TaggedError("Down")<{}> {
  readonly [Transient.TransientTypeId] = true
}
class Timeout extends Data.TaggedError("Timeout")<RetryPolicy.TimeoutInfo> {
  readonly [Transient.TransientTypeId] = true
}
const onTimeout = (info: RetryPolicy.TimeoutInfo) => new Timeout(info)

/** A server that refuses until `upAt` (virtual ms); records the time of every attempt. */
const server = (upAt: number) => {
  const attempts: Array<number> = []
  const connect = Effect.flatMap(Clock.currentTimeMillis, (now) => {
    attempts.push(now)
    return now < upAt ? Effect.fail(new Down()) : Effect.succeed(now)
  })
  return { attempts, connect }
}

/** Takes retries until the budget refuses, so that it starts empty. */
const drain = (budget: RetryBudget.RetryBudget) =>
  Effect.gen(function*() {
    let n = 0
    while (yield* budget.tryRetry("retry")) n++
    return n
  })

/** Keeps trying for hours: its own delays stay at most 1 s, so any longer wait is the budget's probe. */
const eager = RetryPolicy.make({ maxAttempts: 10_000, base: "100 millis", cap: "1 second", deadline: "3 hours" })

const gaps = (times: ReadonlyArray<number>) => times.slice(1).map((t, i) => t - times[i]!)

describe("an empty retry budget probes instead of stranding", () => {
  it.effect("an empty token bucket in a total outage: one probe per 30 s on average, about 120 over a virtual hour", () =>
    Effect.gen(function*() {
      const budget = RetryBudget.tokenBucket() // the default probeInterval: 30 s
      assert.strictEqual(yield* drain(budget), 100)
      const { attempts, connect } = server(Number.POSITIVE_INFINITY)
      const steps: Array<RetryPolicy.RetryStep> = []
      const fiber = yield* RetryPolicy.retry(connect, eager, {
        onTimeout,
        budget,
        onRetry: (step) => Effect.sync(() => steps.push(step))
      }).pipe(Effect.withRandom(Random.make(19)), Effect.fork)
      yield* TestClock.adjust("1 hour")
      const hour = attempts.filter((t) => t < 3_600_000)
      // the first attempt at 0, then probes at 30 s on average: 3600 / 30 = 120 in the hour
      assert.isAtLeast(hour.length, 100, `attempts in the hour: ${hour.length}`)
      assert.isAtMost(hour.length, 140, `attempts in the hour: ${hour.length}`)
      // each wait is drawn from [0, 60 s): never longer, and spread over the whole range
      const waits = gaps(hour)
      for (const gap of waits) assert.isBelow(gap, 60_000, `a probe came ${gap} ms after the previous attempt`)
      assert.isTrue(waits.some((gap) => gap < 15_000), "some waits under 15 s")
      assert.isTrue(waits.some((gap) => gap > 45_000), "some waits over 45 s")
      assert.isTrue(steps.every((s) => s.probe), "every retry of an empty budget is a probe")
      // probes take nothing: the bucket is still empty, and it still says so
      assert.strictEqual(yield* budget.remaining, 0)
      assert.isNull(fiber.unsafePoll(), "the run is still going: the budget did not end it")
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("probeInterval sets the pace: 10 s gives one probe per 10 s on average, none more than 20 s apart", () =>
    Effect.gen(function*() {
      const budget = RetryBudget.ratio({ minRetries: 0, probeInterval: "10 seconds" })
      const { attempts, connect } = server(Number.POSITIVE_INFINITY)
      const fiber = yield* RetryPolicy.retry(connect, eager, { onTimeout, budget }).pipe(
        Effect.withRandom(Random.make(3)),
        Effect.fork
      )
      yield* TestClock.adjust("20 minutes")
      // 1200 / 10 = 120 expected
      assert.isAtLeast(attempts.length, 105, `attempts in 20 minutes: ${attempts.length}`)
      assert.isAtMost(attempts.length, 135, `attempts in 20 minutes: ${attempts.length}`)
      for (const gap of gaps(attempts)) assert.isBelow(gap, 20_000)
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("a probe never comes sooner than the policy's own delay, nor after the deadline", () =>
    Effect.gen(function*() {
      const budget = RetryBudget.tokenBucket({ capacity: 0 })
      const { attempts, connect } = server(Number.POSITIVE_INFINITY)
      // no jitter: the policy waits 1, 2, 4, ... 64 s (cap 64 s); a probe's own wait is under 60 s
      const slow = RetryPolicy.make({ jitter: "none", cap: "64 seconds", deadline: "5 minutes", maxAttempts: 100 })
      const fiber = yield* RetryPolicy.retry(connect, slow, { onTimeout, budget }).pipe(
        Effect.withRandom(Random.make(5)),
        Effect.exit,
        Effect.fork
      )
      yield* TestClock.adjust("1 hour")
      const exit = yield* Fiber.join(fiber)
      assert.isTrue(Exit.isFailure(exit), "the deadline still ends the run")
      const waits = gaps(attempts)
      waits.forEach((gap, i) => assert.isAtLeast(gap, Math.min(64_000, 1000 * 2 ** i), `wait ${i + 1}`))
      assert.isBelow(attempts[attempts.length - 1]!, 300_000, "no attempt after the 5 minute deadline")
    }))

  for (
    const [mode, make] of [
      ["token bucket", () => RetryBudget.tokenBucket({ name: "probe-test" })],
      ["10 % ratio", () => RetryBudget.ratio({ name: "probe-test" })]
    ] as const
  ) {
    it.effect(
      `${mode}: 50 clients, a 5 minute outage: bounded load, then every client connects`,
      () =>
        Effect.gen(function*() {
          const budget = make()
          const upAt = 300_000
          const { attempts, connect } = server(upAt)
          const persistent = RetryPolicy.make({ maxAttempts: 100, cap: "30 seconds", deadline: "1 hour" })
          const fiber = yield* Effect.forEach(
            Array.from({ length: 50 }, (_, i) => i),
            (i) =>
              RetryPolicy.retry(connect, persistent, { onTimeout, budget }).pipe(
                Effect.withRandom(Random.make(1000 + i)),
                Effect.exit
              ),
            { concurrency: "unbounded" }
          ).pipe(Effect.fork)
          yield* TestClock.adjust("10 minutes")
          const exits = yield* Fiber.join(fiber)
          // no client is stranded: all connected, within one probe (under 60 s) of the server's return
          assert.strictEqual(exits.filter(Exit.isSuccess).length, 50)
          const connectedAt = exits.map((e) => (Exit.isSuccess(e) ? e.value : Infinity))
          assert.isBelow(Math.max(...connectedAt), upAt + 60_000)
          // the outage load: 50 first attempts, at most 100 granted retries (the bucket's 500 / 5;
          // the ratio's 10 % of 50 requests or its floor of 10 per 10 s: 300), then about one probe
          // per client per 30 s (50 x 300 / 30 = 500); without a budget this policy's full jitter
          // retries every 15 s on average once capped (about 1,000)
          const during = attempts.filter((t) => t < upAt).length
          assert.isAtLeast(during, 450, `attempts during the outage: ${during}`)
          assert.isAtMost(during, 850, `attempts during the outage: ${during}`)
          // recovery refills: the bucket gets a token back per success; the ratio window slides
          const left = yield* budget.remaining
          assert.isAtLeast(left, mode === "token bucket" ? 50 : 10, `left after recovery: ${left}`)
        }),
      { timeout: 60_000 }
    )
  }

  it.effect("after recovery the budget grants retries again at the policy's own pace", () =>
    Effect.gen(function*() {
      const budget = RetryBudget.tokenBucket({ capacity: 10 })
      yield* drain(budget)
      const a = server(60_000)
      // probes carry the run through the outage; its success refunds 1 token
      const probes: Array<boolean> = []
      const first = yield* RetryPolicy.retry(a.connect, eager, {
        onTimeout,
        budget,
        onRetry: (step) => Effect.sync(() => probes.push(step.probe))
      }).pipe(Effect.withRandom(Random.make(1)), Effect.fork)
      yield* TestClock.adjust("5 minutes")
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(first)))
      assert.isAtLeast(probes.length, 2, "it probed at least twice")
      assert.isTrue(probes.every((p) => p), "every retry of the empty bucket was a probe")
      // five successes buy one retry (5 tokens)
      for (let i = 0; i < 4; i++) yield* budget.onSuccess
      assert.strictEqual(yield* budget.remaining, 5)
      const start = yield* Clock.currentTimeMillis
      const b = server(start + 1)
      const steps: Array<RetryPolicy.RetryStep> = []
      const second = yield* RetryPolicy.retry(b.connect, RetryPolicy.make({ jitter: "none" }), {
        onTimeout,
        budget,
        onRetry: (step) => Effect.sync(() => steps.push(step))
      }).pipe(Effect.fork)
      yield* TestClock.adjust("1 minute")
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(second)))
      assert.deepStrictEqual(b.attempts.map((t) => t - start), [0, 1000], "a granted retry after the base delay")
      assert.deepStrictEqual(steps.map((s) => s.probe), [false])
    }))

  it("probeInterval must be positive; infinity means fail at once", () => {
    assert.throws(() => RetryBudget.tokenBucket({ probeInterval: 0 }), RangeError, /probeInterval/)
    assert.throws(() => RetryBudget.ratio({ probeInterval: -5 }), RangeError, /probeInterval/)
    assert.deepStrictEqual(RetryBudget.tokenBucket().probeInterval, Duration.seconds(30))
    assert.deepStrictEqual(
      RetryBudget.tokenBucket({ probeInterval: Duration.infinity }).probeInterval,
      Duration.infinity
    )
  })
})
