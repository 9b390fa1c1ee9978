/**
 * The agent loop: ask the model, run the tools it calls, give it the results, until it answers
 * with no tool call or the turns run out. Each turn gets a fresh toolkit (the tools listed
 * then), and the conversation lives in an `@effect/ai` `Chat`.
 *
 * ```ts
 * const program = Effect.gen(function*() {
 *   const { toolkit } = yield* McpToolkit
 *   const { text } = yield* McpAgent.run({ prompt: "What is 2 + 3?", toolkit })
 * })
 * ```
 *
 * @since 0.1.0
 */
import type * as AiError from "@effect/ai/AiError"
import * as Chat from "@effect/ai/Chat"
import type * as LanguageModel from "@effect/ai/LanguageModel"
import * as Prompt from "@effect/ai/Prompt"
import type * as Toolkit from "@effect/ai/Toolkit"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { Concurrency } from "effect/Types"
import type { ProgramError, Tools } from "./McpToolkit.js"

/**
 * The model still called tools after `maxTurns` turns.
 *
 * @since 0.1.0
 * @category errors
 */
export class McpAgentError extends Schema.TaggedError<McpAgentError>("@mcp-resilience/ai/McpAgentError")(
  "McpAgentError",
  {
    reason: Schema.Literal("MaxTurns"),
    turns: Schema.Number
  }
) {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `the model still called tools after ${this.turns} turns (maxTurns)`
  }
}

/**
 * @since 0.1.0
 * @category models
 */
export interface RunOptions {
  /** The user's message (or a whole prompt), added to the chat. */
  readonly prompt: Prompt.RawInput
  /** `McpToolkit`'s `toolkit`: made again at every turn. */
  readonly toolkit: Effect.Effect<Toolkit.WithHandler<Tools>, ProgramError>
  /** The most model turns before {@link McpAgentError}. Default 10. */
  readonly maxTurns?: number | undefined
  /** A chat to continue (its history is kept); default a new one. */
  readonly chat?: Chat.Service | undefined
  /** How many of one turn's tool calls run at once. Default 1: in the order the model made them. */
  readonly concurrency?: Concurrency | undefined
  /** Called after each turn, e.g. to show the tool calls and results. */
  readonly onTurn?:
    | ((response: LanguageModel.GenerateTextResponse<Tools>, turn: number) => Effect.Effect<void>)
    | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Result {
  /** The text of the last turn: the model's answer. */
  readonly text: string
  /** How many turns the model took. */
  readonly turns: number
  /** Every turn's response, in order. */
  readonly responses: ReadonlyArray<LanguageModel.GenerateTextResponse<Tools>>
}

/**
 * Runs the agent loop until the model answers with no tool call.
 *
 * @since 0.1.0
 * @category constructors
 */
export const run = (
  options: RunOptions
): Effect.Effect<Result, AiError.AiError | ProgramError | McpAgentError, LanguageModel.LanguageModel> =>
  Effect.gen(function*() {
    const chat = options.chat ?? (yield* Chat.empty)
    const maxTurns = options.maxTurns ?? 10
    const responses: Array<LanguageModel.GenerateTextResponse<Tools>> = []
    let prompt: Prompt.RawInput = options.prompt
    while (true) {
      if (responses.length >= maxTurns) return yield* new McpAgentError({ reason: "MaxTurns", turns: maxTurns })
      const response = yield* chat.generateText({
        prompt,
        toolkit: options.toolkit,
        ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency })
      })
      responses.push(response)
      if (options.onTurn !== undefined) yield* options.onTurn(response, responses.length)
      if (response.toolCalls.length === 0) return { text: response.text, turns: responses.length, responses }
      prompt = Prompt.empty
    }
  }).pipe(Effect.withSpan("McpAgent.run", { captureStackTrace: false }))
