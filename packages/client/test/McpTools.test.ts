/**
 * McpTools over every transport: the same suite against an in-memory server, the fixture as
 * a stdio child, and the fixture over Streamable HTTP on 127.0.0.1.
 */
import { assert, describe, layer } from "@effect/vitest"
import { RetryPolicy } from "@mcp-resilience/policy"
import { Server } from "@modelcontextprotocol/sdk/server/index.js"
import { CallToolRequestSchema, ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js"
import { Effect, Layer, Schema } from "effect"
import * as McpServerConfig from "../src/McpServerConfig.js"
import { McpTools } from "../src/McpTools.js"
import { fixtureServer } from "./fixtures/paths.js"
import { createServer, startHttp } from "./fixtures/server.mjs"

const policy = RetryPolicy.make({ maxAttempts: 3, base: "20 millis", cap: "100 millis", jitter: "none" })

const transports: ReadonlyArray<readonly [string, Layer.Layer<McpTools, unknown>]> = [
  [
    "in-memory",
    McpTools.layer({
      server: McpServerConfig.inMemory({
        name: "fixture",
        connect: (transport) => createServer({}).connect(transport)
      }),
      policy
    })
  ],
  [
    "stdio",
    McpTools.layer({
      server: McpServerConfig.stdio({ name: "fixture", command: process.execPath, args: [fixtureServer] }),
      policy
    })
  ],
  [
    "streamable http",
    Layer.unwrapScoped(
      Effect.gen(function*() {
        const server = yield* Effect.acquireRelease(
          Effect.promise(() => startHttp({})),
          (s) => Effect.promise(() => s.close())
        )
        return McpTools.layer({ server: McpServerConfig.http({ name: "fixture", url: server.url }), policy })
      })
    )
  ]
]

for (const [name, live] of transports) {
  describe(name, () => {
    layer(live, { excludeTestServices: true, timeout: 20_000 })((it) => {
      it.effect("lists the server's tools with their annotations", () =>
        Effect.gen(function*() {
          const tools = yield* McpTools
          const list = yield* tools.tools
          const add = list.find((tool) => tool.name === "add")
          assert.isDefined(add)
          assert.isTrue(add?.annotations?.readOnlyHint)
          assert.deepStrictEqual((yield* tools.list).map((t) => t.name), list.map((t) => t.name))
        }))

      it.effect("decodes structuredContent with a Schema", () =>
        Effect.gen(function*() {
          const tools = yield* McpTools
          const result = yield* tools.call("add", { a: 2, b: 40 }, { schema: Schema.Struct({ sum: Schema.Number }) })
          assert.deepStrictEqual(result, { sum: 42 })
        }))

      it.effect("a result that does not match the Schema is an McpDecodeError naming the tool", () =>
        Effect.gen(function*() {
          const tools = yield* McpTools
          const error = yield* Effect.flip(
            tools.call("add", { a: 1, b: 1 }, { schema: Schema.Struct({ total: Schema.String }) })
          )
          assert.strictEqual(error._tag, "McpDecodeError")
          assert.include(error.message, "result of tool \"add\" does not match its schema")
          assert.include(error.message, "total")
        }))

      it.effect("isError results are McpToolError with the content", () =>
        Effect.gen(function*() {
          const tools = yield* McpTools
          const error = yield* Effect.flip(tools.call("fail", { message: "bad input" }))
          assert.strictEqual(error._tag, "McpToolError")
          if (error._tag === "McpToolError") {
            assert.strictEqual(error.reason, "IsError")
            assert.strictEqual(error.text, "bad input")
          }
        }))

      it.effect("an unknown tool is a typed error listing the known names", () =>
        Effect.gen(function*() {
          const tools = yield* McpTools
          const error = yield* Effect.flip(tools.call("no_such_tool"))
          assert.strictEqual(error._tag, "McpToolError")
          if (error._tag === "McpToolError") {
            assert.strictEqual(error.reason, "UnknownTool")
            assert.include(error.knownTools ?? [], "echo")
            assert.include(error.message, "unknown tool \"no_such_tool\"; known tools: ")
          }
        }))

      it.effect("a call past its timeout is an McpTimeoutError; the session stays usable", () =>
        Effect.gen(function*() {
          const tools = yield* McpTools
          const error = yield* Effect.flip(tools.call("slow", { ms: 30_000 }, { timeout: "150 millis" }))
          assert.strictEqual(error._tag, "McpTimeoutError")
          const echoed = yield* tools.call("echo", { text: "still here" })
          assert.deepStrictEqual(echoed.content, [{ type: "text", text: "still here" }])
        }))

      it.effect("bad arguments come back as a typed error, not a defect", () =>
        Effect.gen(function*() {
          const tools = yield* McpTools
          const error = yield* Effect.flip(tools.call("add", { a: "one", b: 2 }))
          assert.oneOf(error._tag, ["McpProtocolError", "McpToolError"])
        }))
    })
  })
}

/**
 * The SDK's client checks `structuredContent` against a tool's `outputSchema`. Our session builds
 * that validator only when a listed tool declares an output schema (most sessions never need
 * one); the checks must be the SDK's all the same. The server here is a low-level `Server`, which
 * (unlike `McpServer`) does not check its own results, so a wrong one reaches the client.
 */
describe("output schemas", () => {
  const lying = () => {
    const server = new Server({ name: "lying", version: "1.0.0" }, { capabilities: { tools: {} } })
    server.setRequestHandler(ListToolsRequestSchema, () => ({
      tools: [{
        name: "sum",
        inputSchema: { type: "object" },
        outputSchema: { type: "object", properties: { sum: { type: "number" } }, required: ["sum"] }
      }]
    }))
    server.setRequestHandler(CallToolRequestSchema, (request) => {
      const shape = request.params.arguments?.["shape"]
      return shape === "right"
        ? { content: [], structuredContent: { sum: 3 } }
        : shape === "wrong"
        ? { content: [], structuredContent: { sum: "three" } }
        : { content: [{ type: "text", text: "3" }] }
    })
    return server
  }
  const live = McpTools.layer({
    server: McpServerConfig.inMemory({ name: "lying", connect: (transport) => lying().connect(transport) }),
    policy
  })
  layer(live, { excludeTestServices: true, timeout: 20_000 })((it) => {
    it.effect("a result that matches passes; one that does not, or has none, is an McpProtocolError naming why", () =>
      Effect.gen(function*() {
        const tools = yield* McpTools
        assert.deepStrictEqual((yield* tools.call("sum", { shape: "right" })).structuredContent, { sum: 3 })
        const wrong = yield* Effect.flip(tools.call("sum", { shape: "wrong" }))
        assert.strictEqual(wrong._tag, "McpProtocolError")
        assert.include(wrong.message, "does not match the tool's output schema")
        const missing = yield* Effect.flip(tools.call("sum", { shape: "none" }))
        assert.strictEqual(missing._tag, "McpProtocolError")
        assert.include(missing.message, "did not return structured content")
      }))
  })
})
