import { assert, describe, it } from "@effect/vitest"
import { McpClient, McpTools } from "@mcp-resilience/client"
import { RetryPolicy } from "@mcp-resilience/policy"
import { FlakyServer, VirtualTime } from "@mcp-resilience/testing"
import { Duration, Effect, Exit, Fiber, Redacted } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import { eventually, failureOf, fast, policy, processesMentioning } from "./utils.js"

describe("FlakyServer.inMemory (TestClock)", () => {
  it.effect("down for N connects: McpClient connects on attempt N+1 after exactly the policy's delays", () =>
    Effect.gen(function*() {
      const server = yield* FlakyServer.inMemory({ downForConnects: 3 })
      const { exit, virtualMillis } = yield* VirtualTime.run(
        McpClient.make(server.config, { policy }).pipe(Effect.map((client) => client.attempts), Effect.scoped)
      )
      assert.deepStrictEqual(exit, Exit.succeed(4))
      assert.strictEqual(virtualMillis, 1_000 + 2_000 + 4_000)
      const stats = server.stats()
      assert.strictEqual(stats.connects, 4)
      assert.strictEqual(stats.refused, 3)
      assert.deepStrictEqual(stats.connectTimes, [0, 1_000, 3_000, 7_000])
    }))

  it.effect("down for more connects than attempts: the last McpConnectError Refused", () =>
    Effect.gen(function*() {
      const server = yield* FlakyServer.inMemory({ name: "warming", downForConnects: 10 })
      const { exit } = yield* VirtualTime.run(Effect.scoped(McpClient.make(server.config, { policy })))
      const error = failureOf(exit)
      assert.strictEqual(error?._tag, "McpConnectError")
      assert.strictEqual(error?._tag === "McpConnectError" ? error.reason : undefined, "Refused")
      assert.include(error?.message ?? "", "down (connect 5 of the first 10 refused)")
      assert.strictEqual(server.stats().connects, 5)
    }))

  it.effect("delay: every tool answer waits on the TestClock, and a shorter deadline wins", () =>
    Effect.gen(function*() {
      const server = yield* FlakyServer.inMemory({ delay: "3 seconds" })
      const { exit, virtualMillis } = yield* VirtualTime.run(
        Effect.gen(function*() {
          const client = yield* McpClient.make(server.config, { policy })
          const sum = yield* client.callTool("add", { a: 2, b: 3 })
          const late = yield* Effect.flip(client.callTool("echo", { text: "x" }, { timeout: "1 second" }))
          return { sum: sum.structuredContent, late: late._tag }
        }).pipe(Effect.scoped)
      )
      assert.deepStrictEqual(exit, Exit.succeed({ sum: { sum: 5 }, late: "McpTimeoutError" }))
      assert.strictEqual(virtualMillis, 4_000)
    }))

  it.effect("handshakeDelay: initialize is answered late; an attempt timeout shorter than it retries", () =>
    Effect.gen(function*() {
      const server = yield* FlakyServer.inMemory({ handshakeDelay: "2 seconds" })
      const ok = yield* VirtualTime.run(Effect.scoped(McpClient.make(server.config, { policy })))
      assert.isTrue(Exit.isSuccess(ok.exit))
      assert.strictEqual(ok.virtualMillis, 2_000)
      const impatient = RetryPolicy.make({ ...policy, maxAttempts: 2, attemptTimeout: "1 second" })
      const timedOut = yield* VirtualTime.run(Effect.scoped(McpClient.make(server.config, { policy: impatient })))
      const error = failureOf(timedOut.exit)
      assert.strictEqual(error?._tag, "McpTimeoutError")
      assert.strictEqual(timedOut.virtualMillis, 1_000 + 1_000 + 1_000)
    }))

  it.effect("crash on the Kth call: every live connection closes, the next connect works", () =>
    Effect.gen(function*() {
      const server = yield* FlakyServer.inMemory({ crashOnCall: 2 })
      const { exit } = yield* VirtualTime.run(
        Effect.gen(function*() {
          const client = yield* McpClient.make(server.config, { policy })
          const first = yield* client.callTool("counter", {})
          const crashed = yield* Effect.flip(client.callTool("counter", {}))
          const closed = yield* client.closed
          return { first: first.structuredContent, crashed, closed: closed.reason, open: client.isOpen() }
        }).pipe(Effect.scoped)
      )
      assert.isTrue(Exit.isSuccess(exit))
      if (Exit.isSuccess(exit)) {
        assert.deepStrictEqual(exit.value.first, { count: 1 })
        assert.strictEqual(exit.value.crashed._tag, "McpConnectError")
        if (exit.value.crashed._tag === "McpConnectError") {
          assert.strictEqual(exit.value.crashed.reason, "Closed")
          assert.isTrue(exit.value.crashed.maybeExecuted)
        }
        assert.strictEqual(exit.value.closed, "Closed")
        assert.isFalse(exit.value.open)
      }
      const again = yield* VirtualTime.run(
        Effect.gen(function*() {
          const client = yield* McpClient.make(server.config, { policy })
          return (yield* client.callTool("counter", {})).structuredContent
        }).pipe(Effect.scoped)
      )
      assert.deepStrictEqual(again.exit, Exit.succeed({ count: 2 }))
      const stats = server.stats()
      assert.strictEqual(stats.crashes, 1)
      assert.strictEqual(stats.calls, 3)
      assert.deepStrictEqual(stats.executions, { counter: 2 })
    }))

  it.effect("tools and toolsAfter: the list changes after the Nth call and McpTools follows", () =>
    Effect.gen(function*() {
      const server = yield* FlakyServer.inMemory({
        tools: ["echo", "add"],
        toolsAfter: { calls: 1, tools: ["echo", "search"] }
      })
      const { exit } = yield* VirtualTime.run(
        Effect.gen(function*() {
          const tools = yield* McpTools.make({ server: server.config, policy })
          const before = (yield* tools.tools).map((t) => t.name)
          const searched = yield* Effect.either(tools.call("search", { text: "too early" }))
          yield* tools.call("echo", { text: "flip" })
          yield* Effect.sleep("1 second") // past the refresh debounce
          const after = (yield* tools.tools).map((t) => t.name)
          const found = yield* tools.call("search", { text: "now" })
          return { before, searchedEarly: searched._tag, after, found: found.content }
        }).pipe(Effect.scoped)
      )
      assert.deepStrictEqual(
        exit,
        Exit.succeed({
          before: ["echo", "add"],
          searchedEarly: "Left",
          after: ["echo", "search"],
          found: [{ type: "text", text: "search: now" }]
        })
      )
      assert.strictEqual(server.stats().toolListChanges, 1)
    }))

  it.effect("built-in tools: echo, add, counter, fail", () =>
    Effect.gen(function*() {
      const server = yield* FlakyServer.inMemory()
      const { exit } = yield* VirtualTime.run(
        Effect.gen(function*() {
          const client = yield* McpClient.make(server.config, { policy })
          const names = (yield* client.listTools()).map((t) => t.name)
          const echo = yield* client.callTool("echo", { text: "hi" })
          const add = yield* client.callTool("add", { a: 1, b: 2 })
          const fail = yield* client.callTool("fail", { message: "nope" })
          const bad = yield* Effect.flip(client.callTool("add", { a: "1" }))
          return { names, echo: echo.content, add: add.structuredContent, fail: fail.isError, bad: bad._tag }
        }).pipe(Effect.scoped)
      )
      assert.deepStrictEqual(
        exit,
        Exit.succeed({
          names: ["echo", "add", "counter", "fail"],
          echo: [{ type: "text", text: "hi" }],
          add: { sum: 3 },
          fail: true,
          bad: "McpProtocolError"
        })
      )
    }))

  it.effect("crash() on demand closes live sessions", () =>
    Effect.gen(function*() {
      const server = yield* FlakyServer.inMemory()
      const { exit } = yield* VirtualTime.run(
        Effect.gen(function*() {
          const client = yield* McpClient.make(server.config, { policy })
          server.crash()
          return (yield* client.closed).reason
        }).pipe(Effect.scoped)
      )
      assert.deepStrictEqual(exit, Exit.succeed("Closed"))
    }))

  it("rejects a bad script", () => {
    assert.throws(() => Effect.runSync(FlakyServer.inMemory({ crashOnCall: 0 })), /crashOnCall/)
  })
})

