/**
 * Handlers with real servers: the fixture as a stdio child (handlers survive a reconnect; a
 * failing handler leaves the process serving) and server-everything's sampling and elicitation
 * tools.
 */
import { assert, describe, it } from "@effect/vitest"
import { RetryPolicy } from "@mcp-resilience/policy"
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js"
import { Effect } from "effect"
import { Logger, LogLevel } from "effect"
import * as McpServerConfig from "../src/McpServerConfig.js"
import { McpTools } from "../src/McpTools.js"
import { serverEverything } from "./fixtures/paths.js"
import { eventually, fixture, processesMentioning, stateFiles } from "./utils.js"

const fast = RetryPolicy.make({
  maxAttempts: 5,
  base: "20 millis",
  cap: "200 millis",
  jitter: "none",
  attemptTimeout: "10 seconds",
  deadline: "30 seconds"
})

const newState = stateFiles()
/** Integration tests stay quiet when they pass (connect and retry lines). */
const quiet = Logger.withMinimumLogLevel(LogLevel.None)

const textOf = (result: CallToolResult) => result.content.map((c) => (c.type === "text" ? c.text : "")).join("")

describe("handlers over stdio", () => {
  it.live(
    "handlers are installed on every session: elicitation works again after the child died",
    () =>
      Effect.gen(function*() {
        const state = newState()
        let asked = 0
        yield* Effect.scoped(Effect.gen(function*() {
          const tools = yield* McpTools.make({
            server: fixture(state),
            policy: fast,
            handlers: {
              elicitation: {
                form: () => Effect.sync(() => (asked++, { action: "accept" as const, content: { name: `n${asked}` } }))
              }
            }
          })
          const first = yield* tools.call("elicit", {})
          assert.deepStrictEqual(first.structuredContent, { action: "accept", content: { name: "n1", color: "blue" } })
          const firstPid = tools.client?.pid
          process.kill(firstPid!, "SIGKILL")
          // elicit is not idempotent: call it once the new session is up
          yield* eventually(
            () => tools.client !== undefined && tools.client.pid !== firstPid && tools.client.isOpen(),
            "the new session"
          )
          const second = yield* tools.call("elicit", {})
          assert.deepStrictEqual(second.structuredContent, { action: "accept", content: { name: "n2", color: "blue" } })
          assert.notStrictEqual(tools.client?.pid, firstPid)
          assert.strictEqual(yield* tools.sessions, 2)
        }))
        assert.deepStrictEqual(processesMentioning(state), [])
      }).pipe(quiet),
    30_000
  )

  it.live(
    "a failing and a hanging handler answer the server with errors; the same process goes on serving",
    () =>
      Effect.gen(function*() {
        const state = newState()
        yield* Effect.scoped(Effect.gen(function*() {
          const tools = yield* McpTools.make({
            server: fixture(state),
            policy: fast,
            handlers: {
              sampling: () => Effect.fail("no model"),
              elicitation: { form: () => Effect.never },
              timeout: "200 millis"
            }
          })
          const pid = tools.client?.pid
          for (let i = 0; i < 2; i++) {
            const failed = yield* Effect.flip(tools.call("sample", { prompt: "x" }))
            assert.strictEqual(failed._tag, "McpToolError")
            assert.match(JSON.stringify(failed), /-32603 the client's sampling\/createMessage handler failed/)
            const hung = yield* Effect.flip(tools.call("elicit", {}))
            assert.match(JSON.stringify(hung), /-32001 the client's elicitation\/create handler timed out after 200ms/)
          }
          assert.strictEqual(textOf(yield* tools.call("echo", { text: "still here" })), "still here")
          assert.strictEqual(tools.client?.pid, pid)
          assert.strictEqual(yield* tools.sessions, 1)
        }))
        assert.deepStrictEqual(processesMentioning(state), [])
      }).pipe(quiet),
    30_000
  )
})

describe("handlers with server-everything", () => {
  it.live("its sampling and elicitation tools get the handlers' answers", () =>
    Effect.scoped(Effect.gen(function*() {
      const prompts: Array<string> = []
      const tools = yield* McpTools.make({
        server: McpServerConfig.stdio({ name: "everything", command: process.execPath, args: [serverEverything] }),
        policy: fast,
        handlers: {
          sampling: (params) =>
            Effect.sync(() => {
              prompts.push(JSON.stringify(params.messages))
              return {
                role: "assistant" as const,
                model: "stub",
                content: { type: "text" as const, text: "forty-two" }
              }
            }),
          elicitation: {
            form: (params) =>
              Effect.succeed({
                action: "accept" as const,
                content: Object.fromEntries(
                  Object.entries(params.requestedSchema.properties).flatMap(([key, schema]) =>
                    schema.type === "string" && !("enum" in schema) && !("format" in schema) ? [[key, "x"]] : []
                  )
                )
              })
          }
        }
      })
      // server-everything registers its sampling and elicitation tools once it sees the capabilities
      const names = (yield* tools.list).map((tool) => tool.name)
      const sampling = names.find((name) => name.includes("sampling"))
      const elicitation = names.find((name) => name.includes("elicitation"))
      assert.isDefined(sampling, `no sampling tool in ${names.join(", ")}`)
      assert.isDefined(elicitation, `no elicitation tool in ${names.join(", ")}`)
      const sampled = yield* tools.call(sampling!, { prompt: "the answer?", maxTokens: 10 })
      assert.include(textOf(sampled), "forty-two")
      assert.strictEqual(prompts.length, 1)
      const elicited = yield* tools.call(elicitation!, {})
      assert.include(textOf(elicited).toLowerCase(), "accept")
    })).pipe(quiet), 30_000)
})
