/**
 * The service programs use: the tools of one MCP server, called with deadlines, typed
 * failures, optional Schema decoding of `structuredContent`, spans and metrics.
 *
 * ```ts
 * const McpToolsLive = McpTools.layer({ server: McpServerConfig.stdio({ command: "node", args: ["server.js"] }) })
 * const program = Effect.gen(function*() {
 *   const tools = yield* McpTools
 *   return yield* tools.call("add", { a: 1, b: 2 })
 * })
 * program.pipe(Effect.provide(McpToolsLive))
 * ```
 *
 * @since 0.1.0
 */
import type { RetryPolicy } from "@mcp-resilience/policy"
import type { CallToolResult, Tool } from "@modelcontextprotocol/sdk/types.js"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as McpClient from "./McpClient.js"
import { McpDecodeError, McpToolError } from "./McpError.js"
import * as McpMetrics from "./McpMetrics.js"
import type * as McpServerConfig from "./McpServerConfig.js"

/**
 * What a tool call can fail with.
 *
 * @since 0.1.0
 * @category errors
 */
export type CallError = McpClient.RequestError | McpToolError

/**
 * @since 0.1.0
 * @category models
 */
export interface CallOptions {
  /** The deadline of this call; defaults to the layer's `callTimeout` (60 s). */
  readonly timeout?: Duration.DurationInput | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface CallOptionsWithSchema<A, I, R> extends CallOptions {
  /** Decodes the result's `structuredContent`; a mismatch fails with `McpDecodeError`. */
  readonly schema: Schema.Schema<A, I, R>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The server's name in logs and errors. */
  readonly server: string
  /** The session underneath. */
  readonly client: McpClient.McpClient
  /** The tools as last listed (at connect, or by {@link Service.list}). */
  readonly tools: Effect.Effect<ReadonlyArray<Tool>>
  /** Lists the tools from the server and remembers them. */
  readonly list: Effect.Effect<ReadonlyArray<Tool>, McpClient.RequestError>
  /**
   * Calls a tool. `isError: true` fails with `McpToolError` (reason `IsError`) carrying the
   * content; a name the server does not offer fails with `McpToolError` (reason `UnknownTool`)
   * listing the known names. With `schema`, `structuredContent` is decoded.
   */
  readonly call: {
    <A, I, R>(
      name: string,
      args: Record<string, unknown> | undefined,
      options: CallOptionsWithSchema<A, I, R>
    ): Effect.Effect<A, CallError | McpDecodeError, R>
    (name: string, args?: Record<string, unknown>, options?: CallOptions): Effect.Effect<CallToolResult, CallError>
  }
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options extends McpClient.Options {
  /** The server to connect to. */
  readonly server: McpServerConfig.McpServerConfig
  /** The default deadline of each call. Default 60 seconds. */
  readonly callTimeout?: Duration.DurationInput | undefined
}

const decodeError = (server: string, tool: string, cause: unknown) =>
  new McpDecodeError({
    server,
    tool,
    detail: ParseResult.isParseError(cause) ? ParseResult.TreeFormatter.formatErrorSync(cause) : String(cause),
    cause
  })

/**
 * Builds the service over an open session.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromClient = (client: McpClient.McpClient): Effect.Effect<Service, McpClient.RequestError> =>
  Effect.gen(function*() {
    const server = client.server
    const metrics = McpMetrics.forServer(server)
    let current: ReadonlyArray<Tool> = []
    let byName = new Map<string, Tool>()
    const remember = (tools: ReadonlyArray<Tool>) => {
      current = tools
      byName = new Map(tools.map((tool) => [tool.name, tool]))
      return tools
    }
    const list = Effect.map(client.listTools(), remember)
    yield* list
    const clock = yield* Effect.clock

    const unknownTool = (name: string) =>
      new McpToolError({ server, tool: name, reason: "UnknownTool", content: [], knownTools: [...byName.keys()] })

    // the tool may have been added since the last list: look again once before failing
    const ensureKnown = (name: string): Effect.Effect<void, CallError> =>
      byName.has(name)
        ? Effect.void
        : Effect.flatMap(list, () => (byName.has(name) ? Effect.void : Effect.fail(unknownTool(name))))

    const attributes = (name: string) => ({
      "mcp.method.name": "tools/call",
      "gen_ai.tool.name": name,
      "gen_ai.operation.name": "execute_tool",
      "mcp.server.name": server,
      ...(client.sessionId === undefined ? {} : { "mcp.session.id": client.sessionId })
    })
    const spanAttributes = new Map<string, Record<string, string>>()
    const attributesOf = (name: string) => {
      let found = spanAttributes.get(name)
      if (found === undefined) {
        found = attributes(name)
        spanAttributes.set(name, found)
      }
      return found
    }

    const callRaw = (name: string, args: Record<string, unknown> | undefined, options: CallOptions | undefined) =>
      Effect.suspend(() => {
        const started = clock.unsafeCurrentTimeNanos()
        const toolMetrics = metrics.tool(name)
        const elapsed = () => Number(clock.unsafeCurrentTimeNanos() - started) / 1e6
        return ensureKnown(name).pipe(
          Effect.zipRight(client.callTool(name, args, options)),
          Effect.flatMap((result) =>
            result.isError === true
              ? Effect.fail(new McpToolError({ server, tool: name, reason: "IsError", content: result.content ?? [] }))
              : Effect.succeed(result)
          ),
          Effect.onExit((exit) =>
            Effect.sync(() =>
              toolMetrics.record(
                exit._tag === "Success"
                  ? "success"
                  : exit.cause._tag === "Fail"
                  ? exit.cause.error._tag === "McpToolError"
                    ? "tool_error"
                    : exit.cause.error._tag === "McpTimeoutError"
                    ? "timeout"
                    : "error"
                  : "error",
                elapsed()
              )
            )
          ),
          Effect.withSpan("mcp.tools.call", { kind: "client", attributes: attributesOf(name) })
        )
      })

    const call = (
      name: string,
      args?: Record<string, unknown>,
      options?: CallOptions | CallOptionsWithSchema<any, any, any>
    ): Effect.Effect<any, any, any> => {
      const raw = callRaw(name, args, options)
      if (options === undefined || !("schema" in options)) return raw
      const decode = Schema.decodeUnknown(options.schema)
      return Effect.flatMap(raw, (result) =>
        result.structuredContent === undefined
          ? Effect.fail(decodeError(server, name, "the tool returned no structuredContent"))
          : Effect.mapError(decode(result.structuredContent), (cause) => decodeError(server, name, cause)))
    }

    return {
      server,
      client,
      tools: Effect.sync(() => current),
      list,
      call: call as Service["call"]
    } satisfies Service
  })

/**
 * Connects under the policy and builds the service; closing the scope closes the session.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<Service, McpClient.ConnectError | McpClient.RequestError, Scope.Scope> =>
  Effect.flatMap(
    McpClient.make(options.server, {
      ...options,
      requestTimeout: options.callTimeout ?? options.requestTimeout
    }),
    fromClient
  )

/**
 * The tools of one MCP server, as a service.
 *
 * @since 0.1.0
 * @category models
 */
export class McpTools extends Context.Tag("@mcp-resilience/client/McpTools")<McpTools, Service>() {
  /**
   * @since 0.1.0
   * @category constructors
   */
  static readonly make = make
  /**
   * A layer that owns the session for its lifetime: `Effect.provide(McpTools.layer(...))`.
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layer = (options: Options): Layer.Layer<McpTools, McpClient.ConnectError | McpClient.RequestError> =>
    Layer.scoped(McpTools, make(options))
}

/**
 * The policy type, re-exported for convenience in layer options.
 *
 * @since 0.1.0
 * @category models
 */
export type Policy = RetryPolicy.RetryPolicy
