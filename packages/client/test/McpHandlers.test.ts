/**
 * Handlers of server-to-client requests (elicitation, sampling, roots), against the fixture
 * server in memory: what the client advertises, what the server receives, and that a handler
 * that fails, hangs or is flooded answers the server with an error while the session goes on.
 * Deadlines run under TestClock.
 */
import { assert, describe, it } from "@effect/vitest"
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js"
import { Cause, Effect, Exit, Fiber, Logger, SubscriptionRef, TestClock } from "effect"
import { McpToolError } from "../src/McpError.js"
import * as McpHandlers from "../src/McpHandlers.js"
import * as McpServerConfig from "../src/McpServerConfig.js"
import { McpTools } from "../src/McpTools.js"
import type { FixtureState } from "./fixtures/server.mjs"
import { createServer } from "./fixtures/server.mjs"
import { tick } from "./utils.js"

/** The fixture in memory; `seen` receives the client capabilities of each handshake. */
const fixture = (seen: Array<unknown> = []) =>
  McpServerConfig.inMemory({
    name: "fixture",
    connect: (transport) => {
      const server = createServer({})
      server.server.oninitialized = () => seen.push(server.server.getClientCapabilities())
      return server.connect(transport)
    }
  })

const structured = (result: CallToolResult) => result.structuredContent as Record<string, unknown>

/** The `isError` text of a tool that reported the client's JSON-RPC error. */
const rpcErrorText = <A>(exit: Exit.Exit<A, unknown>): string => {
  assert.isTrue(Exit.isFailure(exit), "the call should have failed")
  const error = Cause.squash((exit as Exit.Failure<A, unknown>).cause)
  assert.instanceOf(error, McpToolError)
  const content = (error as McpToolError).content[0] as { text: string }
  return content.text
}

const ticks = (n: number) => Effect.repeatN(tick, n)

