/**
 * A `LanguageModel` that plays back a script: each turn answers with the text and tool calls the
 * script gives, and records what the model was shown (prompt, tools and their JSON Schemas). No
 * network, no key: for tests and for running an agent example offline.
 *
 * ```ts
 * const ModelLive = ScriptedModel.layer([
 *   { toolCalls: [{ name: "add", params: { a: 2, b: 3 } }] },
 *   { text: "2 + 3 = 5" }
 * ])
 * ```
 *
 * @since 0.1.0
 */
import * as LanguageModel from "@effect/ai/LanguageModel"
import type * as Prompt from "@effect/ai/Prompt"
import type * as Response from "@effect/ai/Response"
import * as AiTool from "@effect/ai/Tool"
import * as Effect from "effect/Effect"
import type * as JSONSchema from "effect/JSONSchema"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"

/**
 * A tool call the scripted model makes.
 *
 * @since 0.1.0
 * @category models
 */
export interface ToolCall {
  readonly name: string
  readonly params?: Record<string, unknown> | undefined
}

/**
 * One answer of the model: text, tool calls, or both.
 *
 * @since 0.1.0
 * @category models
 */
export interface Turn {
  readonly text?: string | undefined
  readonly toolCalls?: ReadonlyArray<ToolCall> | undefined
}

/**
 * A tool as the model was shown it.
 *
 * @since 0.1.0
 * @category models
 */
export interface ShownTool {
  readonly name: string
  readonly description: string | undefined
  readonly parameters: JSONSchema.JsonSchema7
}

/**
 * A tool result the model was given back (from the prompt's last tool message).
 *
 * @since 0.1.0
 * @category models
 */
export interface SeenResult {
  readonly id: string
  readonly name: string
  readonly isFailure: boolean
  readonly result: unknown
}

/**
 * What the model was asked at one turn.
 *
 * @since 0.1.0
 * @category models
 */
export interface Request {
  /** 0 for the first request to this model. */
  readonly turn: number
  readonly prompt: Prompt.Prompt
  readonly tools: ReadonlyArray<ShownTool>
  /** The results of the previous turn's tool calls, as the model reads them. */
  readonly results: ReadonlyArray<SeenResult>
}

/**
 * A step of the script: a fixed turn, or one computed from what the model is shown.
 *
 * @since 0.1.0
 * @category models
 */
export type Step = Turn | ((request: Request) => Turn)

/**
 * A scripted model and what it was asked.
 *
 * @since 0.1.0
 * @category models
 */
export interface Scripted {
  readonly model: LanguageModel.Service
  /** Every request so far, in order. */
  readonly requests: Effect.Effect<ReadonlyArray<Request>>
}

/**
 * The text the model answers once the script has no step left.
 *
 * @since 0.1.0
 * @category constructors
 */
export const endOfScript = "(end of script)"

const lastResults = (prompt: Prompt.Prompt): ReadonlyArray<SeenResult> => {
  const last = prompt.content[prompt.content.length - 1]
  if (last === undefined || last.role !== "tool") return []
  return last.content.map((part) => ({ id: part.id, name: part.name, isFailure: part.isFailure, result: part.result }))
}

const partsOf = (turn: Turn, index: number): Array<Response.PartEncoded> => {
  const parts: Array<Response.PartEncoded> = []
  if (turn.text !== undefined) parts.push({ type: "text", text: turn.text })
  const calls = turn.toolCalls ?? []
  calls.forEach((call, i) =>
    parts.push({ type: "tool-call", id: `call_${index}_${i}`, name: call.name, params: call.params ?? {} })
  )
  parts.push({
    type: "finish",
    reason: calls.length > 0 ? "tool-calls" : "stop",
    usage: { inputTokens: undefined, outputTokens: undefined, totalTokens: undefined }
  })
  return parts
}

/** The parts of a turn as a stream: text as start/delta/end, then the calls and the finish. */
const streamPartsOf = (parts: Array<Response.PartEncoded>): Array<Response.StreamPartEncoded> =>
  parts.flatMap((part): Array<Response.StreamPartEncoded> =>
    part.type === "text"
      ? [
        { type: "text-start", id: "text" },
        { type: "text-delta", id: "text", delta: part.text },
        { type: "text-end", id: "text" }
      ]
      : part.type === "tool-call" || part.type === "finish"
      ? [part]
      : []
  )

/**
 * A scripted model: the n-th request gets the n-th step; after the last step it answers
 * {@link endOfScript} with no tool call, so an agent loop ends.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (script: ReadonlyArray<Step>): Effect.Effect<Scripted> =>
  Effect.gen(function*() {
    const requests: Array<Request> = []
    const answer = (options: LanguageModel.ProviderOptions) =>
      Effect.sync(() => {
        const request: Request = {
          turn: requests.length,
          prompt: options.prompt,
          tools: options.tools.map((tool) => ({
            name: tool.name,
            description: tool.description ?? AiTool.getDescriptionFromSchemaAst(tool.parametersSchema.ast),
            parameters: AiTool.getJsonSchemaFromSchemaAst(tool.parametersSchema.ast)
          })),
          results: lastResults(options.prompt)
        }
        requests.push(request)
        const step = script[request.turn]
        const turn = step === undefined ? { text: endOfScript } : typeof step === "function" ? step(request) : step
        return partsOf(turn, request.turn)
      })
    const model = yield* LanguageModel.make({
      generateText: answer,
      streamText: (options) => Stream.flatMap(answer(options), (parts) => Stream.fromIterable(streamPartsOf(parts)))
    })
    return { model, requests: Effect.sync(() => [...requests]) }
  })

/**
 * The scripted model as the `LanguageModel` layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (script: ReadonlyArray<Step>): Layer.Layer<LanguageModel.LanguageModel> =>
  Layer.effect(LanguageModel.LanguageModel, Effect.map(make(script), (scripted) => scripted.model))