describe("FlakyServer.http (127.0.0.1, live clock)", () => {
  it.live("401: McpAuthError, tried once", () =>
    Effect.gen(function*() {
      const server = yield* FlakyServer.http({ status: { code: 401 } })
      const error = yield* Effect.flip(McpClient.make(server.config, { policy: fast }))
      assert.strictEqual(error._tag, "McpAuthError")
      if (error._tag === "McpAuthError") assert.strictEqual(error.status, 401)
      assert.strictEqual(server.stats().statusAnswers, 1)
    }).pipe(Effect.scoped))

  it.live("503 with Retry-After: McpConnectError Http carries it, and the policy waits for it", () =>
    Effect.gen(function*() {
      const server = yield* FlakyServer.http({ status: { code: 503, retryAfter: 1, first: 1 } })
      const once = RetryPolicy.make({ ...fast, maxAttempts: 1 })
      const error = yield* Effect.flip(Effect.scoped(McpClient.make(server.config, { policy: once })))
      assert.strictEqual(error._tag, "McpConnectError")
      if (error._tag === "McpConnectError") {
        assert.strictEqual(error.reason, "Http")
        assert.strictEqual(error.status, 503)
        assert.deepStrictEqual(error.retryAfter, Duration.seconds(1))
      }

      const busy = yield* FlakyServer.http({ status: { code: 503, retryAfter: 1, first: 1 } })
      const delays: Array<number> = []
      const client = yield* McpClient.make(busy.config, {
        policy: fast,
        onRetry: (step) => Effect.sync(() => delays.push(Duration.toMillis(step.delay)))
      })
      assert.strictEqual(client.attempts, 2)
      assert.deepStrictEqual(delays, [1_000]) // 20 ms backoff, raised to the server's Retry-After
      const result = yield* client.callTool("add", { a: 1, b: 1 })
      assert.deepStrictEqual(result.structuredContent, { sum: 2 })
    }).pipe(Effect.scoped))

  it.live("down for N connects: 503 on initialize, connected on attempt N+1; calls, delay and crash", () =>
    Effect.gen(function*() {
      const server = yield* FlakyServer.http({ downForConnects: 2, delay: "50 millis", crashOnCall: 2 })
      const client = yield* McpClient.make(server.config, { policy: fast })
      assert.strictEqual(client.attempts, 3)
      assert.isString(client.sessionId)
      const started = Date.now()
      const first = yield* client.callTool("counter", {})
      assert.isAtLeast(Date.now() - started, 45)
      assert.deepStrictEqual(first.structuredContent, { count: 1 })
      const crashed = yield* Effect.flip(client.callTool("counter", {}, { timeout: "5 seconds" }))
      assert.strictEqual(crashed._tag, "McpConnectError")
      const stats = server.stats()
      assert.strictEqual(stats.connects, 3)
      assert.strictEqual(stats.refused, 2)
      assert.strictEqual(stats.crashes, 1)
      assert.deepStrictEqual(stats.executions, { counter: 1 })
    }).pipe(Effect.scoped))

  it.live("closing the scope stops listening", () =>
    Effect.gen(function*() {
      const url = yield* Effect.scoped(Effect.gen(function*() {
        const server = yield* FlakyServer.http()
        const client = yield* McpClient.make(server.config, { policy: fast })
        yield* client.callTool("echo", { text: "hi" })
        return server.url
      }))
      const port = Number(new URL(url).port)
      const refused = yield* Effect.promise(() =>
        new Promise<string>((resolve) => {
          const socket = net.connect(port, "127.0.0.1")
          socket.once("connect", () => {
            socket.destroy()
            resolve("connected")
          })
          socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message))
        })
      )
      assert.strictEqual(refused, "ECONNREFUSED")
    }))
})