describe("McpHandlers", () => {
  it.scoped("advertises only the capabilities of the handlers given", () =>
    Effect.gen(function*() {
      const seen: Array<unknown> = []
      const roots = yield* SubscriptionRef.make<ReadonlyArray<{ uri: string }>>([])
      yield* McpTools.make({
        server: fixture(seen),
        handlers: { elicitation: { url: () => Effect.succeed({ action: "decline" as const }) }, roots }
      })
      yield* McpTools.make({ server: fixture(seen), handlers: { sampling: () => Effect.never } })
      yield* McpTools.make({ server: fixture(seen) })
      assert.deepStrictEqual(seen, [
        { elicitation: { url: {} }, roots: { listChanged: true } },
        { sampling: {} },
        {}
      ])
    }))

  it.scoped("form elicitation: the answer reaches the tool with the schema's defaults applied", () =>
    Effect.gen(function*() {
      const asked: Array<string> = []
      const tools = yield* McpTools.make({
        server: fixture(),
        handlers: {
          elicitation: {
            form: (params) =>
              Effect.sync(() => {
                asked.push(params.message)
                return { action: "accept" as const, content: { name: "Ada" } }
              })
          }
        }
      })
      const result = yield* tools.call("elicit", { message: "Who?" })
      assert.deepStrictEqual(asked, ["Who?"])
      assert.deepStrictEqual(structured(result), { action: "accept", content: { name: "Ada", color: "blue" } })
    }))

  it.scoped("form elicitation with applyDefaults: false leaves missing fields out", () =>
    Effect.gen(function*() {
      const tools = yield* McpTools.make({
        server: fixture(),
        handlers: {
          elicitation: {
            applyDefaults: false,
            form: () => Effect.succeed({ action: "accept" as const, content: { name: "Ada" } })
          }
        }
      })
      assert.deepStrictEqual(structured(yield* tools.call("elicit", {})).content, { name: "Ada" })
    }))

  it.scoped("URL elicitation goes to the url handler; a mode not provided is refused by the client", () =>
    Effect.gen(function*() {
      const opened: Array<string> = []
      const tools = yield* McpTools.make({
        server: fixture(),
        handlers: {
          elicitation: {
            url: (params) => Effect.sync(() => (opened.push(params.url), { action: "accept" as const }))
          }
        }
      })
      const result = yield* tools.call("elicit_url", { url: "https://example.com/login" })
      assert.deepStrictEqual(opened, ["https://example.com/login"])
      assert.deepStrictEqual(structured(result), { action: "accept" })
      const formRefused = rpcErrorText(yield* Effect.exit(tools.call("elicit", {})))
      assert.match(formRefused, /^-32602 .*does not support form-mode/)
    }))

  it.scoped("sampling: the handler's message is the server's answer", () =>
    Effect.gen(function*() {
      const tools = yield* McpTools.make({
        server: fixture(),
        handlers: {
          sampling: (params) =>
            Effect.succeed({
              role: "assistant" as const,
              model: "test-model",
              content: {
                type: "text" as const,
                text: `echo: ${(params.messages[0]!.content as { text: string }).text}`
              }
            })
        }
      })
      const result = structured(yield* tools.call("sample", { prompt: "hi" }))
      assert.deepStrictEqual(result.content, { type: "text", text: "echo: hi" })
      assert.strictEqual(result.model, "test-model")
    }))

  it.scoped("roots: listed from the SubscriptionRef; each change notifies the server", () =>
    Effect.gen(function*() {
      const roots = yield* SubscriptionRef.make<ReadonlyArray<{ uri: string; name?: string }>>([
        { uri: "file:///a", name: "a" }
      ])
      const tools = yield* McpTools.make({ server: fixture(), handlers: { roots } })
      assert.deepStrictEqual(structured(yield* tools.call("roots", {})), { roots: [{ uri: "file:///a", name: "a" }] })
      const stats = () => Effect.map(tools.call("stats", {}), (r) => structured(r) as unknown as FixtureState)
      assert.strictEqual((yield* stats()).rootsChanged, 0)
      yield* SubscriptionRef.set(roots, [{ uri: "file:///b" }])
      yield* ticks(5)
      assert.strictEqual((yield* stats()).rootsChanged, 1)
      yield* SubscriptionRef.set(roots, [{ uri: "file:///b" }, { uri: "file:///c" }])
      yield* ticks(5)
      assert.strictEqual((yield* stats()).rootsChanged, 2)
      assert.deepStrictEqual(structured(yield* tools.call("roots", {})), {
        roots: [{ uri: "file:///b" }, { uri: "file:///c" }]
      })
    }))

  it.scoped("a fixed roots list is served and advertised without listChanged", () =>
    Effect.gen(function*() {
      const seen: Array<unknown> = []
      const tools = yield* McpTools.make({ server: fixture(seen), handlers: { roots: [{ uri: "file:///x" }] } })
      assert.deepStrictEqual(structured(yield* tools.call("roots", {})), { roots: [{ uri: "file:///x" }] })
      assert.deepStrictEqual(seen, [{ roots: {} }])
    }))

  it.scoped("a failing handler answers a generic JSON-RPC error (no detail) and the session goes on", () => {
    const logs: Array<string> = []
    return Effect.gen(function*() {
      let calls = 0
      const tools = yield* McpTools.make({
        server: fixture(),
        handlers: {
          sampling: () => Effect.sync(() => calls++).pipe(Effect.zipRight(Effect.fail(new Error("secret-token-123"))))
        }
      })
      for (let i = 0; i < 2; i++) {
        const text = rpcErrorText(yield* Effect.exit(tools.call("sample", { prompt: "x" })))
        assert.strictEqual(text, "-32603 the client's sampling/createMessage handler failed")
      }
      assert.strictEqual(calls, 2)
      assert.deepStrictEqual(structured(yield* tools.call("add", { a: 1, b: 2 })), { sum: 3 })
      assert.deepStrictEqual(logs.filter((line) => line.includes("handler")), [
        "the sampling/createMessage handler failed: Error; the server is answered with an error",
        "the sampling/createMessage handler failed: Error; the server is answered with an error"
      ])
      assert.isFalse(logs.some((line) => line.includes("secret-token-123")))
    }).pipe(Effect.provide(Logger.replace(
      Logger.defaultLogger,
      Logger.make(({ message }) => {
        logs.push(String(Array.isArray(message) ? message[0] : message))
      })
    )))
  })

  it.scoped("a defect in a handler is answered like a failure", () =>
    Effect.gen(function*() {
      const tools = yield* McpTools.make({
        server: fixture(),
        handlers: { sampling: () => Effect.dieMessage("boom") }
      })
      const text = rpcErrorText(yield* Effect.exit(tools.call("sample", { prompt: "x" })))
      assert.strictEqual(text, "-32603 the client's sampling/createMessage handler failed")
      assert.deepStrictEqual(structured(yield* tools.call("add", { a: 1, b: 1 })), { sum: 2 })
    }))

  it.scoped("HandlerError chooses the JSON-RPC code and message", () =>
    Effect.gen(function*() {
      const tools = yield* McpTools.make({
        server: fixture(),
        handlers: {
          elicitation: { form: () => new McpHandlers.HandlerError({ code: -32602, message: "no user here" }) }
        }
      })
      assert.strictEqual(rpcErrorText(yield* Effect.exit(tools.call("elicit", {}))), "-32602 no user here")
    }))

  it.effect("a hanging handler is answered with a timeout at its deadline (default 10 minutes)", () =>
    Effect.gen(function*() {
      let interrupted = 0
      const tools = yield* McpTools.make({
        server: fixture(),
        callTimeout: "1 hour",
        handlers: { sampling: () => Effect.onInterrupt(Effect.never, () => Effect.sync(() => interrupted++)) }
      })
      const fiber = yield* Effect.fork(Effect.exit(tools.call("sample", { prompt: "x" })))
      yield* ticks(10)
      yield* TestClock.adjust("9 minutes")
      yield* ticks(10)
      assert.isNull(fiber.unsafePoll(), "the call should still wait at 9 minutes")
      yield* TestClock.adjust("1 minute")
      yield* ticks(10)
      const exit = fiber.unsafePoll()
      assert.isNotNull(exit, "the handler's deadline should have answered the server at 10 minutes")
      assert.match(rpcErrorText(Exit.flatten(exit!)), /^-32001 the client's sampling\/createMessage handler timed out/)
      assert.strictEqual(interrupted, 1)
      assert.deepStrictEqual(structured(yield* tools.call("add", { a: 2, b: 2 })), { sum: 4 })
    }).pipe(Effect.scoped))

  it.effect("past maxInFlight the server is answered at once; the running handlers are not disturbed", () =>
    Effect.gen(function*() {
      const tools = yield* McpTools.make({
        server: fixture(),
        handlers: { sampling: () => Effect.never, maxInFlight: 2, timeout: "5 seconds" }
      })
      const hanging = yield* Effect.fork(
        Effect.all([tools.call("sample", { prompt: "1" }), tools.call("sample", { prompt: "2" })], {
          concurrency: 2,
          mode: "either"
        })
      )
      yield* ticks(10)
      for (let i = 0; i < 2; i++) {
        const refused = rpcErrorText(yield* Effect.exit(tools.call("sample", { prompt: "3" })))
        assert.strictEqual(refused, "-32603 too many sampling/createMessage requests in flight (maxInFlight: 2)")
      }
      assert.isNull(hanging.unsafePoll(), "the two handlers in flight should still run")
      yield* TestClock.adjust("5 seconds")
      const [first, second] = yield* Fiber.join(hanging)
      assert.isTrue(first!._tag === "Left" && second!._tag === "Left")
      // the slots are free again
      const again = yield* Effect.fork(Effect.exit(tools.call("sample", { prompt: "4" })))
      yield* ticks(10)
      yield* TestClock.adjust("5 seconds")
      assert.match(rpcErrorText(yield* Fiber.join(again)), /^-32001 /)
    }).pipe(Effect.scoped))
})
