/**
 * Supervision with real servers: the session is replaced when the child dies, the HTTP server
 * restarts, or pings go unanswered; tool lists refresh on list_changed; calls are retried only
 * when that is safe.
 */
import { assert, describe, it } from "@effect/vitest"
import { RetryPolicy } from "@mcp-resilience/policy"
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js"
import { Effect, Fiber, Ref, Stream, TestClock } from "effect"
import * as path from "node:path"
import * as McpServerConfig from "../src/McpServerConfig.js"
import { McpTools } from "../src/McpTools.js"
import { fixturesDir, readState, spawnHttpFixture } from "./fixtures/paths.js"
import { eventually, fixture, makeTestServer, processesMentioning, stateFiles, tick } from "./utils.js"

const fast = RetryPolicy.make({
  maxAttempts: 5,
  base: "20 millis",
  cap: "200 millis",
  jitter: "none",
  attemptTimeout: "10 seconds",
  deadline: "30 seconds"
})

const tinyServer = path.join(fixturesDir, "tiny-server.mjs")

const newState = stateFiles()

describe("supervision over stdio", () => {
  it.live("a killed server is replaced and the next call succeeds on a new process", () =>
    Effect.gen(function*() {
      const state = newState()
      yield* Effect.scoped(Effect.gen(function*() {
        const tools = yield* McpTools.make({ server: fixture(state), policy: fast })
        const statuses = yield* Ref.make<Array<string>>([])
        yield* Effect.fork(
          Stream.runForEach(tools.statusChanges, (s) => Ref.update(statuses, (all) => [...all, s._tag]))
        )
        const firstPid = tools.client?.pid
        assert.isDefined(firstPid)
        process.kill(firstPid!, "SIGKILL")
        const echoed = yield* tools.call("echo", { text: "again" })
        assert.deepStrictEqual(echoed.content, [{ type: "text", text: "again" }])
        const secondPid = tools.client?.pid
        assert.notStrictEqual(secondPid, firstPid)
        assert.strictEqual(yield* tools.sessions, 2)
        assert.deepStrictEqual(processesMentioning(state), [secondPid])
        yield* eventually(() => true, "")
        const seen = yield* Ref.get(statuses)
        assert.strictEqual(seen[0], "Connected")
        assert.include(seen, "Reconnecting")
        assert.strictEqual(seen[seen.length - 1], "Connected")
      }))
      assert.deepStrictEqual(processesMentioning(state), [])
    }))

  it.live("100 reconnections leave exactly one process", () =>
    Effect.gen(function*() {
      const state = newState()
      yield* Effect.scoped(Effect.gen(function*() {
        // the dependency-free server starts in milliseconds; the state file path marks its processes
        const tools = yield* McpTools.make({
          server: McpServerConfig.stdio({ name: "tiny", command: process.execPath, args: [tinyServer, state] }),
          policy: fast,
          resetAfter: "1 millis"
        })
        for (let i = 0; i < 100; i++) {
          const error = yield* Effect.flip(tools.call("crash"))
          assert.strictEqual(error._tag, "McpConnectError")
          const echoed = yield* tools.call("echo", { text: String(i) })
          assert.deepStrictEqual(echoed.content, [{ type: "text", text: String(i) }])
        }
        assert.strictEqual(yield* tools.sessions, 101)
        assert.strictEqual(processesMentioning(state).length, 1)
      }))
      assert.deepStrictEqual(processesMentioning(state), [])
    }), 120_000)

  it.live("a non-idempotent call cut off after it was sent is not repeated", () =>
    Effect.gen(function*() {
      const state = newState()
      yield* Effect.scoped(Effect.gen(function*() {
        const tools = yield* McpTools.make({ server: fixture(state, "--exit-on-call", "counter"), policy: fast })
        const error = yield* Effect.flip(tools.call("counter"))
        assert.strictEqual(error._tag, "McpConnectError")
        assert.isTrue((error as { maybeExecuted?: boolean }).maybeExecuted)
        assert.strictEqual(readState(state).executions.counter, 1)
      }))
    }))

  it.live("a call cut off after the tool ran is retried only when the tool or the caller says it is safe", () =>
    Effect.gen(function*() {
      const state = newState()
      const executions = () => readState(state).executions
      yield* Effect.scoped(Effect.gen(function*() {
        // every answer waits 300 ms after the tool ran: a kill in that window cuts off a call that executed
        const tools = yield* McpTools.make({ server: fixture(state, "--delay-ms", "300"), policy: fast })
        const cut = (name: string, args: Record<string, unknown>, idempotent: boolean, count: () => number) =>
          Effect.gen(function*() {
            yield* eventually(() => tools.client !== undefined, "a live session")
            const before = count()
            const pid = tools.client!.pid!
            const call = yield* Effect.fork(Effect.either(tools.call(name, args, { idempotent })))
            yield* eventually(() => count() > before, `${name} to run`)
            process.kill(pid, "SIGKILL")
            return yield* Fiber.join(call)
          })
        // counter is neither read-only nor idempotent: at most once, and the error says it may have run
        const once = yield* cut("counter", {}, false, () => executions().counter ?? 0)
        assert.isTrue(once._tag === "Left" && (once.left as { maybeExecuted?: boolean }).maybeExecuted === true)
        assert.strictEqual(executions().counter, 1)
        // the caller marks it idempotent: retried on the new session
        const again = yield* cut("counter", {}, true, () => executions().counter ?? 0)
        assert.strictEqual(again._tag, "Right")
        assert.strictEqual(executions().counter, 3)
        // echo is annotated read-only: retried without a mark
        const echoed = yield* cut("echo", { text: "x" }, false, () => executions().echo ?? 0)
        assert.strictEqual(echoed._tag, "Right")
        assert.strictEqual(executions().echo, 2)
      }))
    }))

  it.live("a call made while the server is down waits within its deadline, then fails typed", () =>
    Effect.gen(function*() {
      const state = newState()
      yield* Effect.scoped(Effect.gen(function*() {
        const tools = yield* McpTools.make({
          server: fixture(state, "--exit-on-call", "crash"),
          policy: RetryPolicy.make({ ...fast, base: "5 seconds", cap: "5 seconds" }),
          resetAfter: "1 hour"
        })
        // two crashes in a row: the second reconnect waits 5 s
        yield* Effect.flip(tools.call("crash"))
        yield* eventually(() => readState(state).spawns === 2, "the first reconnect")
        yield* eventually(() => tools.client !== undefined, "the second session")
        yield* Effect.flip(tools.call("crash"))
        const started = Date.now()
        const error = yield* Effect.flip(tools.call("echo", { text: "x" }, { timeout: "300 millis" }))
        const waited = Date.now() - started
        assert.strictEqual(error._tag, "McpTimeoutError")
        assert.include(error.message, "waiting for a session")
        assert.isAtLeast(waited, 250)
        assert.isBelow(waited, 3000)
      }))
    }))

  it.live("a changed tool list is seen without reconnecting", () =>
    Effect.gen(function*() {
      const state = newState()
      yield* Effect.scoped(Effect.gen(function*() {
        const tools = yield* McpTools.make({ server: fixture(state), policy: fast, refreshDebounce: "20 millis" })
        assert.isFalse((yield* tools.tools).some((t) => t.name === "brand_new"))
        const changed = yield* Effect.fork(
          tools.toolsChanges.pipe(Stream.filter((list) => list.some((t) => t.name === "brand_new")), Stream.runHead)
        )
        yield* tools.call("set_tools", { add: ["brand_new"] })
        const list = yield* Fiber.join(changed)
        assert.isTrue(list._tag === "Some")
        const result = yield* tools.call("brand_new", { text: "hi" })
        assert.include(JSON.stringify(result.content), "hi")
        assert.strictEqual(yield* tools.sessions, 1)
      }))
    }))
})

