/**
 * A server that was reachable once is never given up on for a transient-looking or odd answer:
 * a 404 on `initialize` during a reconnect (a proxy mid-deploy) is retried until the layer
 * closes, and a `Retry-After` between sessions is honoured.
 */
import { assert, describe, it } from "@effect/vitest"
import { RetryPolicy } from "@mcp-resilience/policy"
import { Effect } from "effect"
import * as McpServerConfig from "../src/McpServerConfig.js"
import { McpTools } from "../src/McpTools.js"
import { flakyInitHttp } from "./fixtures/hostileHttp.js"
import { spawnHttpFixture } from "./fixtures/paths.js"
import { eventually, realSleep } from "./utils.js"

/** One attempt per connect run: what happens between runs is the supervisor's doing. */
const policy = RetryPolicy.make({ maxAttempts: 1, base: "50 millis", cap: "200 millis", jitter: "none" })

describe("supervision against odd servers", () => {
  it.live("404s on initialize while reconnecting are retried until the server answers; the layer never gives up", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* flakyInitHttp
      const tools = yield* McpTools.make({ server: McpServerConfig.http({ name: "flaky", url: server.url }), policy })
      yield* tools.call("echo", { n: 1 })
      server.expire({ count: 3, status: 404 })
      // the call meets the expired session (404), the supervisor reconnects through three 404s
      const result = yield* tools.call("echo", { n: 2 }, { timeout: "10 seconds" })
      assert.deepStrictEqual(result.content, [{ type: "text", text: "{\"n\":2}" }])
      assert.strictEqual(yield* tools.sessions, 2)
      assert.strictEqual(server.initializes().length, 1 + 3 + 1)
      // and again, a second time
      server.expire({ count: 2, status: 405 })
      yield* tools.call("echo", { n: 3 }, { timeout: "10 seconds" })
      yield* eventually(() => Effect.runSync(tools.status)._tag === "Connected", "not connected again", 5_000)
      assert.strictEqual(yield* tools.sessions, 3)
    })))

  it.live("a Retry-After on initialize is honoured between sessions", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* flakyInitHttp
      const tools = yield* McpTools.make({ server: McpServerConfig.http({ name: "flaky", url: server.url }), policy })
      server.expire({ count: 1_000, status: 503, retryAfter: 1 })
      const lost = Date.now()
      yield* Effect.either(tools.call("echo", {}, { timeout: "100 millis" }))
      yield* realSleep(3_000)
      const during = server.initializes().filter((t) => t >= lost)
      // one initialize a second, not one per flapping delay (50-200 ms, 15 or more in 3 s)
      assert.isAtMost(during.length, 4, `initialize requests in 3 s: ${during.length}`)
      assert.isAtLeast(during.length, 2, `initialize requests in 3 s: ${during.length}`)
    })))
})

describe("dead HTTP peers", () => {
  it.live("a server that dies is noticed with health checks off and no call: the session is replaced", () =>
    Effect.gen(function*() {
      const first = yield* Effect.acquireRelease(
        Effect.promise(() => spawnHttpFixture()),
        (server) => Effect.promise(() => server.kill())
      )
      const tools = yield* McpTools.make({
        server: McpServerConfig.http({ name: "dies", url: first.url }),
        policy: RetryPolicy.make({ maxAttempts: 100, base: "100 millis", cap: "200 millis", jitter: "none" })
      })
      yield* tools.call("echo", { text: "up" })
      // let the GET event stream open, then kill the server outright
      yield* realSleep(300)
      yield* Effect.promise(() => first.kill("SIGKILL"))
      yield* eventually(
        () => Effect.runSync(tools.status)._tag !== "Connected",
        "the dead server still shows as Connected",
        5_000
      )
      // it comes back on the same port: the layer reconnects by itself
      yield* Effect.acquireRelease(
        Effect.promise(() => spawnHttpFixture(["--port", String(first.port)])),
        (server) => Effect.promise(() => server.kill())
      )
      yield* eventually(() => Effect.runSync(tools.status)._tag === "Connected", "not connected again", 10_000)
      assert.deepStrictEqual((yield* tools.call("echo", { text: "back" })).content, [{ type: "text", text: "back" }])
    }).pipe(Effect.scoped))
})
