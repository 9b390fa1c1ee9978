/**
 * Output schemas are untrusted input: one bad schema fails its own tool with the reason and the
 * others work; a server's regular expression never runs on our event loop; validators are
 * cached by content, so a refresh compiles nothing new.
 */
import { assert, describe, it } from "@effect/vitest"
import { RetryPolicy } from "@mcp-resilience/policy"
import { Effect } from "effect"
import * as path from "node:path"
import { OutputValidators } from "../src/internal/outputSchemas.js"
import * as McpServerConfig from "../src/McpServerConfig.js"
import { McpTools } from "../src/McpTools.js"
import { fixturesDir } from "./fixtures/paths.js"

const policy = RetryPolicy.make({ maxAttempts: 2, base: "10 millis", jitter: "none" })
const schemaServer = (...args: Array<string>) =>
  McpServerConfig.stdio({
    name: "schemas",
    command: process.execPath,
    args: [path.join(fixturesDir, "schemaServer.mjs"), ...args]
  })
const server = schemaServer()

describe("hostile output schemas", () => {
  it.live("an invalid or too deep schema fails only its own tool, naming why; the listing and other tools work", () =>
    Effect.scoped(Effect.gen(function*() {
      const tools = yield* McpTools.make({ server, policy })
      assert.deepStrictEqual((yield* tools.tools).map((tool) => tool.name), ["good", "badType", "deep", "regex"])
      assert.deepStrictEqual((yield* tools.call("good")).structuredContent, { value: "ok" })
      const bad = yield* Effect.flip(tools.call("badType"))
      assert.strictEqual(bad._tag, "McpProtocolError")
      assert.include(bad.message, "is not a valid JSON Schema")
      const deep = yield* Effect.flip(tools.call("deep"))
      assert.strictEqual(deep._tag, "McpProtocolError")
      assert.include(deep.message, "nested deeper than 64 levels (maxSchemaDepth)")
      // and the good tool still works after both
      assert.deepStrictEqual((yield* tools.call("good")).structuredContent, { value: "ok" })
    })))

  it.live("a catastrophic pattern is not run: the call answers at once and the event loop is not blocked", () =>
    Effect.scoped(Effect.gen(function*() {
      const tools = yield* McpTools.make({ server: schemaServer("regex"), policy })
      // the event loop's longest stall while the call runs, measured with a 5 ms interval
      let last = performance.now()
      let longest = 0
      const timer = setInterval(() => {
        const now = performance.now()
        longest = Math.max(longest, now - last)
        last = now
      }, 5)
      const result = yield* tools.call("regex").pipe(Effect.ensuring(Effect.sync(() => clearInterval(timer))))
      assert.deepStrictEqual(result.structuredContent, { value: `${"a".repeat(27)}!` })
      assert.isBelow(longest, 200, `the event loop stalled for ${Math.round(longest)} ms`)
    })))
})

describe("OutputValidators", () => {
  it("caches validators by content: the same schema in a new object compiles once", () => {
    const warnings: Array<string> = []
    const validators = new OutputValidators(64, (message) => warnings.push(message))
    const schema = () => ({ type: "object", properties: { n: { type: "number", pattern: "x" } } })
    const first = validators.getValidator(schema())
    for (let i = 0; i < 1_000; i++) assert.strictEqual(validators.getValidator(schema()), first)
    assert.strictEqual(first({ n: 1 }).valid, true)
    assert.strictEqual(first({ n: "1" }).valid, false)
    assert.deepStrictEqual(warnings, [
      "ignored 1 regular expression(s) (pattern, patternProperties) of an output schema"
    ])
  })
})
