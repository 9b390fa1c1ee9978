/**
 * `McpTools.Tag`: a second server's tools under a tag of their own, in the same context as
 * `McpTools`, each call reaching its own server.
 */
import { assert, describe, it } from "@effect/vitest"
import { RetryPolicy } from "@mcp-resilience/policy"
import { Config, ConfigError, ConfigProvider, Effect, Either, Layer } from "effect"
import * as McpServerConfig from "../src/McpServerConfig.js"
import { McpTools } from "../src/McpTools.js"
import { createServer } from "./fixtures/server.mjs"

const policy = RetryPolicy.make({ maxAttempts: 2, base: "10 millis", jitter: "none" })
const server = (name: string) =>
  McpServerConfig.inMemory({ name, connect: (transport) => createServer({}).connect(transport) })

class Second extends McpTools.Tag("test/Second")<Second>() {}

describe("McpTools.Tag", () => {
  it.scoped("two servers' tools in one context, each with its own session", () =>
    Effect.gen(function*() {
      const first = yield* McpTools
      const second = yield* Second
      assert.strictEqual(first.server, "first")
      assert.strictEqual(second.server, "second")
      const a = yield* first.call("echo", { text: "a" })
      const b = yield* second.call("echo", { text: "b" })
      assert.deepStrictEqual([a.content, b.content], [[{ type: "text", text: "a" }], [{ type: "text", text: "b" }]])
      assert.notStrictEqual(first.client, second.client)
    }).pipe(
      Effect.provide(Layer.mergeAll(
        McpTools.layer({ server: server("first"), policy }),
        Second.layer({ server: server("second"), policy })
      ))
    ))

  it.scoped("layerConfig reads its options from Config; a missing value fails the layer with ConfigError", () =>
    Effect.gen(function*() {
      const options = Config.map(Config.string("SERVER_NAME"), (name) => ({ server: server(name), policy }))
      const read = (provider: ConfigProvider.ConfigProvider) =>
        Effect.map(Second, (tools) => tools.server).pipe(
          Effect.provide(Second.layerConfig(options)),
          Effect.withConfigProvider(provider),
          Effect.either
        )
      const found = yield* read(ConfigProvider.fromMap(new Map([["SERVER_NAME", "third"]])))
      assert.deepStrictEqual(found, Either.right("third"))
      const missing = yield* read(ConfigProvider.fromMap(new Map()))
      assert.isTrue(Either.isLeft(missing) && ConfigError.isConfigError(missing.left), "a ConfigError")
    }))
})
