import { assert, describe, it } from "@effect/vitest"
import { RetryBudget } from "@mcp-resilience/policy"
import { Effect, Metric, TestClock } from "effect"

/** `n` calls of `tryRetry(kind)`, returning how many were granted. */
const take = (budget: RetryBudget.RetryBudget, n: number, kind: RetryBudget.RetryKind = "retry") =>
  Effect.gen(function*() {
    let granted = 0
    for (let i = 0; i < n; i++) if (yield* budget.tryRetry(kind)) granted++
    return granted
  })

const repeat = (effect: Effect.Effect<void>, n: number) => Effect.repeatN(effect, n - 1)

/** The gauge of the budget named `name`. */
const gauge = (name: string) =>
  Effect.map(Metric.value(Metric.tagged(RetryBudget.remainingGauge, "budget", name)), (state) => state.value)

describe("RetryBudget.tokenBucket", () => {
  it.effect("the AWS standard-mode numbers: 500 tokens, a retry costs 5, after a timeout 10, a success returns 1", () =>
    Effect.gen(function*() {
      const budget = RetryBudget.tokenBucket()
      assert.strictEqual(yield* budget.remaining, 500)
      assert.isTrue(yield* budget.tryRetry("retry"))
      assert.strictEqual(yield* budget.remaining, 495)
      assert.isTrue(yield* budget.tryRetry("timeout"))
      assert.strictEqual(yield* budget.remaining, 485)
      yield* budget.onSuccess
      assert.strictEqual(yield* budget.remaining, 486)
      // onAttempt is free for a bucket
      yield* budget.onAttempt
      assert.strictEqual(yield* budget.remaining, 486)
    }))

  it.effect("successes refill up to the capacity, never above", () =>
    Effect.gen(function*() {
      const budget = RetryBudget.tokenBucket()
      yield* budget.tryRetry("retry")
      yield* repeat(budget.onSuccess, 20)
      assert.strictEqual(yield* budget.remaining, 500)
    }))

  it.effect("a full bucket grants exactly 100 retries (50 after timeouts), then refuses without taking", () =>
    Effect.gen(function*() {
      const budget = RetryBudget.tokenBucket()
      assert.strictEqual(yield* take(budget, 150), 100)
      assert.strictEqual(yield* budget.remaining, 0)
      const timeouts = RetryBudget.tokenBucket()
      assert.strictEqual(yield* take(timeouts, 80, "timeout"), 50)
    }))

  it.effect("a retry is refused when its cost exceeds what is left; a cheaper one may still pass", () =>
    Effect.gen(function*() {
      const budget = RetryBudget.tokenBucket({ capacity: 12 })
      assert.isTrue(yield* budget.tryRetry("timeout")) // 12 -> 2
      assert.isFalse(yield* budget.tryRetry("retry")) // 5 > 2
      assert.strictEqual(yield* budget.remaining, 2)
      yield* repeat(budget.onSuccess, 3) // 2 -> 5
      assert.isFalse(yield* budget.tryRetry("timeout")) // 10 > 5
      assert.isTrue(yield* budget.tryRetry("retry")) // cost equal to what is left: granted, 5 -> 0
      assert.strictEqual(yield* budget.remaining, 0)
    }))

  it.effect("custom costs", () =>
    Effect.gen(function*() {
      const budget = RetryBudget.tokenBucket({ capacity: 10, retryCost: 1, timeoutCost: 2, successRefund: 0.5 })
      assert.strictEqual(yield* take(budget, 3), 3)
      assert.strictEqual(yield* take(budget, 1, "timeout"), 1)
      yield* budget.onSuccess
      assert.strictEqual(yield* budget.remaining, 5.5)
    }))

  it.effect("the remaining gauge follows the bucket", () =>
    Effect.gen(function*() {
      const budget = RetryBudget.tokenBucket({ name: "test-bucket-gauge" })
      assert.strictEqual(yield* gauge("test-bucket-gauge"), 500)
      yield* take(budget, 3)
      assert.strictEqual(yield* gauge("test-bucket-gauge"), 485)
      yield* budget.onSuccess
      assert.strictEqual(yield* gauge("test-bucket-gauge"), 486)
    }))

  it("rejects invalid options", () => {
    assert.throws(() => RetryBudget.tokenBucket({ capacity: -1 }), RangeError)
    assert.throws(() => RetryBudget.tokenBucket({ retryCost: Number.NaN }), RangeError)
    assert.throws(() => RetryBudget.ratio({ window: 0 }), RangeError)
    assert.throws(() => RetryBudget.ratio({ buckets: 0 }), RangeError)
  })
})

