/**
 * McpToolkit with the scripted model and real MCP servers: the client's fixture server over
 * stdio (with a state file that counts executions across processes) and server-everything.
 */
import { LanguageModel, Tool } from "@effect/ai"
import { assert, describe, it } from "@effect/vitest"
import { McpAgent, McpToolkit, type McpToolkitTypes, ScriptedModel } from "@mcp-resilience/ai"
import { McpServerConfig, McpTools, McpToolset } from "@mcp-resilience/client"
import { RetryPolicy } from "@mcp-resilience/policy"
import { Chunk, Context, Effect, Exit, Logger, LogLevel, Metric, MetricLabel, Stream } from "effect"
import { readState, serverEverything, spawnHttpFixture } from "../../client/test/fixtures/paths.js"
import { eventually, fixture, processesMentioning, stateFiles } from "../../client/test/utils.js"

const fast = RetryPolicy.make({ maxAttempts: 5, base: "20 millis", cap: "100 millis", jitter: "none" })

const newState = stateFiles()

const everything = McpServerConfig.stdio({ name: "everything", command: process.execPath, args: [serverEverything] })

/** A whole test bounded in wall-clock time, with a message that says what hung. */
const bounded = <A, E, R>(what: string, effect: Effect.Effect<A, E, R>) =>
  Effect.timeoutFail(effect, { duration: "25 seconds", onTimeout: () => new Error(`${what}: no end after 25 s`) }).pipe(
    // quiet when passing: the client logs each connect and reconnect
    Logger.withMinimumLogLevel(LogLevel.None)
  )

/** The result part the model got back for its n-th call of the previous turn. */
const seen = (request: ScriptedModel.Request | undefined, i = 0) => {
  assert.isDefined(request, "the model was asked again")
  const result = request!.results[i]
  assert.isDefined(result, `the model got a result for call ${i}`)
  return result!
}

const failureOf = (result: ScriptedModel.SeenResult): McpToolkitTypes.ToolFailure => {
  assert.isTrue(result.isFailure, `"${result.name}" reached the model as a failure`)
  return result.result as McpToolkitTypes.ToolFailure
}

const failures = (labels: Record<string, string>) =>
  Metric.value(
    Metric.taggedWithLabels(
      McpToolkit.toolFailures,
      Object.entries(labels).map(([key, value]) => MetricLabel.make(key, value))
    )
  ).pipe(Effect.map((state) => state.count))

