import { assert, describe, it } from "@effect/vitest"
import {
  CircuitBreaker,
  CircuitBreakerStore,
  HandshakeLimiter,
  RetryBudget,
  RetryBudgetStore,
  RetryPolicy,
  Transient
} from "@mcp-resilience/policy"
import { Data, Deferred, Duration, Effect, Exit, Fiber, TestClock } from "effect"

class Boom extends Data.TaggedError("Boom")<{}> {}
class Rejected extends Data.TaggedError("Rejected")<CircuitBreaker.RejectedInfo> {}

/** `n` breakers on one key of one in-memory store (the fleet, in one process). */
const fleet = (n: number, options: Partial<CircuitBreaker.Options<Rejected>> = {}) =>
  Effect.gen(function*() {
    const store = CircuitBreakerStore.makeMemory()
    return yield* Effect.forEach(Array.from({ length: n }), () =>
      Effect.flatMap(store.shared("srv#1"), (shared) =>
        CircuitBreaker.make<Rejected>({
          strategy: CircuitBreaker.consecutive(3),
          breakDuration: "5 seconds",
          isFailure: () =>
            true,
          onRejected: (info) => new Rejected(info),
          shared,
          ...options
        })))
  })

const fail = Effect.fail(new Boom())

describe("CircuitBreakerStore.makeMemory", () => {
  it.scoped("an opening by one breaker rejects the next call of every other, without running it", () =>
    Effect.gen(function*() {
      const [a, b, c] = yield* fleet(3)
      for (let i = 0; i < 3; i++) yield* Effect.exit(a!.execute(fail))
      assert.strictEqual(a!.current()._tag, "Open")
      let ran = 0
      for (const breaker of [b!, c!]) {
        const exit = yield* Effect.exit(breaker.execute(Effect.sync(() => ran++)))
        assert.isTrue(Exit.isFailure(exit), "a call through another breaker of the fleet was admitted")
        assert.strictEqual(breaker.current()._tag, "Open")
      }
      assert.strictEqual(ran, 0)
      // the others wait out the opener's break, not one of their own
      const error = yield* Effect.flip(b!.execute(Effect.void))
      assert.strictEqual(Duration.toMillis((error as Rejected).retryAfter), 5000)
    }))

  it.scoped("consecutive(n) counts failures across the fleet; a success from a breaker that reported one restarts the count", () =>
    Effect.gen(function*() {
      const [a, b, c] = yield* fleet(3)
      yield* Effect.exit(a!.execute(fail))
      yield* a!.execute(Effect.void) // a reported a failure: the count starts again
      yield* Effect.exit(b!.execute(fail))
      yield* c!.execute(Effect.void) // c reported none: costs nothing, changes nothing
      yield* Effect.exit(c!.execute(fail))
      assert.deepStrictEqual([a!, b!, c!].map((x) => x.current()._tag), ["Closed", "Closed", "Closed"])
      yield* Effect.exit(a!.execute(fail)) // the third in a row, from three breakers
      assert.strictEqual(a!.current()._tag, "Open")
      let ran = 0
      for (const breaker of [b!, c!]) {
        assert.isTrue(Exit.isFailure(yield* Effect.exit(breaker.execute(Effect.sync(() => ran++)))))
      }
      assert.strictEqual(ran, 0)
    }))

  it.scoped("exactly one breaker of the fleet sends the half-open probe; its success closes them all", () =>
    Effect.gen(function*() {
      const breakers = yield* fleet(5)
      for (let i = 0; i < 3; i++) yield* Effect.exit(breakers[0]!.execute(fail))
      for (const b of breakers.slice(1)) yield* Effect.exit(b.execute(Effect.void))
      yield* TestClock.adjust("5 seconds")
      const gate = yield* Deferred.make<void>()
      let probes = 0
      const fibers = yield* Effect.forEach(
        breakers,
        (b) => Effect.fork(Effect.exit(b.execute(Effect.zipRight(Effect.sync(() => probes++), Deferred.await(gate)))))
      )
      yield* Effect.yieldNow()
      yield* Effect.yieldNow()
      assert.strictEqual(probes, 1, "probes sent while half-open")
      yield* Deferred.succeed(gate, void 0)
      const exits = yield* Effect.forEach(fibers, Fiber.join)
      assert.strictEqual(exits.filter(Exit.isSuccess).length, 1)
      // every breaker admits calls again
      for (const b of breakers) yield* b.execute(Effect.void)
      assert.deepStrictEqual(breakers.map((b) => b.current()._tag), Array(5).fill("Closed"))
    }))

  it.scoped("a failed probe reopens every breaker; a probe whose holder hangs is granted again after one break", () =>
    Effect.gen(function*() {
      const [a, b] = yield* fleet(2)
      for (let i = 0; i < 3; i++) yield* Effect.exit(a!.execute(fail))
      yield* TestClock.adjust("5 seconds")
      yield* Effect.exit(b!.execute(fail)) // b's probe fails
      const rejected = yield* Effect.flip(a!.execute(Effect.void))
      assert.instanceOf(rejected, Rejected)
      assert.strictEqual(a!.current()._tag, "Open")
      yield* TestClock.adjust("5 seconds")
      // a takes the probe and never finishes it
      const stuck = yield* Effect.fork(a!.execute(Effect.never))
      yield* Effect.yieldNow()
      const denied = yield* Effect.exit(b!.execute(Effect.void))
      assert.isTrue(Exit.isFailure(denied), "a second probe in the same window")
      // the default lease is the break duration (5 s here), not a fixed 30 s: a hung probe holds
      // the fleet for one more break at most
      yield* TestClock.adjust("4 seconds")
      assert.isTrue(Exit.isFailure(yield* Effect.exit(b!.execute(Effect.void))), "a probe before the lease ended")
      yield* TestClock.adjust("1 second")
      yield* b!.execute(Effect.void)
      assert.strictEqual(b!.current()._tag, "Closed")
      assert.strictEqual(a!.current()._tag, "HalfOpen") // a learns at its next call
      yield* a!.execute(Effect.void)
      assert.strictEqual(a!.current()._tag, "Closed")
      yield* Fiber.interrupt(stuck)
    }))

  it.scoped("a store's own lease (probeLeaseMillis) overrides the break duration", () =>
    Effect.gen(function*() {
      const store = CircuitBreakerStore.makeMemory({ probeLeaseMillis: 20_000 })
      const [a, b] = yield* Effect.forEach([0, 1], () =>
        Effect.flatMap(store.shared("srv#1"), (shared) =>
          CircuitBreaker.make<Rejected>({
            strategy: CircuitBreaker.consecutive(1),
            breakDuration: "5 seconds",
            onRejected: (info) =>
              new Rejected(info),
            isFailure: () => true,
            shared
          })))
      yield* Effect.exit(a!.execute(fail))
      yield* TestClock.adjust("5 seconds")
      const stuck = yield* Effect.fork(a!.execute(Effect.never))
      yield* Effect.yieldNow()
      yield* TestClock.adjust("19 seconds")
      assert.isTrue(Exit.isFailure(yield* Effect.exit(b!.execute(Effect.void))), "a probe before the 20 s lease ended")
      yield* TestClock.adjust("1 second")
      yield* b!.execute(Effect.void)
      assert.strictEqual(b!.current()._tag, "Closed")
      yield* Fiber.interrupt(stuck)
    }))

  it.scoped("news of its own half-open window (Redis delivers it, maybe before the answer) does not cost a probe its outcome", () =>
    Effect.gen(function*() {
      const store = CircuitBreakerStore.makeMemory()
      const [[a, inbox], [b]] = yield* Effect.forEach(
        [0, 1],
        () =>
          Effect.flatMap(store.shared("srv#1"), (shared) =>
            Effect.map(
              CircuitBreaker.make<Rejected>({
                strategy: CircuitBreaker.consecutive(3),
                breakDuration: "5 seconds",
                isFailure: () => true,
                onRejected: (info) => new Rejected(info),
                shared
              }),
              (breaker) => [breaker, shared.inbox] as const
            ))
      )
      for (let i = 0; i < 3; i++) yield* Effect.exit(a!.execute(fail))
      yield* TestClock.adjust("5 seconds")
      const gate = yield* Deferred.make<void>()
      const probe = yield* Effect.fork(a!.execute(Deferred.await(gate)))
      yield* Effect.yieldNow()
      assert.strictEqual(a!.current()._tag, "HalfOpen")
      // what the Redis store's subscriber does with the store's message about a's own probe
      inbox!.view = { state: "HalfOpen", remaining: 5000 }
      inbox!.receivedAt = 5000
      inbox!.version++
      // another call of a's process, while the probe runs: rejected, and the probe stays a's
      const other = yield* Effect.exit(a!.execute(Effect.void))
      assert.isTrue(Exit.isFailure(other), "a second call admitted while a's probe runs")
      assert.strictEqual(a!.current()._tag, "HalfOpen")
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(probe)
      assert.strictEqual(a!.current()._tag, "Closed")
      // the fleet closed at once, not after the lease: b's next call runs
      yield* b!.execute(Effect.void)
      assert.strictEqual(b!.current()._tag, "Closed")
    }))

  it.scoped("isolate and reset hold for the fleet", () =>
    Effect.gen(function*() {
      const [a, b] = yield* fleet(2)
      yield* a!.isolate
      const error = yield* Effect.flip(b!.execute(Effect.void))
      assert.isTrue(Duration.equals((error as Rejected).retryAfter, Duration.infinity))
      yield* b!.reset
      yield* a!.execute(Effect.void)
      assert.strictEqual(a!.current()._tag, "Closed")
    }))
})