describe("RetryBudget.ratio", () => {
  it.effect("a quiet client may still make minRetries retries per window", () =>
    Effect.gen(function*() {
      const budget = RetryBudget.ratio()
      assert.strictEqual(yield* budget.remaining, 10)
      assert.strictEqual(yield* take(budget, 15), 10)
      assert.strictEqual(yield* budget.remaining, 0)
      // both kinds count as one retry
      const other = RetryBudget.ratio()
      assert.strictEqual(yield* take(other, 15, "timeout"), 10)
    }))

  it.effect("retries are at most 10 % of the requests in the window", () =>
    Effect.gen(function*() {
      const budget = RetryBudget.ratio()
      yield* repeat(budget.onAttempt, 300)
      assert.strictEqual(yield* budget.remaining, 30)
      assert.strictEqual(yield* take(budget, 50), 30)
      // ten more requests earn one more retry
      yield* repeat(budget.onAttempt, 10)
      assert.strictEqual(yield* take(budget, 5), 1)
      // successes change nothing
      yield* budget.onSuccess
      assert.strictEqual(yield* budget.remaining, 0)
    }))

  it.effect("requests and retries leave the window 10 s after they were made", () =>
    Effect.gen(function*() {
      const budget = RetryBudget.ratio()
      yield* repeat(budget.onAttempt, 200) // at 0
      assert.strictEqual(yield* take(budget, 15), 15) // 20 allowed
      yield* TestClock.adjust("5 seconds")
      yield* repeat(budget.onAttempt, 100) // at 5 s: 300 requests in the window
      assert.strictEqual(yield* take(budget, 30), 15) // 30 allowed, 15 taken at 0
      yield* TestClock.adjust("4999 millis")
      assert.strictEqual(yield* budget.remaining, 0) // 9.999 s: everything still counts
      yield* TestClock.adjust("1 millis")
      // 10 s: what happened at 0 left the window; 100 requests (floor of 10) and 15 retries remain
      assert.strictEqual(yield* budget.remaining, 0)
      yield* TestClock.adjust("5 seconds")
      // 15 s: the window is empty, the floor applies again
      assert.strictEqual(yield* budget.remaining, 10)
      assert.strictEqual(yield* take(budget, 11), 10)
    }))

  it.effect("the window slides by slices of window / buckets", () =>
    Effect.gen(function*() {
      const budget = RetryBudget.ratio({ ratio: 0.5, minRetries: 0, window: "4 seconds", buckets: 4 })
      for (let s = 0; s < 4; s++) {
        yield* repeat(budget.onAttempt, 10 * (s + 1)) // 10, 20, 30, 40 requests at 0, 1, 2, 3 s
        yield* TestClock.adjust("1 second")
      }
      // at 4 s the first slice (10 requests) has left: 90 requests, 45 retries
      assert.strictEqual(yield* budget.remaining, 45)
      yield* TestClock.adjust("2 seconds")
      // at 6 s only the slice of 3 s remains: 40 requests
      assert.strictEqual(yield* budget.remaining, 20)
      yield* TestClock.adjust("1 hour")
      assert.strictEqual(yield* budget.remaining, 0)
      assert.isFalse(yield* budget.tryRetry("retry"))
    }))

  it.effect("the remaining gauge follows the window", () =>
    Effect.gen(function*() {
      const budget = RetryBudget.ratio({ name: "test-ratio-gauge" })
      assert.strictEqual(yield* gauge("test-ratio-gauge"), 10)
      yield* repeat(budget.onAttempt, 200)
      assert.strictEqual(yield* gauge("test-ratio-gauge"), 20)
      yield* take(budget, 5)
      assert.strictEqual(yield* gauge("test-ratio-gauge"), 15)
      yield* take(budget, 20)
      assert.strictEqual(yield* gauge("test-ratio-gauge"), 0)
    }))
})

describe("RetryBudget.unlimited", () => {
  it.effect("never refuses", () =>
    Effect.gen(function*() {
      const budget = RetryBudget.unlimited
      yield* budget.onAttempt
      assert.strictEqual(yield* take(budget, 10_000, "timeout"), 10_000)
      yield* budget.onSuccess
      assert.strictEqual(yield* budget.remaining, Number.POSITIVE_INFINITY)
    }))
})