describe("McpToolkit", () => {
  it.live("the model's calls reach the right server with the right arguments, and it sees each server's schema", () =>
    bounded(
      "three servers",
      Effect.gen(function*() {
        const a = newState()
        const b = newState()
        const scripted = yield* ScriptedModel.make([
          {
            toolCalls: [
              { name: "a__counter" },
              { name: "b__add", params: { a: 2, b: 3 } },
              { name: "ev__echo", params: { message: "hello everything" } }
            ]
          },
          { text: "done" }
        ])
        const listed = yield* Effect.scoped(Effect.gen(function*() {
          const set = yield* McpToolset.make({
            servers: [
              { name: "a", server: fixture(a), policy: fast, prefix: "a" },
              { name: "b", server: fixture(b), policy: fast, prefix: "b" },
              { name: "everything", server: everything, policy: fast, prefix: "ev" }
            ]
          })
          const { toolkit } = McpToolkit.fromToolset(set)
          const result = yield* McpAgent.run({ prompt: "count, add and echo", toolkit }).pipe(
            Effect.provideService(LanguageModel.LanguageModel, scripted.model)
          )
          assert.strictEqual(result.text, "done")
          assert.strictEqual(result.turns, 2)
          return yield* set.list
        }))
        assert.strictEqual(readState(a).executions.counter, 1, "a's counter ran once")
        assert.isUndefined(readState(b).executions.counter, "b's counter never ran")
        assert.strictEqual(readState(b).executions.add, 1, "b's add ran once")
        assert.isUndefined(readState(a).executions.add, "a's add never ran")

        const requests = yield* scripted.requests
        const [count, sum, echo] = [seen(requests[1], 0), seen(requests[1], 1), seen(requests[1], 2)]
        assert.deepStrictEqual(count.result, {
          content: [{ type: "text", text: "1" }],
          structuredContent: { count: 1 }
        })
        assert.deepStrictEqual(sum.result, { content: [{ type: "text", text: "5" }], structuredContent: { sum: 5 } })
        assert.isFalse(echo.isFailure)
        assert.include(JSON.stringify(echo.result), "hello everything")

        // the model was shown every tool with its server's own JSON Schema and description
        const shown = new Map(requests[0]!.tools.map((tool) => [tool.name, tool]))
        for (const name of ["a__counter", "b__add", "ev__echo", "ev__get-sum"]) {
          const server = listed.find((entry) => entry.name === name)
          assert.isDefined(server, `${name} is listed`)
          assert.deepStrictEqual<unknown>(shown.get(name)?.parameters, server!.tool.inputSchema, `${name}'s schema`)
          assert.strictEqual(shown.get(name)?.description, server!.tool.description)
        }
        assert.deepStrictEqual(processesMentioning(a), [])
        assert.deepStrictEqual(processesMentioning(b), [])
      })
    ))

  it.live("a crash mid-conversation: the model reads a failure, the call is not repeated, the next turn works", () =>
    bounded(
      "crash mid-conversation",
      Effect.gen(function*() {
        const state = newState()
        const scripted = yield* ScriptedModel.make([
          { toolCalls: [{ name: "counter" }] },
          { toolCalls: [{ name: "echo", params: { text: "after the crash" } }] },
          { text: "recovered" }
        ])
        const sessions = yield* Effect.scoped(Effect.gen(function*() {
          // `counter` is neither read-only nor idempotent; the server exits once it has counted it
          const tools = yield* McpTools.make({ server: fixture(state, "--exit-on-call", "counter"), policy: fast })
          const { toolkit } = McpToolkit.fromTools(tools)
          const result = yield* McpAgent.run({ prompt: "count, then echo", toolkit }).pipe(
            Effect.provideService(LanguageModel.LanguageModel, scripted.model)
          )
          assert.strictEqual(result.text, "recovered")
          return yield* tools.sessions
        }))
        const requests = yield* scripted.requests
        const crashed = failureOf(seen(requests[1]))
        assert.strictEqual(crashed.error, "connection")
        assert.isTrue(crashed.mayHaveRun, "the model is told the tool may have run")
        assert.notInclude(crashed.message, state, "no command line or path reaches the model")
        const echoed = seen(requests[2])
        assert.isFalse(echoed.isFailure)
        assert.deepStrictEqual(echoed.result, { content: [{ type: "text", text: "after the crash" }] })
        const after = readState(state)
        assert.strictEqual(after.executions.counter, 1, "the non-idempotent call ran once and was never repeated")
        assert.strictEqual(after.spawns, 2, "one new process after the crash")
        assert.strictEqual(sessions, 2)
        assert.deepStrictEqual(processesMentioning(state), [])
      })
    ))

  it.live("over Streamable HTTP: a call whose connection is cut reaches the model as a failure, run once", () =>
    bounded(
      "HTTP cut",
      Effect.gen(function*() {
        const state = newState()
        // the fixture over HTTP on 127.0.0.1: `counter` is counted, then its request's socket is destroyed
        const server = yield* Effect.acquireRelease(
          Effect.promise(() => spawnHttpFixture(["--state-file", state, "--exit-on-call", "counter"])),
          (spawned) => Effect.promise(() => spawned.kill())
        )
        const scripted = yield* ScriptedModel.make([
          { toolCalls: [{ name: "counter" }] },
          { toolCalls: [{ name: "add", params: { a: 1, b: 2 } }] },
          { text: "ok" }
        ])
        yield* Effect.scoped(Effect.gen(function*() {
          const tools = yield* McpTools.make({
            server: McpServerConfig.http({ name: "http", url: server.url }),
            policy: fast,
            callTimeout: "10 seconds"
          })
          yield* McpAgent.run({ prompt: "count, then add", toolkit: McpToolkit.fromTools(tools).toolkit }).pipe(
            Effect.provideService(LanguageModel.LanguageModel, scripted.model)
          )
        }))
        const requests = yield* scripted.requests
        const cut = failureOf(seen(requests[1]))
        assert.deepStrictEqual(cut, {
          error: "connection",
          message: "the connection to the tool's server failed (Closed); the tool may have run",
          mayHaveRun: true
        })
        assert.deepStrictEqual(seen(requests[2]).result, {
          content: [{ type: "text", text: "3" }],
          structuredContent: { sum: 3 }
        })
        assert.strictEqual(readState(state).executions.counter, 1, "the cut call was not repeated")
      }).pipe(Effect.scoped)
    ))

  it.live("a tools/list_changed mid-conversation changes the tools of the next turn, with no restart", () =>
    bounded(
      "list_changed",
      Effect.gen(function*() {
        const state = newState()
        const scripted = yield* ScriptedModel.make([
          { toolCalls: [{ name: "set_tools", params: { add: ["weather"], remove: ["fail"] } }] },
          { toolCalls: [{ name: "weather", params: { text: "Lyon" } }] },
          { text: "sunny" }
        ])
        const sessions = yield* Effect.scoped(Effect.gen(function*() {
          const tools = yield* McpTools.make({ server: fixture(state), policy: fast, refreshDebounce: "20 millis" })
          const { toolkit } = McpToolkit.fromTools(tools)
          yield* McpAgent.run({
            prompt: "add a tool, then use it",
            toolkit,
            // the client applies the server's notification after its debounce; the next turn starts then
            onTurn: (_, turn) =>
              turn === 1
                ? eventually(
                  () => Effect.runSync(tools.tools).some((tool) => tool.name === "weather"),
                  "the client's refreshed tool list"
                )
                : Effect.void
          }).pipe(Effect.provideService(LanguageModel.LanguageModel, scripted.model))
          return yield* tools.sessions
        }))
        const requests = yield* scripted.requests
        const before = requests[0]!.tools.map((tool) => tool.name)
        const after = requests[1]!.tools.map((tool) => tool.name)
        assert.include(before, "fail")
        assert.notInclude(before, "weather")
        assert.include(after, "weather")
        assert.notInclude(after, "fail")
        assert.deepStrictEqual(seen(requests[2]).result, { content: [{ type: "text", text: "weather: Lyon" }] })
        assert.strictEqual(sessions, 1, "the same session throughout")
      })
    ))

  it.live("a tool's isError reaches the model with its own content; programErrors fails the program instead", () =>
    bounded(
      "failure routing",
      Effect.gen(function*() {
        const state = newState()
        const script = [{ toolCalls: [{ name: "fail", params: { message: "disk full" } }] }, { text: "sorry" }]
        yield* Effect.scoped(Effect.gen(function*() {
          const tools = yield* McpTools.make({ server: fixture(state), policy: fast })
          const labels = {
            "mcp.server.name": tools.server,
            "gen_ai.tool.name": "fail",
            "error.type": "McpToolError"
          }
          const toModel = yield* failures({ ...labels, route: "model" })
          const toProgram = yield* failures({ ...labels, route: "program" })

          const scripted = yield* ScriptedModel.make(script)
          const { toolkit } = McpToolkit.fromTools(tools)
          yield* McpAgent.run({ prompt: "fail", toolkit }).pipe(
            Effect.provideService(LanguageModel.LanguageModel, scripted.model)
          )
          const failure = failureOf(seen((yield* scripted.requests)[1]))
          assert.deepStrictEqual(failure, {
            error: "tool_error",
            message: "disk full",
            content: [{ type: "text", text: "disk full" }]
          })
          assert.strictEqual((yield* failures({ ...labels, route: "model" })) - toModel, 1)

          const strict = yield* ScriptedModel.make(script)
          const exit = yield* McpAgent.run({
            prompt: "fail",
            toolkit: McpToolkit.fromTools(tools, { programErrors: ["McpToolError"] }).toolkit
          }).pipe(Effect.provideService(LanguageModel.LanguageModel, strict.model), Effect.exit)
          assert.isTrue(Exit.isFailure(exit))
          const error = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
          assert.strictEqual(error?._tag, "McpToolError", "the program gets the typed error")
          assert.strictEqual((yield* strict.requests).length, 1, "the model was not asked again")
          assert.strictEqual((yield* failures({ ...labels, route: "program" })) - toProgram, 1)
        }))
        assert.strictEqual(readState(state).executions.fail, 2, "each call ran once")
      })
    ))

  it.live("the approval hook is asked for destructive tools only, and a denied call never runs", () =>
    bounded(
      "approval",
      Effect.gen(function*() {
        const state = newState()
        const asked: Array<string> = []
        const scripted = yield* ScriptedModel.make([
          { toolCalls: [{ name: "crash" }, { name: "echo", params: { text: "safe" } }, { name: "counter" }] },
          { text: "ok" }
        ])
        const sessions = yield* Effect.scoped(Effect.gen(function*() {
          const tools = yield* McpTools.make({ server: fixture(state), policy: fast })
          const { toolkit } = McpToolkit.fromTools(tools, {
            approve: ({ info, params }) =>
              Effect.sync(() => {
                asked.push(`${info.name} ${JSON.stringify(params)}`)
                return false
              })
          })
          yield* McpAgent.run({ prompt: "crash", toolkit }).pipe(
            Effect.provideService(LanguageModel.LanguageModel, scripted.model)
          )
          return yield* tools.sessions
        }))
        // crash has no annotations (MCP: destructive); echo is read-only; counter says destructiveHint: false
        assert.deepStrictEqual(asked, ["crash {}"])
        const requests = yield* scripted.requests
        assert.strictEqual(failureOf(seen(requests[1], 0)).error, "denied")
        assert.isFalse(seen(requests[1], 1).isFailure)
        assert.isFalse(seen(requests[1], 2).isFailure)
        assert.isUndefined(readState(state).executions.crash, "the denied tool never ran")
        assert.strictEqual(sessions, 1)
      })
    ))

  it.live("the tool annotations and the server's tool are on each tool of the toolkit", () =>
    bounded(
      "annotations",
      Effect.gen(function*() {
        yield* Effect.scoped(Effect.gen(function*() {
          const tools = yield* McpTools.make({ server: fixture(newState()), policy: fast })
          const toolkit = yield* McpToolkit.fromTools(tools).toolkit
          const get = (name: string) => {
            const info = McpToolkit.infoOf(toolkit.tools[name]!)
            assert.isDefined(info, `${name} carries its ToolInfo`)
            return info!
          }
          assert.strictEqual(get("echo").readOnly, true)
          assert.strictEqual(get("crash").destructive, true)
          assert.strictEqual(get("counter").destructive, false)
          assert.strictEqual(get("add").idempotent, true)
          assert.strictEqual(get("add").server, tools.server)
          assert.isTrue(Context.get(toolkit.tools.echo!.annotations, Tool.Readonly), "@effect/ai's own annotation")
          assert.isFalse(Context.get(toolkit.tools.counter!.annotations, Tool.Destructive))
        }))
      })
    ))

  it.live("streamText resolves the model's tool calls through the same handler", () =>
    bounded(
      "streamText",
      Effect.gen(function*() {
        const scripted = yield* ScriptedModel.make([{ toolCalls: [{ name: "add", params: { a: 20, b: 22 } }] }])
        const parts = yield* Effect.scoped(Effect.gen(function*() {
          const tools = yield* McpTools.make({ server: fixture(newState()), policy: fast })
          const { toolkit } = McpToolkit.fromTools(tools)
          return yield* LanguageModel.streamText({ prompt: "add", toolkit }).pipe(
            Stream.runCollect,
            Effect.provideService(LanguageModel.LanguageModel, scripted.model)
          )
        }))
        const result = Chunk.toArray(parts).find((part) => part.type === "tool-result")
        assert.isDefined(result)
        assert.deepStrictEqual(result?.type === "tool-result" ? result.result : undefined, {
          content: [{ type: "text", text: "42" }],
          structuredContent: { sum: 42 }
        })
      })
    ))
})
