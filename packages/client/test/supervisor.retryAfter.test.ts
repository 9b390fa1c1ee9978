/**
 * The supervisor's wait between sessions under TestClock: a `Retry-After` on a failed reconnect is
 * honoured (each time it comes), capped at a minute, and ignored when the policy says so.
 */
import { assert, describe, it } from "@effect/vitest"
import { RetryPolicy } from "@mcp-resilience/policy"
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
import { Duration, Effect, TestClock } from "effect"
import { McpConnectError } from "../src/McpError.js"
import * as McpServerConfig from "../src/McpServerConfig.js"
import { McpTools } from "../src/McpTools.js"
import * as McpTransport from "../src/McpTransport.js"
import { makeTestServer, tick } from "./utils.js"

/**
 * Transports whose opens follow `script` (`"ok"` connects to an in-memory server, a number fails
 * with a 503 carrying that `Retry-After` in seconds); `kill` closes the live session's server side.
 */
const scripted = (script: ReadonlyArray<"ok" | number>) => {
  let opens = 0
  let serverSide: Transport | undefined
  const config = McpServerConfig.inMemory({
    name: "mem",
    connect: (transport) => {
      serverSide = transport
      return makeTestServer().connect(transport)
    }
  })
  const service: McpTransport.Service = {
    open: (_config, server) =>
      Effect.suspend(() => {
        const step = script[opens++] ?? "ok"
        return step === "ok"
          ? McpTransport.live.open(config, server)
          : Effect.fail(
            new McpConnectError({
              server: "mem",
              reason: "Http",
              status: 503,
              detail: "Service Unavailable",
              retryAfter: Duration.seconds(step)
            })
          )
      })
  }
  return {
    config,
    service,
    opens: () => opens,
    kill: Effect.promise(() => serverSide!.close())
  }
}

/** One attempt per session (no retry inside connect), 100 ms between sessions without Retry-After. */
const policy = (honorRetryAfter?: boolean) =>
  RetryPolicy.make({
    maxAttempts: 1,
    base: "100 millis",
    cap: "100 millis",
    jitter: "none",
    attemptTimeout: "10 seconds",
    deadline: "10 seconds",
    ...(honorRetryAfter === undefined ? {} : { honorRetryAfter })
  })

const settle = Effect.repeatN(tick, 20)

/** Advances virtual time by `millis` in steps of `step`, letting in-memory I/O run in between. */
const advance = (millis: number, step = 100) =>
  Effect.gen(function*() {
    for (let done = 0; done < millis; done += step) {
      yield* TestClock.adjust(Duration.millis(Math.min(step, millis - done)))
      yield* settle
    }
  })

const run = (script: ReadonlyArray<"ok" | number>, honorRetryAfter?: boolean) =>
  Effect.gen(function*() {
    const transports = scripted(script)
    const tools = yield* McpTools.make({ server: transports.config, policy: policy(honorRetryAfter) }).pipe(
      Effect.provideService(McpTransport.McpTransports, transports.service)
    )
    yield* transports.kill
    yield* settle
    return { transports, tools }
  })

describe("supervisor: Retry-After between sessions (TestClock)", () => {
  it.scoped("each Retry-After on a failed reconnect is waited out before the next open", () =>
    Effect.gen(function*() {
      const { transports } = yield* run(["ok", 5, 5, "ok"])
      assert.strictEqual(transports.opens(), 2, "the loss is followed by one reconnect at once")
      yield* advance(4_900)
      assert.strictEqual(transports.opens(), 2, "no open before the first Retry-After (5 s) ran out")
      yield* advance(200)
      assert.strictEqual(transports.opens(), 3, "one open once the first Retry-After ran out")
      yield* advance(4_700)
      assert.strictEqual(transports.opens(), 3, "no open before the second Retry-After (5 s) ran out")
      yield* advance(300)
      assert.strictEqual(transports.opens(), 4, "reconnected once the second Retry-After ran out")
    }))

  it.scoped("a Retry-After longer than a minute is capped at a minute", () =>
    Effect.gen(function*() {
      const { transports } = yield* run(["ok", 3_600])
      assert.strictEqual(transports.opens(), 2)
      yield* advance(59_000, 1_000)
      yield* advance(800)
      assert.strictEqual(transports.opens(), 2, "no open before the minute ran out")
      yield* advance(300)
      assert.strictEqual(transports.opens(), 3, "reconnected after the one-minute cap, not after an hour")
    }))

  it.scoped("honorRetryAfter: false waits the policy's own delay", () =>
    Effect.gen(function*() {
      const { transports } = yield* run(["ok", 5], false)
      assert.strictEqual(transports.opens(), 2)
      yield* advance(200)
      assert.strictEqual(transports.opens(), 3, "reconnected after the 100 ms base delay")
    }))
})
