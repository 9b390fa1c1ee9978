/**
 * A hostile HTTP server cannot make the client read without bound or past a deadline: every
 * answer is bounded by `maxMessageBytes` (a typed error past it), and a call's deadline aborts
 * its POST (the server sees the connection closed; no byte is read after).
 */
import { assert, describe, it } from "@effect/vitest"
import { RetryPolicy } from "@mcp-resilience/policy"
import { type Duration, Effect } from "effect"
import * as McpClient from "../src/McpClient.js"
import * as McpServerConfig from "../src/McpServerConfig.js"
import { type Behaviour, hostileHttp, type HostileServer } from "./fixtures/hostileHttp.js"
import { eventually } from "./utils.js"

const policy = RetryPolicy.make({ maxAttempts: 1 })
const MAX = 1024 * 1024

const session = (server: HostileServer, maxMessageBytes?: number) =>
  McpClient.make(
    McpServerConfig.http({
      name: "hostile",
      url: server.url,
      ...(maxMessageBytes === undefined ? {} : { maxMessageBytes })
    }),
    { policy }
  )

const call = (behaviour: Behaviour, timeout: Duration.DurationInput, maxMessageBytes?: number) =>
  Effect.gen(function*() {
    const server = yield* hostileHttp(behaviour)
    const client = yield* session(server, maxMessageBytes)
    const started = Date.now()
    const error = yield* Effect.flip(client.callTool("answer", {}, { timeout }))
    return { server, error, took: Date.now() - started }
  })

describe("hostile HTTP servers", () => {
  it.live("an endless JSON answer fails as too large at the bound; the server's socket is closed", () =>
    Effect.scoped(Effect.gen(function*() {
      const { error, server } = yield* call("endless-json", "20 seconds", MAX)
      assert.strictEqual(error._tag, "McpProtocolError")
      assert.include(error.message, `exceeded ${MAX} bytes (maxMessageBytes)`)
      yield* eventually(() => server.aborted() === 1, "the server still writes its answer", 3_000)
      // the client read at most the bound, plus what was in flight in the socket's buffers
      assert.isBelow(server.bytesSent(), 8 * MAX, `bytes the server could send: ${server.bytesSent()}`)
    })))

  it.live("one endless SSE event fails as too large, by default at 10 MiB", () =>
    Effect.scoped(Effect.gen(function*() {
      const { error, server } = yield* call("endless-sse-event", "30 seconds")
      assert.strictEqual(error._tag, "McpProtocolError")
      assert.include(error.message, `exceeded ${10 * 1024 * 1024} bytes`)
      yield* eventually(() => server.open() === 0, "the event stream is still open", 3_000)
      assert.isBelow(server.bytesSent(), 30 * 1024 * 1024, `bytes the server could send: ${server.bytesSent()}`)
    })))

  it.live("a content-length past the bound fails before any byte of the body is read", () =>
    Effect.scoped(Effect.gen(function*() {
      const { error, server } = yield* call("huge-length", "10 seconds", MAX)
      assert.strictEqual(error._tag, "McpProtocolError")
      yield* eventually(() => server.open() === 0, "the answer is still open", 3_000)
    })))

  it.live("a trickling answer is aborted at the call's deadline: the server sees its connection closed", () =>
    Effect.scoped(Effect.gen(function*() {
      const { error, server, took } = yield* call("trickle", "1 second")
      assert.strictEqual(error._tag, "McpTimeoutError")
      assert.isBelow(took, 1_500, `the deadline held (${took} ms)`)
      yield* eventually(() => server.aborted() === 1, "the trickling answer is still being read", 2_000)
    })))

  it.live("an answer without headers is aborted at the call's deadline, twice in a row", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* hostileHttp("no-headers")
      const client = yield* session(server)
      for (const n of [1, 2]) {
        const error = yield* Effect.flip(client.callTool("answer", {}, { timeout: "500 millis" }))
        assert.strictEqual(error._tag, "McpTimeoutError")
        yield* eventually(() => server.aborted() === n, `call ${n}'s request is still open`, 2_000)
      }
      assert.strictEqual(server.open(), 0)
    })))
})
