/**
 * MCP tools as what `@effect/ai`'s `LanguageModel.generateText` and `streamText` take as
 * `toolkit`: every tool of an `McpTools` (one server) or `McpToolset` (many servers) with its
 * name, description and the server's own JSON Schema, and a handler that calls it through the
 * client (deadlines, breaker, at-most-once).
 *
 * ```ts
 * const program = Effect.gen(function*() {
 *   const { toolkit } = yield* McpToolkit
 *   return yield* LanguageModel.generateText({ prompt: "What is 2 + 3?", toolkit })
 * })
 * program.pipe(Effect.provide(McpToolkit.layerToolset().pipe(Layer.provide(McpToolset.layerFile("mcp.json")))))
 * ```
 *
 * The `toolkit` is an Effect that `@effect/ai` runs at the start of every model turn, so each turn
 * sees the tools as the servers list them then: a tool added or removed
 * (`notifications/tools/list_changed`) shows in the next turn, with no restart.
 *
 * @since 0.1.0
 */
import type * as AiTool from "@effect/ai/Tool"
import type * as Toolkit from "@effect/ai/Toolkit"
import type { McpError, McpTools, McpToolset, McpToolsetTypes, McpToolsTypes } from "@mcp-resilience/client"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as failures from "./internal/failures.js"
import * as schemas from "./internal/schemas.js"
import * as internal from "./internal/toolkit.js"

/**
 * The parameters of every MCP tool: any JSON object. The model is shown the server's own JSON
 * Schema (a `jsonSchema` annotation on each tool's copy), and the server validates the arguments.
 *
 * @since 0.1.0
 * @category models
 */
export const Parameters: typeof schemas.Parameters = schemas.Parameters

/**
 * @since 0.1.0
 * @category models
 */
export type Parameters = typeof schemas.Parameters

/**
 * A successful call as the model reads it: the tool's `content` blocks and, when it returned one,
 * its `structuredContent`.
 *
 * @since 0.1.0
 * @category models
 */
export const ToolResult: typeof schemas.ToolResult = schemas.ToolResult

/**
 * @since 0.1.0
 * @category models
 */
export type ToolResult = typeof schemas.ToolResult.Type

/**
 * The kinds of failure a model reads (see `docs/agents.md` for the text of each).
 *
 * @since 0.1.0
 * @category models
 */
export const FailureKind: typeof schemas.FailureKind = schemas.FailureKind

/**
 * @since 0.1.0
 * @category models
 */
export type FailureKind = typeof schemas.FailureKind.Type

/**
 * A failed call as the model reads it: the kind, a short text, the tool's own error `content`
 * (for `tool_error`), and whether the tool may have run. Never an error's details or cause.
 *
 * @since 0.1.0
 * @category models
 */
export const ToolFailure: typeof schemas.ToolFailure = schemas.ToolFailure

/**
 * @since 0.1.0
 * @category models
 */
export type ToolFailure = typeof schemas.ToolFailure.Type

/**
 * An MCP tool as an `@effect/ai` tool. Its failures are results the model reads
 * (`failureMode: "return"`); the errors you route to the program fail `generateText` instead.
 *
 * @since 0.1.0
 * @category models
 */
export type McpAiTool = AiTool.Tool<string, {
  readonly parameters: Parameters
  readonly success: typeof ToolResult
  readonly failure: typeof ToolFailure
  readonly failureMode: "return"
}>

/**
 * The tools of one turn, by the name the model calls them.
 *
 * @since 0.1.0
 * @category models
 */
export type Tools = Record<string, McpAiTool>

/**
 * What a tool call can fail the program with: the client's call errors whose tag is in
 * `programErrors`.
 *
 * @since 0.1.0
 * @category errors
 */
export type ProgramError = McpToolsTypes.CallError

/**
 * The tag of an error of the client's taxonomy.
 *
 * @since 0.1.0
 * @category models
 */
export type ErrorTag = McpError.McpError["_tag"]

/**
 * A tool of the current turn, with where it lives and what its server says about it.
 *
 * @since 0.1.0
 * @category models
 */
export type ToolInfo = schemas.ToolInfo

/**
 * The annotation every tool of the toolkit carries: its {@link ToolInfo} (read it with
 * {@link infoOf}).
 *
 * @since 0.1.0
 * @category models
 */
export const McpSource: typeof schemas.McpSource = schemas.McpSource

/**
 * @since 0.1.0
 * @category models
 */
