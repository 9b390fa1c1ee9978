/**
 * `McpTools.callAll`: a batch of calls in one fiber, each with the outcome `call` would give it.
 */
import { assert, describe, it } from "@effect/vitest"
import { CircuitBreaker, RetryPolicy } from "@mcp-resilience/policy"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import { Effect, Either, Fiber, TestClock } from "effect"
import * as McpServerConfig from "../src/McpServerConfig.js"
import { McpTools } from "../src/McpTools.js"
import { createServer, createStore } from "./fixtures/server.mjs"

const policy = RetryPolicy.make({ maxAttempts: 3, base: "20 millis", cap: "100 millis", jitter: "none" })
const once = RetryPolicy.make({ maxAttempts: 1 })

const fixture = (store = createStore()) =>
  McpServerConfig.inMemory({ name: "fixture", connect: (t) => createServer({}, { store }).connect(t) })

const texts = (results: ReadonlyArray<Either.Either<{ content?: unknown }, unknown>>) =>
  results.map((result) =>
    Either.isRight(result)
      ? (result.right.content as Array<{ text: string }>)[0].text
      : `${(result.left as { _tag: string })._tag}.${(result.left as { reason?: string }).reason ?? ""}`
  )

/**
 * A server whose `hold` tool answers only once `target` calls are in flight together (or every
 * call of the batch has started), and records the most that ever were.
 */
const holding = (target: number) => {
  const seen = { inFlight: 0, max: 0, calls: 0 }
  let waiting: Array<() => void> = []
  const server = McpServerConfig.inMemory({
    name: "holding",
    connect: (transport) => {
      const server = new McpServer({ name: "holding", version: "1.0.0" })
      server.registerTool("hold", { description: "waits for company" }, async () => {
        seen.inFlight++
        seen.calls++
        seen.max = Math.max(seen.max, seen.inFlight)
        if (seen.inFlight >= target) {
          for (const release of waiting) release()
          waiting = []
        } else {
          await new Promise<void>((resolve) => waiting.push(resolve))
        }
        seen.inFlight--
        return { content: [{ type: "text", text: "held" }] }
      })
      return server.connect(transport)
    }
  })
  return { server, seen }
}

