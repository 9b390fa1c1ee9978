/**
 * The agent loop over the layers, with an in-memory fixture server: the loop ends when the model
 * calls no tool, stops with a typed error after `maxTurns`, and a chat keeps its history.
 */
import { type AiError, Chat, LanguageModel } from "@effect/ai"
import { assert, describe, it } from "@effect/vitest"
import { McpAgent, McpToolkit, type McpToolkitTypes, ScriptedModel } from "@mcp-resilience/ai"
import { McpServerConfig, McpTools, type McpToolsTypes } from "@mcp-resilience/client"
import { RetryPolicy } from "@mcp-resilience/policy"
import { Server } from "@modelcontextprotocol/sdk/server/index.js"
import { CallToolRequestSchema, ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js"
import { Effect, Exit, Layer, Logger, LogLevel } from "effect"
import { expectTypeOf } from "vitest"
import { createServer, createStore } from "../../client/test/fixtures/server.mjs"

const store = createStore()
const ToolsLive = McpTools.layer({
  server: McpServerConfig.inMemory({
    name: "mem",
    connect: (transport) => createServer({}, { store }).connect(transport)
  }),
  policy: RetryPolicy.make({ maxAttempts: 2, base: "10 millis", jitter: "none" })
})
const ToolkitLive = McpToolkit.layer({ filter: (info) => info.name !== "crash" }).pipe(Layer.provideMerge(ToolsLive))

const withModel = (script: ReadonlyArray<ScriptedModel.Step>) =>
  Effect.map(ScriptedModel.make(script), (scripted) => ({
    ...scripted,
    provide: <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.provideService(effect, LanguageModel.LanguageModel, scripted.model)
  }))

describe("McpAgent", () => {
  it.live("concurrency: a turn's calls run at once when asked", () =>
    Effect.gen(function*() {
      // each call holds until two are in flight (or 2 s pass, then fails), so only concurrent calls pass
      let inFlight = 0
      let most = 0
      let release: Array<() => void> = []
      const server = () => {
        const s = new Server({ name: "gate", version: "1.0.0" }, { capabilities: { tools: {} } })
        s.setRequestHandler(ListToolsRequestSchema, () => ({
          tools: [{ name: "gate", inputSchema: { type: "object" as const }, annotations: { readOnlyHint: true } }]
        }))
        s.setRequestHandler(CallToolRequestSchema, async () => {
          inFlight++
          most = Math.max(most, inFlight)
          const opened = await new Promise<boolean>((resolve) => {
            release.push(() => resolve(true))
            if (inFlight >= 2) {
              release.forEach((open) => open())
              release = []
            }
            setTimeout(() => resolve(false), 2_000)
          })
          inFlight--
          return { content: [{ type: "text", text: opened ? "together" : "alone" }], isError: !opened }
        })
        return s
      }
      const model = yield* withModel([{ toolCalls: [{ name: "gate" }, { name: "gate" }] }])
      const result = yield* Effect.scoped(Effect.gen(function*() {
        const tools = yield* McpTools.make({
          server: McpServerConfig.inMemory({ name: "gate", connect: (transport) => server().connect(transport) })
        })
        const { toolkit } = McpToolkit.fromTools(tools)
        return yield* model.provide(McpAgent.run({ prompt: "both", toolkit, concurrency: "unbounded" }))
      }))
      assert.strictEqual(most, 2)
      assert.deepStrictEqual(
        result.responses[0]!.toolResults.map((part) => part.isFailure),
        [false, false],
        "both calls were in flight together"
      )
    }).pipe(Effect.provide(Logger.minimumLogLevel(LogLevel.None))))

  it.layer(Layer.merge(ToolkitLive, Logger.minimumLogLevel(LogLevel.None)), { timeout: 20_000 })((it) => {
    it.effect("runs turns until the model calls no tool; each turn's results reach the model", () =>
      Effect.gen(function*() {
        const { toolkit, tools } = yield* McpToolkit
        const names = (yield* tools).map((tool) => tool.name)
        assert.include(names, "echo")
        assert.notInclude(names, "crash", "filtered out")
        const model = yield* withModel([
          { toolCalls: [{ name: "echo", params: { text: "one" } }] },
          { toolCalls: [{ name: "echo", params: { text: "two" } }] },
          ({ results }) => ({ text: `last: ${JSON.stringify(results[0]?.result)}` })
        ])
        const turns: Array<number> = []
        const result = yield* model.provide(McpAgent.run({
          prompt: "echo twice",
          toolkit,
          onTurn: (_, turn) => Effect.sync(() => turns.push(turn))
        }))
        assert.strictEqual(result.turns, 3)
        assert.deepStrictEqual(turns, [1, 2, 3])
        assert.strictEqual(result.text, "last: {\"content\":[{\"type\":\"text\",\"text\":\"two\"}]}")
        assert.strictEqual(result.responses.length, 3)
        assert.deepStrictEqual((yield* model.requests)[0]!.tools.map((tool) => tool.name).includes("crash"), false)
      }))

    it.effect("a model that keeps calling tools stops after maxTurns with McpAgentError", () =>
      Effect.gen(function*() {
        const { toolkit } = yield* McpToolkit
        const forever = { toolCalls: [{ name: "echo", params: { text: "again" } }] }
        const model = yield* withModel([forever, forever, forever, forever])
        const before = store.state.executions.echo ?? 0
        const exit = yield* model.provide(McpAgent.run({ prompt: "loop", toolkit, maxTurns: 3 })).pipe(Effect.exit)
        assert.isTrue(Exit.isFailure(exit))
        const error = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
        assert.strictEqual(error?._tag, "McpAgentError")
        assert.include(error?.message ?? "", "after 3 turns")
        assert.strictEqual((yield* model.requests).length, 3)
        assert.strictEqual((store.state.executions.echo ?? 0) - before, 3, "one call per turn, none repeated")
      }))

    it.effect("a chat passed in keeps its history across runs", () =>
      Effect.gen(function*() {
        const { toolkit } = yield* McpToolkit
        const model = yield* withModel([{ text: "first answer" }, { text: "second answer" }])
        const chat = yield* Chat.empty
        yield* model.provide(McpAgent.run({ prompt: "first question", toolkit, chat }))
        const second = yield* model.provide(McpAgent.run({ prompt: "second question", toolkit, chat }))
        assert.strictEqual(second.text, "second answer")
        const prompt = (yield* model.requests)[1]!.prompt
        const said = prompt.content.map((message) => message.role)
        assert.deepStrictEqual(said, ["user", "assistant", "user"], "the second run sees the first exchange")
      }))
  })
})

describe("types", () => {
  it("generateText with the toolkit fails with AiError or a program error; McpAgent.run adds McpAgentError", () => {
    const _typed = (service: McpToolkitTypes.Service) => ({
      turn: LanguageModel.generateText({ prompt: "hi", toolkit: service.toolkit }),
      run: McpAgent.run({ prompt: "hi", toolkit: service.toolkit })
    })
    type Typed = ReturnType<typeof _typed>
    expectTypeOf<Effect.Effect.Error<Typed["turn"]>>().toEqualTypeOf<AiError.AiError | McpToolsTypes.CallError>()
    expectTypeOf<Effect.Effect.Error<Typed["run"]>>().toEqualTypeOf<
      AiError.AiError | McpToolsTypes.CallError | McpAgent.McpAgentError
    >()
    expectTypeOf<Effect.Effect.Context<Typed["turn"]>>().toEqualTypeOf<LanguageModel.LanguageModel>()
  })
})
