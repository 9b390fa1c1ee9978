import { describe, expect, it } from "@effect/vitest"
import {
  CircuitBreaker,
  CircuitBreakerStore,
  HandshakeLimiter,
  RetryBudget,
  RetryBudgetStore,
  RetryPolicy,
  Transient
} from "@mcp-resilience/policy"
import { RedisFleet } from "@mcp-resilience/redis"
import { ConfigProvider, Context, Data, type Duration, Effect, Exit, Fiber, Layer, Logger } from "effect"
import { Redis } from "ioredis"
import { spawn } from "node:child_process"
import * as path from "node:path"
import { eventually, redisServer } from "./redisServer.js"

class Boom extends Data.TaggedError("Boom")<{}> {}
class Rejected extends Data.TaggedError("Rejected")<CircuitBreaker.RejectedInfo> {}
/** An open breaker's rejection, marked as the client marks `McpCircuitOpenError`. */
class Open extends Data.TaggedError("Open")<{ readonly retryAfter: Duration.Duration }> {
  readonly [Transient.TransientTypeId] = true
  readonly [Transient.RejectedTypeId] = true
  get [Transient.RetryAfterTypeId]() {
    return this.retryAfter
  }
}

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

const CHILD_WITHIN_MS = 20_000

/** Runs `test/fixtures/<file>` in another node process (tsx); its stdout, or a failure after CHILD_WITHIN_MS. */
const child = (file: string, args: ReadonlyArray<string>) =>
  Effect.async<string, Error>((resume) => {
    const process_ = spawn(
      process.execPath,
      ["--conditions=@mcp-resilience/source", "--import", "tsx", path.join(__dirname, "fixtures", file), ...args],
      { cwd: path.join(__dirname, ".."), stdio: ["ignore", "pipe", "pipe"] }
    )
    let out = ""
    process_.stdout!.setEncoding("utf8").on("data", (chunk: string) => (out += chunk))
    process_.stderr!.setEncoding("utf8").on("data", (chunk: string) => (out += chunk))
    const timer = setTimeout(() => {
      process_.kill("SIGKILL")
      resume(Effect.fail(new Error(`${file}: no exit within ${CHILD_WITHIN_MS} ms; output:\n${out}`)))
    }, CHILD_WITHIN_MS)
    process_.once("exit", (code) => {
      clearTimeout(timer)
      resume(code === 0 ? Effect.succeed(out) : Effect.fail(new Error(`${file} exited with ${code}:\n${out}`)))
    })
    return Effect.sync(() => {
      clearTimeout(timer)
      process_.kill("SIGKILL")
    })
  })

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
      expect(after).toBeLessThan(500)
      expect(sharedB.inbox.view.state).toBe("Open")
      let ran = 0
      const exit = yield* Effect.exit(breakerB.execute(Effect.sync(() => ran++)))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(ran).toBe(0)
      expect(breakerB.current()._tag).toBe("Open")
    }))

  it.scopedLive("consecutive(3) counts failures across processes: one each from three opens all", () =>
    Effect.gen(function*() {
      const redis = yield* redisServer
      const members = yield* Effect.forEach([1, 2, 3], () => member(redis.url))
      const breakers = yield* Effect.forEach(members, (m) => m.breaker())
      for (const breaker of breakers) yield* Effect.exit(breaker.execute(fail))
      expect(breakers[2]!.current()._tag).toBe("Open")
      yield* eventually("every process sees the fleet's opening", 1000, () =>
        Effect.map(
          Effect.forEach(breakers, (breaker) => Effect.exit(breaker.execute(Effect.void))),
          (all) => all.every(Exit.isFailure)
        ))
    }))

  it.scopedLive("a breaker opened in another OS process rejects this process's calls", () =>
    Effect.gen(function*() {
      const redis = yield* redisServer
      const b = yield* member(redis.url)
      const { breaker, shared } = yield* b.breakerWithHandle()
      yield* breaker.execute(Effect.void)
      expect((yield* child("opener.ts", [redis.url, KEY])).trim()).toBe("Open")
      yield* eventually("this process hears of the opening", 1000, () => shared.inbox.version > 0)
      let ran = 0
      const exit = yield* Effect.exit(breaker.execute(Effect.sync(() => ran++)))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(ran).toBe(0)
    }), 30_000)

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
        (breaker) =>
          Effect.exit(breaker.execute(Effect.zipRight(Effect.sync(() => probes++), Effect.sleep("300 millis")))),
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

  it.scopedLive("a probe whose holder hangs holds the fleet for one break (the default lease), not 30 s", () =>
    Effect.gen(function*() {
      const redis = yield* redisServer
      const [a, b] = yield* Effect.forEach([0, 1], () => Effect.flatMap(member(redis.url), (m) => m.breaker()))
      for (let i = 0; i < 3; i++) yield* Effect.exit(a!.execute(fail))
      yield* Effect.sleep("350 millis")
      // a takes the probe and never finishes it
      yield* Effect.forkScoped(a!.execute(Effect.never))
      yield* eventually("a holds the probe", 1000, () => Effect.succeed(a!.current()._tag === "HalfOpen"))
      expect(Exit.isFailure(yield* Effect.exit(b!.execute(Effect.void)))).toBe(true)
      // the lease is b's break, 300 ms; b asks again within a second: closed well within 3 s
      yield* eventually(
        "another process probes once the hung probe's lease ended",
        3000,
        () => Effect.map(Effect.exit(b!.execute(Effect.void)), Exit.isSuccess)
      )
      expect(b!.current()._tag).toBe("Closed")
    }))

  it.scopedLive("a probe's success closes the other processes at their next call, also after a call of its own process was rejected meanwhile", () =>
    Effect.gen(function*() {
      const redis = yield* redisServer
      const [a, b] = yield* Effect.forEach([0, 1], () => Effect.flatMap(member(redis.url), (m) => m.breaker()))
      for (let i = 0; i < 3; i++) yield* Effect.exit(a!.execute(fail))
      yield* Effect.sleep("350 millis")
      const probe = yield* Effect.fork(a!.execute(Effect.sleep("300 millis")))
      // the store's news of a's own probe reaches a while the probe runs
      yield* Effect.sleep("100 millis")
      expect(Exit.isFailure(yield* Effect.exit(a!.execute(Effect.void)))).toBe(true)
      expect(Exit.isSuccess(yield* Fiber.await(probe))).toBe(true)
      expect(a!.current()._tag).toBe("Closed")
      yield* eventually(
        "b admits calls within a round trip of the probe's success",
        500,
        () => Effect.map(Effect.exit(b!.execute(Effect.void)), Exit.isSuccess)
      )
    }))

  it.scopedLive("retries of calls the fleet's open breaker rejected take nothing from the fleet's bucket", () =>
    Effect.gen(function*() {
      const redis = yield* redisServer
      const [ma, mb] = yield* Effect.forEach([0, 1], () => member(redis.url))
      const bucket = () => RetryBudget.tokenBucket({ capacity: 10, name: "rejections" })
      const budgetA = yield* ma!.budgets.budget(KEY, bucket())
      const budgetB = yield* mb!.budgets.budget(KEY, bucket())
      const [a, b] = yield* Effect.forEach(
        [ma!, mb!],
        (m) =>
          Effect.flatMap(m.breakerWithHandle(), ({ shared }) =>
            CircuitBreaker.make<Open>({
              strategy: CircuitBreaker.consecutive(1),
              breakDuration: "300 millis",
              isFailure: (error) => !(error instanceof Open),
              onRejected: ({ retryAfter }) => new Open({ retryAfter }),
              shared
            }))
      )
      yield* Effect.exit(a!.execute(fail)) // the fleet opens for 300 ms
      yield* eventually(
        "b sees the fleet's breaker open",
        1000,
        () => Effect.map(Effect.exit(b!.execute(Effect.void)), Exit.isFailure)
      )
      let sent = 0
      const policy = RetryPolicy.make({ jitter: "none", base: "50 millis", maxAttempts: 20 })
      const exit = yield* Effect.exit(RetryPolicy.retry(b!.execute(Effect.sync(() => sent++)), policy, {
        budget: budgetB,
        onTimeout: () => new Boom()
      }))
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(sent).toBe(1)
      // the fleet's bucket is still full: the other process gets both of its two retries
      expect([yield* budgetA.tryRetry("retry"), yield* budgetA.tryRetry("retry")]).toEqual([true, true])
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
      expect(sorted[1]!).toBeLessThan(400)
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
        yield* eventually("a falls back", 5000, () => Effect.map(a.status, (s) => s._tag === "Local"))
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
        yield* eventually("a shares again", 5000, () => Effect.map(a.status, (s) => s._tag === "Shared"))
        expect(a.logs.some((line) => line.includes("Redis is back"))).toBe(true)
        // the break a took while Redis was away reaches the fleet
        yield* eventually("b sees a's opening once Redis is back", 5000, () =>
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
      yield* eventually(
        "calls admitted once Redis is back",
        3000,
        () => Effect.map(Effect.exit(breaker.execute(Effect.void)), Exit.isSuccess)
      )
    }))

  it.scopedLive("a call through a closed breaker sends nothing to Redis", () =>
    Effect.gen(function*() {
      const redis = yield* redisServer
      const a = yield* member(redis.url, { refreshInterval: "1 minute" })
      const breaker = yield* a.breaker()
      const admin = yield* Effect.acquireRelease(
        Effect.sync(() => new Redis(redis.port, "127.0.0.1")),
        (admin) => Effect.sync(() => admin.disconnect())
      )
      /** Commands Redis has served, but INFO itself. */
      const served = Effect.promise(async () => {
        const info = await admin.info("commandstats")
        return [...info.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)]
          .filter(([, name]) => name !== "info")
          .reduce((sum, [, , calls]) => sum + Number(calls), 0)
      })
      const before = yield* served
      for (let i = 0; i < 1000; i++) yield* breaker.execute(Effect.void)
      expect(yield* served).toBe(before)
    }))

  it.scopedLive("layerConfig reads REDIS_URL; keys take the default prefix", () =>
    Effect.gen(function*() {
      const redis = yield* redisServer
      const context = yield* Layer.build(RedisFleet.layerConfig).pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["REDIS_URL", redis.url]])))
      )
      const store = Context.get(context, CircuitBreakerStore.CircuitBreakerStore)
      const shared = yield* store.shared(KEY)
      yield* shared.open(60_000)
      const admin = yield* Effect.acquireRelease(
        Effect.sync(() => new Redis(redis.port, "127.0.0.1")),
        (admin) => Effect.sync(() => admin.disconnect())
      )
      expect(yield* Effect.promise(() => admin.hget(`mcp-resilience:breaker:${KEY}`, "state"))).toBe("Open")
      expect((yield* Context.get(context, RedisFleet.RedisFleet).status)._tag).toBe("Shared")
    }))
})