describe("FlakyServer.stdio (child processes, live clock)", () => {
  it.live("down for N connects: the child exits before the handshake, attempt N+1 connects; no process left", () =>
    Effect.gen(function*() {
      let stateFile = ""
      const pid = yield* Effect.scoped(Effect.gen(function*() {
        const server = yield* FlakyServer.stdio({ downForConnects: 2 })
        stateFile = server.stateFile
        const client = yield* Effect.scoped(Effect.gen(function*() {
          const client = yield* McpClient.make(server.config, { policy: fast })
          assert.strictEqual(client.attempts, 3)
          assert.deepStrictEqual(server.pids(), [client.pid!])
          const result = yield* client.callTool("echo", { text: "over stdio" })
          assert.deepStrictEqual(result.content, [{ type: "text", text: "over stdio" }])
          return client
        }))
        assert.deepStrictEqual(server.pids(), [])
        const stats = server.stats()
        assert.strictEqual(stats.connects, 3)
        assert.strictEqual(stats.refused, 2)
        return client.pid
      }))
      assert.isNumber(pid)
      assert.deepStrictEqual(processesMentioning(stateFile), [])
      assert.isFalse(fs.existsSync(stateFile))
    }))

  it.live("crash on the Kth call: the child exits, the call fails Closed; counters survive the restart", () =>
    Effect.gen(function*() {
      const server = yield* FlakyServer.stdio({ crashOnCall: 2 })
      const crashed = yield* Effect.scoped(Effect.gen(function*() {
        const client = yield* McpClient.make(server.config, { policy: fast })
        yield* client.callTool("counter", {})
        const error = yield* Effect.flip(client.callTool("counter", {}, { timeout: "5 seconds" }))
        yield* client.closed
        return error
      }))
      assert.strictEqual(crashed._tag, "McpConnectError")
      if (crashed._tag === "McpConnectError") {
        assert.strictEqual(crashed.reason, "Closed")
        assert.include(crashed.message, "code 3")
      }
      const count = yield* Effect.scoped(Effect.gen(function*() {
        const client = yield* McpClient.make(server.config, { policy: fast })
        return (yield* client.callTool("counter", {})).structuredContent
      }))
      assert.deepStrictEqual(count, { count: 2 })
      assert.strictEqual(server.stats().crashes, 1)
      assert.strictEqual(server.stats().connects, 2)
      assert.deepStrictEqual(server.pids(), [])
      assert.deepStrictEqual(processesMentioning(server.stateFile), [])
    }).pipe(Effect.scoped))

  it.live("a failing test still stops the child: the scope kills what is left", () =>
    Effect.gen(function*() {
      let stateFile = ""
      let calls = () => 0
      const fiber = yield* Effect.fork(Effect.scoped(Effect.gen(function*() {
        const server = yield* FlakyServer.stdio({ delay: "1 minute" })
        stateFile = server.stateFile
        calls = () => server.stats().calls
        const client = yield* McpClient.make(server.config, { policy: fast })
        yield* client.callTool("echo", { text: "never answered" })
      })))
      yield* eventually(() => processesMentioning(stateFile).length === 1, "the child to start")
      yield* eventually(() => calls() === 1, "the call to reach the server")
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(processesMentioning(stateFile), [])
      assert.isFalse(fs.existsSync(stateFile))
    }))

  it.live("closing the server's scope kills a child that nobody stopped", () =>
    Effect.gen(function*() {
      let stateFile = ""
      let child: ChildProcess | undefined
      yield* Effect.scoped(Effect.gen(function*() {
        const server = yield* FlakyServer.stdio()
        stateFile = server.stateFile
        const env = Object.fromEntries(Object.entries(server.config.env).map(([k, v]) => [k, Redacted.value(v)]))
        child = spawn(server.config.command, [...server.config.args], { env, stdio: ["pipe", "ignore", "ignore"] })
        yield* eventually(() => server.pids().length === 1, "the child to start")
      }))
      yield* eventually(() => child?.exitCode !== null || child?.signalCode !== null, "the child to exit")
      assert.strictEqual(child?.signalCode, "SIGKILL")
      assert.deepStrictEqual(processesMentioning(stateFile), [])
    }))
})
