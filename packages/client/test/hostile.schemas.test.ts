/**
 * Output schemas are untrusted input: one bad schema fails its own tool with the reason and the
 * others work; a server's regular expression never runs on our event loop; validators are
 * cached by content, so a refresh compiles nothing new and the heap stays flat across refreshes.
 */
import { assert, describe, it } from "@effect/vitest"
import { RetryPolicy } from "@mcp-resilience/policy"
import { Effect } from "effect"
import * as path from "node:path"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import { OutputValidators } from "../src/internal/outputSchemas.js"
import * as McpServerConfig from "../src/McpServerConfig.js"
import { McpTools } from "../src/McpTools.js"
import { fixturesDir } from "./fixtures/paths.js"
import { eventually } from "./utils.js"

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

/** `global.gc`, exposed at run time (the test workers do not run with `--expose-gc`). */
const gc = (): () => void => {
  v8.setFlagsFromString("--expose-gc")
  return vm.runInNewContext("gc") as () => void
}

/** Heap in use after a full collection. */
const heapAfterGc = (collect: () => void) =>
  Effect.promise(async () => {
    for (let i = 0; i < 3; i++) {
      collect()
      await new Promise((resolve) => setImmediate(resolve))
    }
    return process.memoryUsage().heapUsed
  })

describe("tool-list refreshes and output schemas", () => {
  /** A server with `schemas` tools with output schemas; `refresh(n)` makes it send list_changed after each list, n times. */
  const refreshing = (schemas: number, flags: ReadonlyArray<string>, limits?: { readonly maxTools: number }) =>
    Effect.gen(function*() {
      const tools = yield* McpTools.make({
        server: McpServerConfig.stdio({
          name: "refreshes",
          command: process.execPath,
          args: [path.join(fixturesDir, "hostileStdio.mjs"), "--schemas", String(schemas), ...flags]
        }),
        policy,
        refreshDebounce: "0 millis",
        ...(limits === undefined ? {} : { limits })
      })
      const listed = () => Effect.runSync(tools.tools).find((tool) => tool.name.startsWith("listed_"))?.name
      const refresh = (times: number) =>
        Effect.gen(function*() {
          const target = `listed_${Number(listed()?.slice("listed_".length)) + times}`
          yield* tools.call("relist", { times })
          yield* eventually(() => listed() === target, `the end of ${times} refreshes`, 30_000)
        })
      return { tools, refresh }
    })

  it.live(
    "the heap stays flat across refreshes of 200 tools with output schemas (500 measured: under 8 KiB each)",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const collect = gc()
        const { refresh, tools } = yield* refreshing(200, [])
        yield* refresh(30) // warm up: the first lists compile the validators
        const before = yield* heapAfterGc(collect)
        const started = Date.now()
        // 1,000 refreshes take 3-14 s here, depending on the machine's load; at this rate they grow the heap by
        // under 8 MiB
        const refreshes = 500
        yield* refresh(refreshes)
        const took = Date.now() - started
        const grown = (yield* heapAfterGc(collect)) - before
        assert.strictEqual(Effect.runSync(tools.tools).filter((tool) => tool.outputSchema !== undefined).length, 200)
        // uncached, each refresh compiled 200 validators again: about 775 KiB of heap per refresh
        assert.isBelow(
          grown,
          refreshes * 8 * 1024,
          `the heap grew by ${(grown / 1024 / 1024).toFixed(1)} MiB over ${refreshes} refreshes (${took} ms)`
        )
      })),
    60_000
  )

  it.live(
    "a server that declares new schemas at every refresh cannot grow the validator cache past maxTools",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const collect = gc()
        // 50 new schemas a list against a cache of at most 120 validators: it starts over every third list (a full
        // cache of 120 is about 2.5 MiB; unbounded, 60 lists keep about 14 MiB)
        const { refresh } = yield* refreshing(50, ["--changing-schemas"], { maxTools: 120 })
        yield* refresh(6)
        const before = yield* heapAfterGc(collect)
        const refreshes = 60
        yield* refresh(refreshes)
        const grown = (yield* heapAfterGc(collect)) - before
        // unbounded, each list kept 50 more compiled validators
        assert.isBelow(
          grown,
          6 * 1024 * 1024,
          `the heap grew by ${(grown / 1024 / 1024).toFixed(1)} MiB over ${refreshes} refreshes with new schemas`
        )
      })),
    60_000
  )
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