/** An open breaker's rejection, marked as a client marks it: transient, nothing sent, with a Retry-After. */
class Open extends Data.TaggedError("Open")<{ readonly retryAfter: Duration.Duration }> {
  readonly [Transient.TransientTypeId] = true
  readonly [Transient.RejectedTypeId] = true
  get [Transient.RetryAfterTypeId]() {
    return this.retryAfter
  }
}

describe("a fleet's breaker and retry budget together", () => {
  it.scoped("retries of calls the fleet's open breaker rejected take nothing from the fleet's one bucket", () =>
    Effect.gen(function*() {
      const breakers = CircuitBreakerStore.makeMemory()
      const budgets = RetryBudgetStore.makeMemory()
      // 10 tokens: two retries for the whole fleet
      const [budgetA, budgetB] = yield* Effect.forEach(
        [0, 1],
        () => budgets.budget("srv#1", RetryBudget.tokenBucket({ capacity: 10 }))
      )
      const [a, b] = yield* Effect.forEach(
        [0, 1],
        () =>
          Effect.flatMap(breakers.shared("srv#1"), (shared) =>
            CircuitBreaker.make<Open>({
              strategy: CircuitBreaker.consecutive(1),
              breakDuration: "5 seconds",
              isFailure: (error) => !(error instanceof Open),
              onRejected: ({ retryAfter }) => new Open({ retryAfter }),
              shared
            }))
      )
      yield* Effect.exit(a!.execute(fail)) // the fleet opens for 5 s
      // b's calls are rejected and retried at the breaker's pace until its probe goes through
      let sent = 0
      const policy = RetryPolicy.make({ jitter: "none", base: "500 millis", maxAttempts: 10 })
      const call = RetryPolicy.retry(b!.execute(Effect.sync(() => sent++)), policy, {
        budget: budgetB!,
        onTimeout: () => new Boom()
      })
      const fiber = yield* Effect.fork(Effect.zipRight(call, call))
      yield* TestClock.adjust("10 seconds")
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(fiber)), "the calls did not go through once the break ended")
      assert.strictEqual(sent, 2)
      // nothing reached the server before the probe: the bucket is full, for the retries of real failures
      assert.strictEqual(yield* budgetA!.remaining, 10)
    }))
})

