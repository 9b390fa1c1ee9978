import { assert, describe, it } from "@effect/vitest"
import { McpAuthError, McpClient, McpConnectError, McpTransport } from "@mcp-resilience/client"
import { RetryPolicy } from "@mcp-resilience/policy"
import { FlakyServer, ScriptedTransports, VirtualTime } from "@mcp-resilience/testing"
import { Effect, Exit } from "effect"
import { failureOf, policy } from "./utils.js"

const refused = new McpConnectError({ server: "flaky", reason: "Refused", detail: "connection refused (ECONNREFUSED)" })

describe("ScriptedTransports", () => {
  it.effect("fails the scripted opens, then opens the server: exact delays", () =>
    Effect.gen(function*() {
      const server = yield* FlakyServer.inMemory()
      const scripted = ScriptedTransports.make([refused, refused, refused])
      const { exit, virtualMillis } = yield* VirtualTime.run(
        McpClient.make(server.config, { policy }).pipe(
          Effect.map((client) => client.attempts),
          Effect.scoped,
          Effect.provideService(McpTransport.McpTransports, scripted)
        )
      )
      assert.deepStrictEqual(exit, Exit.succeed(4))
      assert.strictEqual(virtualMillis, 1_000 + 2_000 + 4_000)
      assert.strictEqual(scripted.opens(), 4)
      assert.strictEqual(server.stats().connects, 1)
    }))

  it.effect("an auth error is tried once", () =>
    Effect.gen(function*() {
      const server = yield* FlakyServer.inMemory()
      const denied = new McpAuthError({ server: "flaky", status: 401, detail: "Unauthorized" })
      const scripted = ScriptedTransports.make([denied])
      const { exit } = yield* VirtualTime.run(
        McpClient.make(server.config, { policy }).pipe(
          Effect.scoped,
          Effect.provideService(McpTransport.McpTransports, scripted)
        )
      )
      assert.strictEqual(failureOf(exit)?._tag, "McpAuthError")
      assert.strictEqual(scripted.opens(), 1)
    }))

  it.effect("hang: the attempt times out; open: passes through; options.server replaces the config", () =>
    Effect.gen(function*() {
      const server = yield* FlakyServer.inMemory({ name: "real" })
      const decoy = yield* FlakyServer.inMemory({ name: "decoy" })
      const scripted = ScriptedTransports.make(["hang", "open"], { server: server.config })
      const impatient = RetryPolicy.make({ ...policy, attemptTimeout: "5 seconds" })
      const { exit, virtualMillis } = yield* VirtualTime.run(
        McpClient.make(decoy.config, { policy: impatient }).pipe(
          Effect.map((client) => [client.attempts, client.serverInfo?.name] as const),
          Effect.scoped,
          Effect.provideService(McpTransport.McpTransports, scripted)
        )
      )
      assert.deepStrictEqual(exit, Exit.succeed([2, "real"] as const))
      assert.strictEqual(virtualMillis, 5_000 + 1_000)
      assert.strictEqual(decoy.stats().connects, 0)
    }))
})