describe("supervision over Streamable HTTP", () => {
  it.live("a server restarted on the same port gets a new session (404 on the old one)", () =>
    Effect.gen(function*() {
      const first = yield* Effect.promise(() => spawnHttpFixture([]))
      let second: Awaited<ReturnType<typeof spawnHttpFixture>> | undefined
      yield* Effect.scoped(Effect.gen(function*() {
        const tools = yield* McpTools.make({
          server: McpServerConfig.http({ name: "http", url: first.url }),
          policy: fast
        })
        const oldSession = tools.client?.sessionId
        yield* tools.call("echo", { text: "one" })
        yield* Effect.promise(() => first.kill("SIGKILL"))
        second = yield* Effect.promise(() => spawnHttpFixture(["--port", String(first.port)]))
        const echoed = yield* tools.call("echo", { text: "two" })
        assert.deepStrictEqual(echoed.content, [{ type: "text", text: "two" }])
        assert.isString(tools.client?.sessionId)
        assert.notStrictEqual(tools.client?.sessionId, oldSession)
        assert.strictEqual(yield* tools.sessions, 2)
      })).pipe(
        Effect.ensuring(Effect.promise(() => Promise.all([first.kill("SIGKILL"), second?.kill("SIGKILL")])))
      )
    }))
})

/** Wraps the server's side of an in-memory pair so a test can make it stop answering pings. */
const deafToPings = (inner: Transport, deaf: { value: boolean }): Transport => {
  const wrapper: Transport = {
    start: () => inner.start(),
    send: (message, options) => inner.send(message, options),
    close: () => inner.close()
  }
  inner.onmessage = (message: JSONRPCMessage, extra) => {
    if (deaf.value && "method" in message && message.method === "ping") return
    wrapper.onmessage?.(message, extra)
  }
  inner.onclose = () => wrapper.onclose?.()
  inner.onerror = (error) => wrapper.onerror?.(error)
  return wrapper
}