export type McpSource = schemas.McpSource

/**
 * A call waiting for approval.
 *
 * @since 0.1.0
 * @category models
 */
export interface ApprovalRequest {
  readonly info: ToolInfo
  /** The arguments the model gave. */
  readonly params: Readonly<Record<string, unknown>>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * The errors that fail the program (`generateText` fails with them) instead of reaching the
   * model as a failure result. Default {@link defaultProgramErrors}: credentials and config, which
   * no model can fix.
   */
  readonly programErrors?: ReadonlyArray<ErrorTag> | undefined
  /**
   * Asked before every call of a destructive tool (see {@link ToolInfo.destructive}); `false`
   * denies it and the model reads a `denied` failure. Not asked for read-only or
   * non-destructive tools. No approval is asked unless given.
   */
  readonly approve?: ((request: ApprovalRequest) => Effect.Effect<boolean>) | undefined
  /** Which tools the model sees. Default: all. */
  readonly filter?: ((info: ToolInfo) => boolean) | undefined
  /** The deadline of each call. Default: the client's `callTimeout` (60 s). */
  readonly callTimeout?: Duration.DurationInput | undefined
}

/**
 * The default {@link Options.programErrors}: `McpAuthError` and `McpConfigError`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultProgramErrors: ReadonlyArray<ErrorTag> = failures.defaultProgramErrors

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /**
   * Pass it as `toolkit` to `generateText`, `streamText` or a `Chat`: run at each turn, it
   * makes the toolkit from the tools listed then. Its error type is what a tool call can fail
   * the program with (`@effect/ai` adds it to `generateText`'s).
   */
  readonly toolkit: Effect.Effect<Toolkit.WithHandler<Tools>, ProgramError>
  /** The tools the next turn would see. */
  readonly tools: Effect.Effect<ReadonlyArray<ToolInfo>>
}

/**
 * The toolkit of one server's tools.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromTools: (tools: McpToolsTypes.Service, options?: Options) => Service = internal.fromTools

/**
 * The toolkit of every server of a toolset, by the toolset's (possibly prefixed) names.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromToolset: (toolset: McpToolsetTypes.Service, options?: Options) => Service = internal.fromToolset

/**
 * The counter of failed tool calls made for a model, by `mcp.server.name`, `gen_ai.tool.name`,
 * `error.type` (the error's tag, or `denied`, `invalid_arguments`) and `route` (`model`: the model
 * read a failure; `program`: `generateText` failed).
 *
 * @since 0.1.0
 * @category models
 */
export const toolFailures: typeof internal.toolFailures = internal.toolFailures

/**
 * The {@link ToolInfo} of a tool of the toolkit; `undefined` for any other tool.
 *
 * @since 0.1.0
 * @category combinators
 */
export const infoOf = (tool: AiTool.Any): ToolInfo | undefined =>
  Option.getOrUndefined(Context.getOption(tool.annotations, schemas.McpSource))

/**
 * MCP tools for a language model, as a service.
 *
 * @since 0.1.0
 * @category models
 */
export class McpToolkit extends Context.Tag("@mcp-resilience/ai/McpToolkit")<McpToolkit, Service>() {
  /**
   * @since 0.1.0
   * @category constructors
   */
  static readonly fromTools = fromTools
  /**
   * @since 0.1.0
   * @category constructors
   */
  static readonly fromToolset = fromToolset
  /**
   * @since 0.1.0
   * @category combinators
   */
  static readonly infoOf = infoOf
  /**
   * @since 0.1.0
   * @category models
   */
  static readonly McpSource = McpSource
  /**
   * @since 0.1.0
   * @category models
   */
  static readonly ToolResult = ToolResult
  /**
   * @since 0.1.0
   * @category models
   */
  static readonly ToolFailure = ToolFailure
  /**
   * @since 0.1.0
   * @category models
   */
  static readonly toolFailures = toolFailures
  /**
   * @since 0.1.0
   * @category constructors
   */
  static readonly defaultProgramErrors = defaultProgramErrors
  /**
   * The tools of the `McpTools` in context.
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layer = (options?: Options): Layer.Layer<McpToolkit, never, McpTools> =>
    Layer.effect(McpToolkit, internal.fromToolsTag(options))
  /**
   * The tools of every server of the `McpToolset` in context.
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layerToolset = (options?: Options): Layer.Layer<McpToolkit, never, McpToolset> =>
    Layer.effect(McpToolkit, internal.fromToolsetTag(options))
}
