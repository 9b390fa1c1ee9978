/**
 * The scripted model on its own: steps in order, function steps see the previous results, the
 * end of the script, and streaming.
 */
import { LanguageModel, type Prompt, Tool, Toolkit } from "@effect/ai"
import { assert, describe, it } from "@effect/vitest"
import { ScriptedModel } from "@mcp-resilience/ai"
import { Chunk, Effect, Schema, Stream } from "effect"

const Double = Tool.make("double", {
  description: "Doubles a number",
  parameters: { n: Schema.Number },
  success: Schema.Number
})
const toolkit = Toolkit.make(Double)
const handlers = toolkit.toLayer({ double: ({ n }) => Effect.succeed(n * 2) })

const history = [
  { role: "user", content: "double 21" },
  {
    role: "assistant",
    content: [{ type: "tool-call", id: "call_0_0", name: "double", params: { n: 21 }, providerExecuted: false }]
  },
  {
    role: "tool",
    content: [{
      type: "tool-result",
      id: "call_0_0",
      name: "double",
      isFailure: false,
      result: 42,
      providerExecuted: false
    }]
  }
] satisfies Prompt.RawInput

describe("ScriptedModel", () => {
  it.effect("plays the steps in order; a function step reads the previous turn's results; then it stops", () =>
    Effect.gen(function*() {
      const scripted = yield* ScriptedModel.make([
        { text: "let me double", toolCalls: [{ name: "double", params: { n: 21 } }] },
        ({ results }) => ({ text: `got ${JSON.stringify(results.map((r) => r.result))}` })
      ])
      const ask = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
        Effect.provideService(effect, LanguageModel.LanguageModel, scripted.model)

      const first = yield* ask(LanguageModel.generateText({ prompt: "double 21", toolkit }))
      assert.strictEqual(first.text, "let me double")
      assert.strictEqual(first.finishReason, "tool-calls")
      assert.deepStrictEqual(first.toolResults.map((part) => part.result), [42])
      const second = yield* ask(LanguageModel.generateText({ prompt: history, toolkit }))
      assert.strictEqual(second.text, "got [42]")
      assert.strictEqual(second.finishReason, "stop")
      const third = yield* ask(LanguageModel.generateText({ prompt: "more?" }))
      assert.strictEqual(third.text, ScriptedModel.endOfScript)
      assert.strictEqual(third.toolCalls.length, 0)

      const requests = yield* scripted.requests
      assert.deepStrictEqual(requests.map((r) => r.turn), [0, 1, 2])
      assert.strictEqual(requests[0]!.tools.length, 1)
      assert.strictEqual(requests[0]!.tools[0]!.name, "double")
      assert.strictEqual(requests[0]!.tools[0]!.description, "Doubles a number")
      assert.deepStrictEqual(
        JSON.stringify(requests[0]!.tools[0]!.parameters),
        JSON.stringify({
          type: "object",
          required: ["n"],
          properties: { n: { type: "number" } },
          additionalProperties: false
        })
      )
      assert.deepStrictEqual(requests[1]!.results, [{ id: "call_0_0", name: "double", isFailure: false, result: 42 }])
      assert.deepStrictEqual(requests[2]!.tools, [], "no toolkit, no tools")
    }).pipe(Effect.provide(handlers)))

  it.effect("streams text as deltas, then the tool calls, their results and the finish", () =>
    Effect.gen(function*() {
      const scripted = yield* ScriptedModel.make([{
        text: "doubling",
        toolCalls: [{ name: "double", params: { n: 4 } }]
      }])
      const parts = yield* LanguageModel.streamText({ prompt: "double 4", toolkit }).pipe(
        Stream.runCollect,
        Effect.provideService(LanguageModel.LanguageModel, scripted.model)
      )
      const types = Chunk.toArray(parts).map((part) => part.type)
      assert.deepStrictEqual(types, ["text-start", "text-delta", "text-end", "tool-call", "finish", "tool-result"])
      const result = Chunk.toArray(parts).find((part) => part.type === "tool-result")
      assert.strictEqual(result?.type === "tool-result" ? result.result : undefined, 8)
    }).pipe(Effect.provide(handlers)))
})
