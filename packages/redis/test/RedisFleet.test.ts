import { describe, expect, it } from "@effect/vitest"
import { CircuitBreaker, CircuitBreakerStore, HandshakeLimiter, RetryBudget, RetryBudgetStore } from "@mcp-resilience/policy"
import { RedisFleet } from "@mcp-resilience/redis"
import { Context, Data, Effect, Exit, Layer, Logger } from "effect"
import { eventually, redisServer } from "./redisServer.js"

class Boom extends Data.TaggedError("Boom")<{}> {}
class Rejected extends Data.TaggedError("Rejected")<CircuitBreaker.RejectedInfo> {}

const KEY = "everything#0123456789abcdef"

/**
 * One process of the fleet: its own Redis connections, its own logs. The deadline of a Redis call
 * is 1 s here (on a loaded machine 100 ms can pass and flip a test into fallback); the test that
 * kills Redis keeps the default.
 */
const member = (url: string, options: Partial<RedisFleet.Options> = {}) =>
  Effect.gen(function*() {
    const logs: Array<string> = []
    const logger = Logger.make(({ logLevel, message }) => logs.push(`${logLevel.label} ${String(message)}`))
    const context = yield* Layer.build(
      RedisFleet.layer({ url, refreshInterval: "100 millis", prefix: "test:", timeout: "1 second", ...options }).pipe(
        Layer.provide(Logger.replace(Logger.defaultLogger, logger))
      )
    )
    const store = Context.get(context, CircuitBreakerStore.CircuitBreakerStore)
    const breakerWithHandle = (breakDuration: CircuitBreaker.Options<Rejected>["breakDuration"] = "300 millis") =>
      Effect.flatMap(store.shared(KEY), (shared) =>
        Effect.map(
          CircuitBreaker.make<Rejected>({
            strategy: CircuitBreaker.consecutive(3),
            breakDuration,
            isFailure: () => true,
            onRejected: (info) => new Rejected(info),
            shared
          }),
          (breaker) => ({ breaker, shared })
        ))
    const breaker = (breakDuration?: CircuitBreaker.Options<Rejected>["breakDuration"]) =>
      Effect.map(breakerWithHandle(breakDuration), ({ breaker }) => breaker)
    return {
      breakerWithHandle,
      context,
      logs,
      breaker,
      status: Context.get(context, RedisFleet.RedisFleet).status,
      budgets: Context.get(context, RetryBudgetStore.RetryBudgetStore),
      handshakes: Context.get(context, HandshakeLimiter.HandshakeLimiter)
    }
  })

const fail = Effect.fail(new Boom())

