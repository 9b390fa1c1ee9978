/**
 * McpToolset with real servers: two fixture servers and server-everything over stdio.
 */
import { assert, describe, it } from "@effect/vitest"
import { RetryPolicy } from "@mcp-resilience/policy"
import { Cause, Effect, Exit, Option, Schedule } from "effect"
import * as McpServerConfig from "../src/McpServerConfig.js"
import { McpToolset } from "../src/McpToolset.js"
import { readState, serverEverything } from "./fixtures/paths.js"
import { createServer } from "./fixtures/server.mjs"
import { eventually, fixture as fixtureOf, processesMentioning, stateFiles } from "./utils.js"

const fast = RetryPolicy.make({ maxAttempts: 3, base: "20 millis", cap: "100 millis", jitter: "none" })

const newState = stateFiles()

const fixture = (name: string, state: string, ...flags: Array<string>) => ({ ...fixtureOf(state, ...flags), name })

const everything = McpServerConfig.stdio({ name: "everything", command: process.execPath, args: [serverEverything] })

describe("McpToolset", () => {
  it.live("routes calls over three real servers, by prefix", () =>
    Effect.gen(function*() {
      const a = newState()
      const b = newState()
      yield* Effect.scoped(Effect.gen(function*() {
        const set = yield* McpToolset.make({
          servers: [
            { name: "a", server: fixture("a", a), policy: fast, prefix: "a" },
            {
              name: "b",
              server: fixture("b", b),
              policy: fast,
              prefix: "b",
              tools: { allow: ["add", "echo"], deny: [] }
            },
            { name: "everything", server: everything, policy: fast, prefix: "ev" }
          ]
        })
        const list = yield* set.list
        const names = list.map((t) => t.name)
        assert.include(names, "a__counter")
        assert.include(names, "b__add")
        assert.notInclude(names, "b__counter", "filtered by allow")
        assert.include(names, "ev__echo")
        assert.isTrue(list.every((t) => t.status === "Connected"))
        const sum = yield* set.call("b__add", { a: 2, b: 3 })
        assert.deepStrictEqual(sum.structuredContent, { sum: 5 })
        const echoed = yield* set.call("ev__echo", { message: "hi" })
        assert.include(JSON.stringify(echoed.content), "hi")
        const unknown = yield* Effect.flip(set.call("b__counter"))
        assert.strictEqual(unknown._tag, "McpToolError")
        assert.include(unknown.message, "unknown tool \"b__counter\"")
      }))
      assert.deepStrictEqual([...processesMentioning(a), ...processesMentioning(b)], [])
    }))

  it.live("tool name collisions are a typed error at startup, naming both servers", () =>
    Effect.gen(function*() {
      const exit = yield* McpToolset.make({
        servers: [
          { name: "a", server: fixture("a", newState()), policy: fast },
          { name: "b", server: fixture("b", newState()), policy: fast }
        ]
      }).pipe(Effect.scoped, Effect.exit)
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
      assert.strictEqual(error?._tag, "McpConfigError")
      assert.include(error?.message ?? "", "tool \"echo\" is offered by both \"a\" and \"b\"")
      assert.include(error?.message ?? "", "prefix")
    }))

  it.live("a required server that is down fails the layer with its typed error", () =>
    Effect.gen(function*() {
      const down = newState()
      const exit = yield* McpToolset.make({
        servers: [
          { name: "up", server: fixture("up", newState()), policy: fast },
          { name: "down", server: fixture("down", down, "--refuse-first", "100"), policy: fast, prefix: "d" }
        ]
      }).pipe(Effect.scoped, Effect.exit)
      const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
      assert.strictEqual(error?._tag, "McpConnectError")
      assert.include(error?.message ?? "", "[down]")
      assert.deepStrictEqual(processesMentioning(down), [])
    }))

  it.live("an optional server that is down at start comes up later and its tools appear", () =>
    Effect.gen(function*() {
      const late = newState()
      yield* Effect.scoped(Effect.gen(function*() {
        const set = yield* McpToolset.make({
          servers: [
            { name: "up", server: fixture("up", newState()), policy: fast },
            {
              name: "late",
              server: fixture("late", late, "--refuse-first", "4"),
              policy: fast,
              prefix: "late",
              startup: "optional"
            }
          ]
        })
        const first = yield* set.list
        assert.isTrue(first.some((t) => t.name === "echo"))
        let names: Array<string> = []
        yield* eventually(
          () => {
            names = Effect.runSync(set.list).map((t) => t.name)
            return names.includes("late__echo")
          },
          "the optional server's tools",
          20_000
        )
        const echoed = yield* set.call("late__echo", { text: "finally" })
        assert.deepStrictEqual(echoed.content, [{ type: "text", text: "finally" }])
      }))
    }))

  it.live("a tool a server adds later (tools/list_changed) is routed, with its prefix", () =>
    Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        const set = yield* McpToolset.make({
          servers: [
            { name: "a", server: fixture("a", newState()), policy: fast, prefix: "a" },
            { name: "b", server: fixture("b", newState()), policy: fast, prefix: "b" }
          ],
          defaults: { refreshDebounce: "20 millis" }
        })
        const unknown = yield* Effect.flip(set.call("b__brand_new", { text: "hi" }))
        assert.strictEqual(unknown._tag, "McpToolError")
        yield* set.call("b__set_tools", { add: ["brand_new"] })
        // the routing table is rebuilt once the refreshed list arrives
        const result = yield* set.call("b__brand_new", { text: "hi" }).pipe(
          Effect.retry(Schedule.intersect(Schedule.spaced("20 millis"), Schedule.recurs(500)))
        )
        assert.include(JSON.stringify(result.content), "brand_new: hi")
        assert.notInclude(Effect.runSync(set.list).map((t) => t.name), "a__brand_new")
      }))
    }))

  it.live("a name a server advertises later never moves to it: the server that had it keeps it", () =>
    Effect.gen(function*() {
      const [stateA, stateB] = [newState(), newState()]
      yield* Effect.scoped(Effect.gen(function*() {
        // the newcomer comes first in the config: order must not decide a clash at runtime
        const set = yield* McpToolset.make({
          servers: [
            {
              name: "newcomer",
              server: fixture("b", stateB),
              policy: fast,
              tools: { allow: ["brand_new", "set_tools"], deny: [] }
            },
            { name: "owner", server: fixture("a", stateA), policy: fast, tools: { allow: ["brand_new"], deny: [] } }
          ],
          defaults: { refreshDebounce: "20 millis" }
        })
        const retry = Schedule.intersect(Schedule.spaced("20 millis"), Schedule.recurs(500))
        yield* set.servers.get("owner")!.call("set_tools", { add: ["brand_new"] })
        yield* set.call("brand_new", { text: "first" }).pipe(Effect.retry(retry))
        // the newcomer advertises the same name, twice
        for (const round of [1, 2]) {
          yield* set.call("set_tools", { add: ["brand_new"], round })
          yield* eventually(
            () => Effect.runSync(set.servers.get("newcomer")!.tools).some((tool) => tool.name === "brand_new"),
            "the newcomer's refreshed list"
          )
          yield* set.call("brand_new", { text: `round ${round}` })
        }
        assert.strictEqual(readState(stateA).executions["brand_new"], 3)
        assert.strictEqual(readState(stateB).executions["brand_new"] ?? 0, 0)
        assert.deepStrictEqual(
          Effect.runSync(set.list).filter((t) => t.name === "brand_new").map((t) => t.server),
          ["newcomer", "owner"]
        )
      }))
    }))

  it.live("20 servers with concurrency 4 never have more than 4 handshakes in flight", () =>
    Effect.gen(function*() {
      let inFlight = 0
      let most = 0
      let started = 0
      // A handshake holds until 4 are in flight (or every one has started), so the limit is
      // reached whatever the timing, and a fifth would be counted if the limit let it in.
      let waiting: Array<() => void> = []
      const servers = Array.from({ length: 20 }, (_, i) => ({
        name: `s${i}`,
        prefix: `s${i}`,
        policy: fast,
        server: McpServerConfig.inMemory({
          name: `s${i}`,
          connect: async (transport) => {
            inFlight++
            started++
            most = Math.max(most, inFlight)
            await new Promise<void>((resolve) => {
              waiting.push(resolve)
              if (inFlight >= 4 || started === 20) {
                waiting.forEach((release) => release())
                waiting = []
              }
            })
            await createServer({}).connect(transport)
            inFlight--
          }
        })
      }))
      const listed = yield* Effect.scoped(
        Effect.flatMap(McpToolset.make({ servers, concurrency: 4 }), (set) => set.list)
      )
      assert.strictEqual(new Set(listed.map((t) => t.server)).size, 20)
      assert.strictEqual(most, 4)
    }))
})
