/**
 * The body of `McpToolkit`: a toolkit made at each turn from the tools listed then, and one
 * handler that calls a tool once through the client and turns its typed error into what the
 * model reads, or fails the program with it.
 */
import * as AiTool from "@effect/ai/Tool"
import type * as Toolkit from "@effect/ai/Toolkit"
import { McpTools, McpToolset, type McpToolsetTypes, type McpToolsTypes } from "@mcp-resilience/client"
import type { CallToolResult, Tool as ServerTool } from "@modelcontextprotocol/sdk/types.js"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricLabel from "effect/MetricLabel"
import type {
  ErrorTag,
  McpAiTool,
  Options,
  ProgramError,
  Service,
  ToolFailure,
  ToolResult,
  Tools
} from "../McpToolkit.js"
import { defaultProgramErrors, toModelFailure } from "./failures.js"
import {
  McpSource,
  Parameters,
  ToolFailure as ToolFailureSchema,
  type ToolInfo,
  ToolResult as ToolResultSchema
} from "./schemas.js"

/** A tool as a source lists it, before naming and filtering. */
interface Listed {
  readonly callName: string
  readonly server: string
  readonly tool: ServerTool
}

/** Where tools come from and how one is called: one server or a toolset. */
interface Source {
  readonly list: Effect.Effect<ReadonlyArray<Listed>>
  readonly call: (
    name: string,
    args: Record<string, unknown>,
    options: McpToolsTypes.CallOptions | undefined
  ) => Effect.Effect<CallToolResult, ProgramError>
}

/**
 * Failures of tool calls made for a model, by where they went: `route` is `model` (a failure
 * result) or `program` (`generateText` failed).
 */
export const toolFailures = Metric.counter("mcp.ai.tool.failures", {
  description: "Failed tool calls made for a language model, by server, tool, error type and route",
  incremental: true
})

/** Provider limits on tool names (OpenAI, Anthropic): letters, digits, `_` and `-`, at most 64. */
const MAX_NAME = 64

/** The name a model can call: any other character becomes `_`, cut to 64 characters. */
export const modelName = (name: string): string => name.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, MAX_NAME)

const infoOf = (listed: Listed): ToolInfo => {
  const annotations = listed.tool.annotations
  const readOnly = annotations?.readOnlyHint === true
  return {
    name: modelName(listed.callName),
    callName: listed.callName,
    server: listed.server,
    tool: listed.tool,
    readOnly,
    destructive: !readOnly && annotations?.destructiveHint !== false,
    idempotent: annotations?.idempotentHint === true
  }
}

/** The `@effect/ai` tool for one MCP tool: the server's JSON Schema as its parameters. */
const aiToolOf = (info: ToolInfo): McpAiTool => {
  const annotations = info.tool.annotations
  const description = info.tool.description ?? info.tool.title ?? annotations?.title
  const tool = AiTool.make(info.name, {
    description,
    success: ToolResultSchema,
    failure: ToolFailureSchema,
    failureMode: "return"
  })
    .setParameters(Parameters.annotations({ jsonSchema: info.tool.inputSchema }))
    .annotate(AiTool.Readonly, info.readOnly)
    .annotate(AiTool.Destructive, info.destructive)
    .annotate(AiTool.Idempotent, info.idempotent)
    .annotate(AiTool.OpenWorld, annotations?.openWorldHint !== false)
    .annotate(McpSource, info)
  const title = info.tool.title ?? annotations?.title
  return title === undefined ? tool : tool.annotate(AiTool.Title, title)
}

const resultOf = (result: CallToolResult): ToolResult =>
  result.structuredContent === undefined
    ? { content: result.content }
    : { content: result.content, structuredContent: result.structuredContent }

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

type HandlerResult = AiTool.HandlerResult<McpAiTool>

const succeeded = (result: ToolResult): HandlerResult => ({ isFailure: false, result, encodedResult: result })
const failed = (failure: ToolFailure): HandlerResult => ({ isFailure: true, result: failure, encodedResult: failure })