describe("RedisFleet over a real redis-server", () => {
  it.scopedLive("a breaker opened by one process rejects the others' next calls, without running them", () =>
    Effect.gen(function*() {
      const redis = yield* redisServer
      const a = yield* member(redis.url)
      const b = yield* member(redis.url)
      const breakerA = yield* a.breaker()
      const { breaker: breakerB, shared: sharedB } = yield* b.breakerWithHandle()
      yield* breakerB.execute(Effect.void)
      for (let i = 0; i < 3; i++) yield* Effect.exit(breakerA.execute(fail))
      expect(breakerA.current()._tag).toBe("Open")
      // the news reaches b in one message from Redis
      const after = yield* eventually("b's inbox holds the opening", 1000, () => sharedB.inbox.version > 0)
      expect(after).toBeLessThan(200)
      expect(sharedB.inbox.view.state).toBe("Open")
      let ran = 0
      const exit = yield* Effect.exit(breakerB.execute(Effect.sync(() => ran++)))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(ran).toBe(0)
      expect(breakerB.current()._tag).toBe("Open")
    }))

  it.scopedLive("exactly one of five processes sends the half-open probe, and its success closes all", () =>
    Effect.gen(function*() {
      const redis = yield* redisServer
      const members = yield* Effect.forEach(Array.from({ length: 5 }), () => member(redis.url))
      const breakers = yield* Effect.forEach(members, (m) => m.breaker())
      for (let i = 0; i < 3; i++) yield* Effect.exit(breakers[0]!.execute(fail))
      yield* Effect.sleep("350 millis")
      let probes = 0
      const exits = yield* Effect.forEach(
        breakers,
        (breaker) => Effect.exit(breaker.execute(Effect.zipRight(Effect.sync(() => probes++), Effect.sleep("100 millis")))),
        { concurrency: "unbounded" }
      )
      expect(probes).toBe(1)
      expect(exits.filter(Exit.isSuccess)).toHaveLength(1)
      yield* eventually("every process admits calls after the probe succeeded", 1000, () =>
        Effect.map(
          Effect.forEach(breakers, (breaker) => Effect.exit(breaker.execute(Effect.void))),
          (all) => all.every(Exit.isSuccess)
        ))
    }))

  it.scopedLive("a token bucket is one bucket for the fleet; successes refill it", () =>
    Effect.gen(function*() {
      const redis = yield* redisServer
      const a = yield* member(redis.url)
      const b = yield* member(redis.url)
      const local = () => RetryBudget.tokenBucket({ capacity: 10, retryCost: 5, successRefund: 5, name: "fleet" })
      const budgetA = yield* a.budgets.budget(KEY, local())
      const budgetB = yield* b.budgets.budget(KEY, local())
      expect(yield* budgetA.tryRetry("retry")).toBe(true)
      expect(yield* budgetB.tryRetry("retry")).toBe(true)
      expect(yield* budgetA.tryRetry("retry")).toBe(false)
      expect(yield* budgetB.tryRetry("retry")).toBe(false)
      yield* budgetB.onSuccess
      // the refund travels with b's next take, or with its next health check
      yield* eventually("a's bucket refilled by b's success", 1000, () => budgetA.tryRetry("retry"))
    }))

  it.scopedLive("the handshake limit holds for the fleet: 2 per second across two processes", () =>
    Effect.gen(function*() {
      const redis = yield* redisServer
      const options = { handshakes: { limit: 2, window: "1 second" } } as const
      const a = yield* member(redis.url, options)
      const b = yield* member(redis.url, options)
      const started = Date.now()
      const at = yield* Effect.forEach(
        [a, b, a, b],
        (m) => Effect.map(m.handshakes.take(KEY), () => Date.now() - started),
        { concurrency: "unbounded" }
      )
      const sorted = [...at].sort((x, y) => x - y)
      expect(sorted[1]!).toBeLessThan(300)
      expect(sorted[2]!).toBeGreaterThanOrEqual(400)
    }))

  it.scopedLive(
    "Redis killed mid-run: calls go on with local state (warning, Local status); restarted: shared again",
    () =>
      Effect.gen(function*() {
        const redis = yield* redisServer
        const a = yield* member(redis.url, { timeout: undefined })
        const b = yield* member(redis.url, { timeout: undefined })
        const breakerA = yield* a.breaker("10 seconds")
        const breakerB = yield* b.breaker("10 seconds")
        const budgetA = yield* a.budgets.budget(KEY, RetryBudget.tokenBucket({ capacity: 10, retryCost: 5 }))
        yield* redis.kill
        // a closed breaker never waits on Redis: calls succeed as before
        let ran = 0
        for (let i = 0; i < 20; i++) yield* breakerA.execute(Effect.sync(() => ran++))
        expect(ran).toBe(20)
        yield* eventually("a falls back", 2000, () => Effect.map(a.status, (s) => s._tag === "Local"))
        expect(a.logs.some((line) => line.startsWith("WARN") && line.includes("Redis unavailable"))).toBe(true)
        // the budget falls back to the local bucket: two retries of 5 out of 10
        expect(yield* budgetA.tryRetry("retry")).toBe(true)
        expect(yield* budgetA.tryRetry("retry")).toBe(true)
        expect(yield* budgetA.tryRetry("retry")).toBe(false)
        // a opens alone: b is not told while Redis is away
        for (let i = 0; i < 3; i++) yield* Effect.exit(breakerA.execute(fail))
        expect(breakerA.current()._tag).toBe("Open")
        yield* breakerB.execute(Effect.void)
        yield* redis.start
        yield* eventually("a shares again", 3000, () => Effect.map(a.status, (s) => s._tag === "Shared"))
        expect(a.logs.some((line) => line.includes("Redis is back"))).toBe(true)
        // the break a took while Redis was away reaches the fleet
        yield* eventually("b sees a's opening once Redis is back", 2000, () =>
          Effect.map(Effect.exit(breakerB.execute(Effect.void)), Exit.isFailure))
      })
  )

  it.scopedLive("fail-closed: with Redis unreachable, calls are rejected and retries refused", () =>
    Effect.gen(function*() {
      const redis = yield* redisServer
      yield* redis.kill
      const a = yield* member(redis.url, { onUnavailable: "fail-closed" })
      expect((yield* a.status)._tag).toBe("FailingClosed")
      const breaker = yield* a.breaker()
      const exit = yield* Effect.exit(breaker.execute(Effect.void))
      expect(Exit.isFailure(exit)).toBe(true)
      const budget = yield* a.budgets.budget(KEY, RetryBudget.tokenBucket())
      expect(yield* budget.tryRetry("retry")).toBe(false)
      yield* redis.start
      yield* eventually("calls admitted once Redis is back", 3000, () =>
        Effect.map(Effect.exit(breaker.execute(Effect.void)), Exit.isSuccess))
    }))
})