describe("RetryBudgetStore.makeMemory", () => {
  it.scoped("every client of a key draws from the first budget given for it", () =>
    Effect.gen(function*() {
      const store = RetryBudgetStore.makeMemory()
      const one = yield* store.budget("srv#1", RetryBudget.tokenBucket({ capacity: 10 }))
      const two = yield* store.budget("srv#1", RetryBudget.tokenBucket({ capacity: 10 }))
      const other = yield* store.budget("srv#2", RetryBudget.tokenBucket({ capacity: 10 }))
      assert.isTrue(yield* one.tryRetry("retry"))
      assert.isTrue(yield* two.tryRetry("retry"))
      assert.isFalse(yield* two.tryRetry("retry"))
      assert.strictEqual(yield* other.remaining, 10)
    }))
})

describe("HandshakeLimiter.makeMemory", () => {
  it.effect("lets a burst of `limit` through, then one per window / limit, per key", () =>
    Effect.gen(function*() {
      const limiter = HandshakeLimiter.makeMemory({ limit: 2 })
      const started: Array<number> = []
      const fiber = yield* Effect.fork(Effect.forEach(
        Array.from({ length: 5 }),
        () => Effect.zipRight(limiter.take("srv#1"), Effect.sync(() => started.push(1))),
        { discard: true }
      ))
      const times: Array<number> = []
      for (let t = 0; t <= 1500; t += 250) {
        yield* Effect.yieldNow()
        times.push(started.length)
        yield* TestClock.adjust("250 millis")
      }
      yield* Fiber.join(fiber)
      // at 0, 250, 500, 750, 1000, 1250, 1500 ms
      assert.deepStrictEqual(times, [2, 2, 3, 3, 4, 4, 5])
      // another key is not held up
      yield* limiter.take("srv#2")
      assert.throws(() => HandshakeLimiter.makeMemory({ limit: 0 }), RangeError)
    }))
})
