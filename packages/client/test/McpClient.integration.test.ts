import { fileURLToPath } from "node:url"
/**
 * McpClient against real servers: the fixture server as a stdio child and over Streamable
 * HTTP on 127.0.0.1, and @modelcontextprotocol/server-everything. These tests run real
 * processes, so they use the live clock with short delays; the retry arithmetic itself is
 * tested under TestClock in McpClient.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import { RetryPolicy } from "@mcp-resilience/policy"
import { Cause, Duration, Effect, Exit, Fiber, Option } from "effect"
import * as McpClient from "../src/McpClient.js"
import * as McpServerConfig from "../src/McpServerConfig.js"
import { readState, serverEverything, spawnEverythingHttp } from "./fixtures/paths.js"
import { startHttp } from "./fixtures/server.mjs"
import { eventually, fixture, processesMentioning, stateFiles } from "./utils.js"

const fast = RetryPolicy.make({
  maxAttempts: 4,
  base: "20 millis",
  factor: 2,
  cap: "200 millis",
  jitter: "none",
  attemptTimeout: "10 seconds",
  deadline: "30 seconds"
})

const newState = stateFiles()

const failureOf = <A, E>(exit: Exit.Exit<A, E>) =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined

const demoServer = fileURLToPath(new URL("../examples/demo-server.mjs", import.meta.url))

describe("stdio", () => {
  it.live("connects after N refused starts, then stops the child on close", () =>
    Effect.gen(function*() {
      const state = newState()
      const pid = yield* Effect.scoped(Effect.gen(function*() {
        const client = yield* McpClient.make(fixture(state, "--refuse-first", "2"), { policy: fast })
        assert.strictEqual(client.attempts, 3)
        assert.deepStrictEqual(processesMentioning(state), [client.pid])
        const result = yield* client.callTool("echo", { text: "hi" })
        assert.deepStrictEqual(result.content, [{ type: "text", text: "hi" }])
        return client.pid
      }))
      assert.isDefined(pid)
      assert.deepStrictEqual(processesMentioning(state), [])
      assert.strictEqual(readState(state).spawns, 3)
    }))

  it.live("gives up after maxAttempts with the last typed error, naming the server's stderr", () =>
    Effect.gen(function*() {
      const state = newState()
      const exit = yield* McpClient.make(fixture(state, "--refuse-first", "10"), { policy: fast }).pipe(
        Effect.scoped,
        Effect.exit
      )
      const error = failureOf(exit)
      assert.strictEqual(error?._tag, "McpConnectError")
      assert.include(error?.message ?? "", "Closed")
      assert.include(error?.message ?? "", "exited with code 1")
      assert.include(error?.message ?? "", "refusing start 4 of 10")
      assert.strictEqual(readState(state).spawns, 4)
      assert.deepStrictEqual(processesMentioning(state), [])
    }))

  it.live("every failed start names the exit and the stderr, not the write that hit the closed stdin (EPIPE)", () =>
    Effect.gen(function*() {
      // the bundled demo server exits with "warming up" after loading: the initialize write often
      // meets its closed stdin first
      const state = newState()
      const server = McpServerConfig.stdio({
        name: "demo",
        command: process.execPath,
        args: [demoServer],
        env: { DEMO_STATE_FILE: state, DEMO_NOT_READY_FOR: "10" }
      })
      const seen: Array<string> = []
      const exit = yield* McpClient.make(server, {
        policy: fast,
        onRetry: (step) => Effect.sync(() => void seen.push((step.error as Error).message))
      }).pipe(Effect.scoped, Effect.exit)
      const messages = [...seen, failureOf(exit)?.message ?? ""]
      assert.strictEqual(messages.length, 4)
      messages.forEach((message, i) => {
        assert.include(message, "exited with code 1", `attempt ${i + 1}: ${message}`)
        assert.include(message, `warming up (start ${i + 1} of 11)`, `attempt ${i + 1}: ${message}`)
      })
    }))

  it.live("retries JSON-RPC errors to initialize as handshake failures", () =>
    Effect.gen(function*() {
      const state = newState()
      const attempts = yield* McpClient.make(fixture(state, "--fail-handshakes", "2"), { policy: fast }).pipe(
        Effect.map((client) => client.attempts),
        Effect.scoped
      )
      assert.strictEqual(attempts, 3)
      assert.deepStrictEqual(processesMentioning(state), [])
    }))

  it.live("a hung initialize times out per attempt and every attempt's child is stopped", () =>
    Effect.gen(function*() {
      const state = newState()
      const policy = RetryPolicy.make({ ...fast, maxAttempts: 2, attemptTimeout: "300 millis" })
      const exit = yield* McpClient.make(fixture(state, "--hang-initialize"), { policy }).pipe(
        Effect.scoped,
        Effect.exit
      )
      const error = failureOf(exit)
      assert.strictEqual(error?._tag, "McpTimeoutError")
      assert.strictEqual(error?.message, "[fixture] connect.attempt timed out after 300ms")
      assert.strictEqual(readState(state).spawns, 2)
      assert.deepStrictEqual(processesMentioning(state), [])
    }))

  it.live("a command that does not exist fails once with Spawn", () =>
    Effect.gen(function*() {
      const exit = yield* McpClient.make(
        McpServerConfig.stdio({ name: "missing", command: "/nonexistent/mcp-server" }),
        { policy: fast }
      ).pipe(Effect.scoped, Effect.exit)
      const error = failureOf(exit)
      assert.strictEqual(error?._tag, "McpConnectError")
      assert.strictEqual((error as { reason?: string }).reason, "Spawn")
      assert.include(error?.message ?? "", "ENOENT")
    }))

  it.live("interruption during a backoff wait leaves no child process", () =>
    Effect.gen(function*() {
      const state = newState()
      const slow = RetryPolicy.make({ ...fast, base: "10 seconds", cap: "10 seconds" })
      const fiber = yield* McpClient.make(fixture(state, "--refuse-first", "100"), { policy: slow }).pipe(
        Effect.scoped,
        Effect.fork
      )
      yield* eventually(() => readState(state).spawns >= 1 && processesMentioning(state).length === 0, "first refusal")
      const started = Date.now()
      yield* Fiber.interrupt(fiber)
      assert.isBelow(Date.now() - started, 1000)
      assert.strictEqual(readState(state).spawns, 1)
      assert.deepStrictEqual(processesMentioning(state), [])
    }))

  it.live("interruption during the handshake stops the child", () =>
    Effect.gen(function*() {
      const state = newState()
      const fiber = yield* McpClient.make(fixture(state, "--hang-initialize"), { policy: fast }).pipe(
        Effect.scoped,
        Effect.fork
      )
      yield* eventually(() => readState(state).initializeRequests >= 1, "the initialize request")
      assert.strictEqual(processesMentioning(state).length, 1)
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(processesMentioning(state), [])
    }))

  it.live("interrupting a call sends notifications/cancelled; closing mid-call stops the child", () =>
    Effect.gen(function*() {
      const state = newState()
      yield* Effect.scoped(Effect.gen(function*() {
        const client = yield* McpClient.make(fixture(state), { policy: fast })
        const call = yield* Effect.fork(client.callTool("slow", { ms: 60_000 }))
        yield* eventually(() => (readState(state).executions.slow ?? 0) >= 1, "the slow call to start")
        yield* Fiber.interrupt(call)
        yield* eventually(() => readState(state).cancelled.length === 1, "the server to see the cancellation")
        assert.strictEqual(readState(state).cancelled[0]?.tool, "slow")
        // a second call in flight when the scope closes
        yield* Effect.fork(client.callTool("slow", { ms: 60_000 }))
        yield* eventually(() => (readState(state).executions.slow ?? 0) >= 2, "the second slow call")
      }))
      assert.deepStrictEqual(processesMentioning(state), [])
    }))

  it.live("a call past its deadline fails with McpTimeoutError and is cancelled on the server", () =>
    Effect.gen(function*() {
      const state = newState()
      const error = yield* Effect.scoped(Effect.gen(function*() {
        const client = yield* McpClient.make(fixture(state), { policy: fast })
        return yield* Effect.flip(client.callTool("slow", { ms: 60_000 }, { timeout: "200 millis" }))
      }))
      assert.strictEqual(error._tag, "McpTimeoutError")
      assert.strictEqual(error.message, "[fixture] tools/call slow timed out after 200ms")
      assert.isTrue((error as { maybeExecuted?: boolean }).maybeExecuted)
      assert.strictEqual(readState(state).cancelled.length, 1)
    }))

  it.live("a server that exits mid-call fails the call with Closed, maybeExecuted", () =>
    Effect.gen(function*() {
      const state = newState()
      const error = yield* Effect.scoped(Effect.gen(function*() {
        const client = yield* McpClient.make(fixture(state, "--exit-on-call", "counter"), { policy: fast })
        const failed = yield* Effect.flip(client.callTool("counter"))
        assert.isFalse(client.isOpen())
        const closed = yield* client.closed
        assert.strictEqual(closed.reason, "Closed")
        return failed
      }))
      assert.strictEqual(error._tag, "McpConnectError")
      assert.strictEqual((error as { reason?: string }).reason, "Closed")
      assert.isTrue((error as { maybeExecuted?: boolean }).maybeExecuted)
      assert.include(error.message, "exited with code 3")
      assert.strictEqual(readState(state).executions.counter, 1)
    }))

  it.live("lines on stdout that are not JSON-RPC are skipped, not fatal", () =>
    Effect.gen(function*() {
      const state = newState()
      const result = yield* Effect.scoped(Effect.gen(function*() {
        const client = yield* McpClient.make(fixture(state, "--invalid-json-at-start", "--invalid-json"), {
          policy: fast
        })
        return yield* client.callTool("add", { a: 2, b: 3 })
      }))
      assert.deepStrictEqual(result.structuredContent, { sum: 5 })
    }))

  it.live("passes only the safe environment plus the configured env", () =>
    Effect.gen(function*() {
      process.env.MCP_RESILIENCE_TEST_LEAK = "must-not-reach-the-child"
      const env = yield* Effect.scoped(Effect.gen(function*() {
        const client = yield* McpClient.make(
          McpServerConfig.stdio({
            name: "everything",
            command: process.execPath,
            args: [serverEverything],
            env: { GIVEN: "yes" }
          }),
          { policy: fast }
        )
        const result = yield* client.callTool("get-env")
        return JSON.stringify(result.content)
      })).pipe(Effect.ensuring(Effect.sync(() => delete process.env.MCP_RESILIENCE_TEST_LEAK)))
      assert.include(env, "GIVEN")
      assert.include(env, "PATH")
      assert.notInclude(env, "must-not-reach-the-child")
    }))
})

describe("Streamable HTTP", () => {
  it.live("connects, calls, and deletes the session on close", () =>
    Effect.gen(function*() {
      const server = yield* Effect.acquireRelease(Effect.promise(() => startHttp({})), (s) =>
        Effect.promise(() => s.close()))
      const sessionId = yield* Effect.scoped(Effect.gen(function*() {
        const client = yield* McpClient.make(McpServerConfig.http({ name: "http", url: server.url }), { policy: fast })
        const result = yield* client.callTool("add", { a: 1, b: 2 })
        assert.deepStrictEqual(result.structuredContent, { sum: 3 })
        return client.sessionId
      }))
      assert.isString(sessionId)
      assert.strictEqual(server.stats.sessionsDeleted, 1)
      assert.deepStrictEqual(server.sessions(), [])
    }).pipe(Effect.scoped))

  it.live("401 is an McpAuthError, tried once", () =>
    Effect.gen(function*() {
      const server = yield* Effect.acquireRelease(
        Effect.promise(() => startHttp({ status: 401 })),
        (s) => Effect.promise(() => s.close())
      )
      const exit = yield* McpClient.make(McpServerConfig.http({ name: "http", url: server.url }), { policy: fast })
        .pipe(
          Effect.scoped,
          Effect.exit
        )
      const error = failureOf(exit)
      assert.strictEqual(error?._tag, "McpAuthError")
      assert.include(error?.message ?? "", "HTTP 401")
      assert.strictEqual(server.stats.httpPosts, 1)
    }).pipe(Effect.scoped))

  it.live("503 carries Retry-After on the error, and is retried until it clears", () =>
    Effect.gen(function*() {
      const server = yield* Effect.acquireRelease(
        Effect.promise(() => startHttp({ status: 503, retryAfter: 1, statusFirst: 2 })),
        (s) => Effect.promise(() => s.close())
      )
      const once = RetryPolicy.make({ ...fast, maxAttempts: 1 })
      const exit = yield* McpClient.make(McpServerConfig.http({ name: "http", url: server.url }), { policy: once })
        .pipe(
          Effect.scoped,
          Effect.exit
        )
      const error = failureOf(exit) as { _tag: string; status?: number; retryAfter?: Duration.Duration } | undefined
      assert.strictEqual(error?._tag, "McpConnectError")
      assert.strictEqual(error?.status, 503)
      assert.deepStrictEqual(error?.retryAfter, Duration.seconds(1))
      // the next attempt meets one more 503 and waits its Retry-After (1 s), not the 20 ms backoff
      const started = Date.now()
      const attempts = yield* McpClient.make(McpServerConfig.http({ name: "http", url: server.url }), { policy: fast })
        .pipe(
          Effect.map((client) => client.attempts),
          Effect.scoped
        )
      assert.strictEqual(attempts, 2)
      assert.isAtLeast(Date.now() - started, 1000)
    }).pipe(Effect.scoped))

  it.live("nothing listening is Refused, retried, then the last error", () =>
    Effect.gen(function*() {
      const server = yield* Effect.promise(() => startHttp({}))
      const url = server.url
      yield* Effect.promise(() => server.close())
      const exit = yield* McpClient.make(McpServerConfig.http({ name: "gone", url }), { policy: fast }).pipe(
        Effect.scoped,
        Effect.exit
      )
      const error = failureOf(exit)
      assert.strictEqual(error?._tag, "McpConnectError")
      assert.strictEqual((error as { reason?: string }).reason, "Refused")
    }))
})

describe("server-everything", () => {
  it.live("over stdio: lists tools, calls echo, leaves no process", () =>
    Effect.gen(function*() {
      let pid: number | undefined
      const text = yield* Effect.scoped(Effect.gen(function*() {
        const client = yield* McpClient.make(
          McpServerConfig.stdio({ name: "everything", command: process.execPath, args: [serverEverything] }),
          { policy: fast }
        )
        pid = client.pid
        const tools = yield* client.listTools()
        assert.isTrue(tools.some((tool) => tool.name === "echo"))
        const result = yield* client.callTool("echo", { message: "hello" })
        return JSON.stringify(result.content)
      }))
      assert.include(text, "hello")
      assert.isDefined(pid)
      assert.throws(() => process.kill(pid!, 0))
    }))

  it.live("over Streamable HTTP", () =>
    Effect.gen(function*() {
      const server = yield* Effect.acquireRelease(
        Effect.promise(() => spawnEverythingHttp()),
        (s) => Effect.promise(() => s.kill("SIGKILL"))
      )
      const text = yield* Effect.scoped(Effect.gen(function*() {
        const client = yield* McpClient.make(McpServerConfig.http({ name: "everything", url: server.url }), {
          policy: fast
        })
        assert.isString(client.sessionId)
        const result = yield* client.callTool("echo", { message: "over http" })
        return JSON.stringify(result.content)
      }))
      assert.include(text, "over http")
    }).pipe(Effect.scoped))

  it.live("an HTTP+SSE-only server is reached through fallbackToSse", () =>
    Effect.gen(function*() {
      const server = yield* Effect.acquireRelease(
        Effect.promise(() => spawnEverythingHttp({ mode: "sse" })),
        (s) => Effect.promise(() => s.kill("SIGKILL"))
      )
      const strict = yield* McpClient.make(McpServerConfig.http({ name: "old", url: server.url }), {
        policy: RetryPolicy.make({ ...fast, maxAttempts: 1 })
      }).pipe(Effect.scoped, Effect.exit)
      assert.strictEqual((failureOf(strict) as { status?: number } | undefined)?.status, 404)
      const text = yield* Effect.scoped(Effect.gen(function*() {
        const client = yield* McpClient.make(
          McpServerConfig.http({ name: "old", url: server.url, fallbackToSse: true }),
          { policy: fast }
        )
        const result = yield* client.callTool("echo", { message: "over sse" })
        return JSON.stringify(result.content)
      }))
      assert.include(text, "over sse")
    }).pipe(Effect.scoped))
})