describe("health checks under TestClock", () => {
  it.effect("a server that stops answering pings is replaced after exactly N intervals", () =>
    Effect.gen(function*() {
      const deaf = { value: false }
      let connects = 0
      const server = McpServerConfig.inMemory({
        name: "mem",
        connect: (transport) => {
          connects++
          return makeTestServer().connect(deafToPings(transport, connects === 1 ? deaf : { value: false }))
        }
      })
      yield* Effect.scoped(Effect.gen(function*() {
        const tools = yield* McpTools.make({
          server,
          policy: fast,
          health: { interval: "30 seconds", timeout: "5 seconds", misses: 3 }
        })
        for (let i = 0; i < 5; i++) yield* tick
        yield* TestClock.adjust("60 seconds") // two answered pings
        for (let i = 0; i < 5; i++) yield* tick
        assert.strictEqual(yield* tools.sessions, 1)
        deaf.value = true
        // pings at 90, 120 and 150 s go unanswered; the third times out at 155 s
        for (let t = 60; t < 154; t++) {
          yield* TestClock.adjust("1 second")
          for (let i = 0; i < 3; i++) yield* tick
        }
        assert.strictEqual(yield* tools.sessions, 1, "still the first session at 154 s")
        yield* TestClock.adjust("1 second")
        for (let i = 0; i < 10; i++) yield* tick
        assert.strictEqual(yield* tools.sessions, 2, "replaced at 155 s")
        assert.strictEqual(connects, 2)
        const sum = yield* tools.call("add", { a: 1, b: 1 })
        assert.deepStrictEqual(sum.structuredContent, { sum: 2 })
      }))
    }))
})

describe("the first listing under TestClock", () => {
  /** A raw in-memory server whose `tools/list` answers page 1 with a cursor and never answers page 2. */
  const stuckOnPage2 = (cancelled: Array<unknown>) =>
    McpServerConfig.inMemory({
      name: "pages",
      connect: async (transport) => {
        const reply = (id: unknown, result: unknown) => transport.send({ jsonrpc: "2.0", id, result } as JSONRPCMessage)
        transport.onmessage = (message) => {
          const m = message as { id?: unknown; method?: string; params?: Record<string, unknown> }
          if (m.method === "notifications/cancelled") cancelled.push(m.params?.requestId)
          if (m.id === undefined) return
          if (m.method === "initialize") {
            void reply(m.id, {
              protocolVersion: m.params?.protocolVersion,
              capabilities: { tools: {} },
              serverInfo: { name: "pages", version: "1" }
            })
          } else if (m.method === "tools/list" && m.params?.cursor === undefined) {
            void reply(m.id, { tools: [{ name: "one", inputSchema: { type: "object" } }], nextCursor: "page-2" })
          }
        }
        await transport.start()
      }
    })

  it.effect("a listing still running at the connect deadline fails startup exactly then, and is cancelled", () =>
    Effect.gen(function*() {
      const cancelled: Array<unknown> = []
      const fiber = yield* Effect.fork(Effect.scoped(McpTools.make({
        server: stuckOnPage2(cancelled),
        policy: RetryPolicy.make({ maxAttempts: 1, deadline: "5 seconds" }),
        callTimeout: "60 seconds"
      })))
      for (let i = 0; i < 5; i++) yield* tick
      yield* TestClock.adjust("4999 millis")
      for (let i = 0; i < 5; i++) yield* tick
      assert.isNull(fiber.unsafePoll(), "startup ended before the connect deadline")
      yield* TestClock.adjust("1 millis")
      for (let i = 0; i < 5; i++) yield* tick
      const exit = fiber.unsafePoll()
      assert.isNotNull(exit, "startup still running at the connect deadline")
      const error = yield* Effect.flip(exit!)
      assert.strictEqual(error._tag, "McpTimeoutError")
      assert.strictEqual(
        error.message,
        "[pages] tools/list (the first listing, within the connect deadline) timed out after 5s"
      )
      assert.strictEqual(cancelled.length, 1, "the server was not told to cancel page 2")
    }))
})