const make = (source: Source, options: Options | undefined): Service => {
  const programErrors = new Set<ErrorTag>(options?.programErrors ?? defaultProgramErrors)
  const callOptions: McpToolsTypes.CallOptions | undefined = options?.callTimeout === undefined
    ? undefined
    : { timeout: options.callTimeout }
  // the tools made for earlier turns, by model name: reused while the server lists the same tool
  let made = new Map<string, { readonly source: ServerTool; readonly callName: string; readonly tool: McpAiTool }>()
  // the clashes of the last list: a clash is logged when it appears, not at every turn (and the set
  // holds only what the servers list now, however often their names change)
  let reported = new Set<string>()

  /** The tools of this turn, named and filtered; the first of two tools with one model name keeps it. */
  const current = Effect.flatMap(source.list, (listed) => {
    const infos = new Map<string, ToolInfo>()
    const clashes = new Set<string>()
    for (const item of listed) {
      const info = infoOf(item)
      if (info.name === "" || (options?.filter !== undefined && !options.filter(info))) continue
      const other = infos.get(info.name)
      if (other !== undefined) {
        clashes.add(`"${info.callName}" of ${info.server} and "${other.callName}" of ${other.server}`)
        continue
      }
      infos.set(info.name, info)
    }
    const fresh = [...clashes].filter((clash) => !reported.has(clash))
    reported = clashes
    return fresh.length === 0 ? Effect.succeed(infos) : Effect.as(
      Effect.logWarning(`two tools have the same name for the model, the first keeps it: ${fresh.join("; ")}`),
      infos
    )
  })

  const record = (info: ToolInfo, kind: string, route: "model" | "program") =>
    Metric.increment(Metric.taggedWithLabels(toolFailures, [
      MetricLabel.make("mcp.server.name", info.server),
      MetricLabel.make("gen_ai.tool.name", info.callName),
      MetricLabel.make("error.type", kind),
      MetricLabel.make("route", route)
    ]))

  /** A failure the model reads, recorded on the span and in the metric. */
  const toModel = (info: ToolInfo, errorType: string, failure: ToolFailure) =>
    Effect.as(
      Effect.zipRight(
        Effect.annotateCurrentSpan({ "error.type": errorType, "mcp.ai.failure": failure.error }),
        record(info, errorType, "model")
      ),
      failed(failure)
    )

  const denied = (info: ToolInfo) =>
    toModel(info, "denied", {
      error: "denied",
      message: "the call was not approved; the tool did not run",
      mayHaveRun: false
    })

  /** One call, made once: no retry here beyond what the client does for safe calls. */
  const callOnce = (info: ToolInfo, params: Record<string, unknown>) =>
    source.call(info.callName, params, callOptions).pipe(
      Effect.matchEffect({
        onSuccess: (result) => Effect.succeed(succeeded(resultOf(result))),
        onFailure: (error) =>
          programErrors.has(error._tag)
            ? Effect.zipRight(record(info, error._tag, "program"), Effect.fail(error))
            : toModel(info, error._tag, toModelFailure(error))
      })
    )

  const handle = (infos: ReadonlyMap<string, ToolInfo>) => (name: string, params: unknown) =>
    Effect.suspend((): Effect.Effect<HandlerResult, ProgramError> => {
      const info = infos.get(name)
      if (info === undefined) {
        return Effect.succeed(failed({ error: "unknown_tool", message: `the tool "${name}" is not offered now` }))
      }
      const run = !isRecord(params)
        ? toModel(info, "invalid_arguments", {
          error: "invalid_arguments",
          message: "the arguments must be a JSON object",
          mayHaveRun: false
        })
        : options?.approve === undefined || !info.destructive
        ? callOnce(info, params)
        : Effect.flatMap(
          options.approve({ info, params }),
          (approved) => approved ? callOnce(info, params) : denied(info)
        )
      return Effect.withSpan(run, `execute_tool ${info.name}`, {
        kind: "internal",
        captureStackTrace: false,
        attributes: {
          "gen_ai.operation.name": "execute_tool",
          "gen_ai.tool.name": info.name,
          "mcp.server.name": info.server
        }
      })
    })

  const toolkit = Effect.map(current, (infos) => {
    // a prototype-less record: a server may name a tool `__proto__`
    const tools: Tools = Object.create(null)
    const next = new Map<string, { readonly source: ServerTool; readonly callName: string; readonly tool: McpAiTool }>()
    for (const [name, info] of infos) {
      const known = made.get(name)
      const tool = known !== undefined && known.source === info.tool && known.callName === info.callName
        ? known.tool
        : aiToolOf(info)
      next.set(name, { source: info.tool, callName: info.callName, tool })
      tools[name] = tool
    }
    made = next
    // `@effect/ai` types a handler's failure as the tool's failure schema; with failureMode
    // "return" that never reaches the program, but ours fails it with the program errors,
    // which the toolkit's own error type declares to `generateText`.
    const withHandler: Toolkit.WithHandler<Tools> = {
      tools,
      handle: handle(infos) as unknown as Toolkit.WithHandler<Tools>["handle"]
    }
    return withHandler
  })

  return {
    toolkit,
    tools: Effect.map(current, (infos) => [...infos.values()])
  }
}

/** One server's tools. */
export const fromTools = (tools: McpToolsTypes.Service, options?: Options): Service =>
  make({
    list: Effect.map(tools.tools, (list) => list.map((tool) => ({ callName: tool.name, server: tools.server, tool }))),
    call: (name, args, callOptions) => tools.call(name, args, callOptions)
  }, options)

/** Every server of a toolset, by the toolset's names. */
export const fromToolset = (toolset: McpToolsetTypes.Service, options?: Options): Service =>
  make({
    list: Effect.map(
      toolset.list,
      (list) => list.map((entry) => ({ callName: entry.name, server: entry.server, tool: entry.tool }))
    ),
    call: (name, args, callOptions) => toolset.call(name, args, callOptions)
  }, options)

/** {@link fromTools} over the `McpTools` in context. */
export const fromToolsTag = (options?: Options) => Effect.map(McpTools, (tools) => fromTools(tools, options))

/** {@link fromToolset} over the `McpToolset` in context. */
export const fromToolsetTag = (options?: Options) => Effect.map(McpToolset, (toolset) => fromToolset(toolset, options))