describe("McpTools.callAll", () => {
  it.scoped("returns each call's outcome in order: results, isError and unknown tools as McpToolError", () =>
    Effect.gen(function*() {
      const tools = yield* McpTools.make({ server: fixture(), policy })
      // every tool known: the one-fiber batch
      const known = yield* tools.callAll([
        { name: "echo", arguments: { text: "a" } },
        { name: "fail", arguments: { message: "no" } },
        { name: "add", arguments: { a: 1, b: 2 } },
        { name: "echo", arguments: { text: "b" } }
      ])
      assert.deepStrictEqual(texts(known), ["a", "McpToolError.IsError", "3", "b"])
      // an unknown name: each call through `call`
      const mixed = yield* tools.callAll([
        { name: "echo", arguments: { text: "c" } },
        { name: "nope" },
        { name: "fail" }
      ])
      assert.deepStrictEqual(texts(mixed), ["c", "McpToolError.UnknownTool", "McpToolError.IsError"])
      assert.deepStrictEqual(yield* tools.callAll([]), [])
    }))

  it.scoped("a call past its deadline is an McpTimeoutError with its span from the batch's start; the others succeed", () =>
    Effect.gen(function*() {
      const tools = yield* McpTools.make({ server: fixture(), policy, callPolicy: once })
      yield* TestClock.adjust("1 second")
      const fiber = yield* Effect.fork(tools.callAll([
        { name: "echo", arguments: { text: "fast" } },
        { name: "slow", arguments: { ms: 30_000 }, options: { timeout: "5 seconds" } }
      ]))
      // the echo answers at once (in memory); then the deadline passes
      yield* Effect.repeat(Effect.yieldNow(), { times: 20 })
      yield* TestClock.adjust("5 seconds")
      const [echo, slow] = yield* Fiber.join(fiber)
      assert.deepStrictEqual(texts([echo]), ["fast"])
      assert.isTrue(Either.isLeft(slow))
      const error = (slow as Either.Left<{ _tag: string; maybeExecuted: boolean }, unknown>).left
      assert.strictEqual(error._tag, "McpTimeoutError")
      assert.strictEqual(error.maybeExecuted, true)
      const span = (error as unknown as Record<symbol, { name: string; status: { startTime: bigint } }>)[
        Symbol.for("effect/SpanAnnotation")
      ]
      assert.strictEqual(span.name, "tools/call slow")
      assert.strictEqual(span.status.startTime, BigInt(1_000_000_000))
    }))

  it.scoped("a safe call that failed in the batch is retried under callPolicy", () =>
    Effect.gen(function*() {
      const store = createStore()
      const tools = yield* McpTools.make({ server: fixture(store), policy, callPolicy: policy })
      const fiber = yield* Effect.fork(tools.callAll([
        { name: "slow", arguments: { ms: 30_000 }, options: { timeout: "1 second" } },
        { name: "echo", arguments: { text: "x" } }
      ]))
      yield* Effect.repeat(Effect.yieldNow(), { times: 20 })
      // attempt 1 times out; `slow` is idempotent, so it is tried again (20 ms later) and again
      for (let i = 0; i < 3; i++) {
        yield* TestClock.adjust("1 second")
        yield* Effect.repeat(Effect.yieldNow(), { times: 20 })
        yield* TestClock.adjust("100 millis")
      }
      const [slow, echo] = yield* Fiber.join(fiber)
      assert.deepStrictEqual(texts([slow, echo]), ["McpTimeoutError.", "x"])
      assert.strictEqual(store.state.executions.slow, 3)
    }))

  it.scoped("concurrency bounds the calls in flight; unbounded starts them all", () =>
    Effect.gen(function*() {
      const two = holding(2)
      const bounded = yield* McpTools.make({ server: two.server, policy })
      const results = yield* bounded.callAll(Array.from({ length: 6 }, () => ({ name: "hold" })), { concurrency: 2 })
      assert.deepStrictEqual(texts(results), Array(6).fill("held"))
      assert.strictEqual(two.seen.calls, 6)
      assert.strictEqual(two.seen.max, 2)

      const six = holding(6)
      const unbounded = yield* McpTools.make({ server: six.server, policy })
      yield* unbounded.callAll(Array.from({ length: 6 }, () => ({ name: "hold" })))
      assert.strictEqual(six.seen.max, 6)
    }))

  it.scoped("with a breaker, each call is admitted as it starts and counted; once it opens, calls are rejected", () =>
    Effect.gen(function*() {
      const tools = yield* McpTools.make({
        server: fixture(),
        policy,
        callPolicy: once,
        breaker: { strategy: CircuitBreaker.consecutive(2), breakDuration: "10 seconds" }
      })
      const fiber = yield* Effect.fork(tools.callAll([
        { name: "echo", arguments: { text: "ok" } },
        { name: "slow", arguments: { ms: 30_000 }, options: { timeout: "1 second" } },
        { name: "slow", arguments: { ms: 30_000 }, options: { timeout: "1 second" } }
      ]))
      yield* Effect.repeat(Effect.yieldNow(), { times: 20 })
      yield* TestClock.adjust("1 second")
      // the echo answers first; then two timeouts in a row open the breaker
      assert.deepStrictEqual(texts(yield* Fiber.join(fiber)), ["ok", "McpTimeoutError.", "McpTimeoutError."])
      const rejected = yield* tools.callAll([{ name: "echo", arguments: { text: "x" } }, {
        name: "add",
        arguments: { a: 1, b: 2 }
      }])
      assert.deepStrictEqual(texts(rejected), ["McpCircuitOpenError.", "McpCircuitOpenError."])
      yield* Effect.repeat(Effect.yieldNow(), { times: 20 })
      assert.strictEqual((yield* tools.status)._tag, "CircuitOpen")
      // after the break, a probe runs and closes it again
      yield* TestClock.adjust("10 seconds")
      assert.deepStrictEqual(texts(yield* tools.callAll([{ name: "echo", arguments: { text: "back" } }])), ["back"])
      assert.deepStrictEqual(texts(yield* tools.callAll([{ name: "add", arguments: { a: 2, b: 2 } }])), ["4"])
    }))

  it.scoped("interrupting the batch cancels every call in flight on the server", () =>
    Effect.gen(function*() {
      const store = createStore()
      const tools = yield* McpTools.make({ server: fixture(store), policy })
      const fiber = yield* Effect.fork(tools.callAll([
        { name: "slow", arguments: { ms: 30_000 } },
        { name: "slow", arguments: { ms: 30_000 } },
        { name: "counter" }
      ]))
      while ((store.state.executions.slow ?? 0) < 2) yield* Effect.yieldNow()
      yield* Fiber.interrupt(fiber)
      while (store.state.cancelled.length < 2) yield* Effect.yieldNow()
      assert.deepStrictEqual(store.state.cancelled.map((c: { tool: string }) => c.tool), ["slow", "slow"])
      assert.strictEqual(store.state.executions.counter, 1)
    }))
})
