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
import type { CircuitBreaker, RetryPolicy } from "@mcp-resilience/policy"
import type { CallToolResult, Tool } from "@modelcontextprotocol/sdk/types.js"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as internal from "./internal/mcpTools.js"
import type * as McpClient from "./McpClient.js"
import type { McpCircuitOpenError, McpDecodeError, McpToolError } from "./McpError.js"
import type * as McpProgress from "./McpProgress.js"
import type * as McpServerConfig from "./McpServerConfig.js"
import type { Status } from "./McpStatus.js"
import type * as McpTasks from "./McpTasks.js"

/**
 * What a tool call can fail with.
 *
 * @since 0.1.0
 * @category errors
 */
export type CallError = McpClient.RequestError | McpClient.ConnectError | McpToolError | McpCircuitOpenError

/**
 * @since 0.1.0
 * @category models
 */
export interface CallOptions {
  /** The deadline of each attempt of this call; defaults to the layer's `callTimeout` (60 s). */
  readonly timeout?: Duration.DurationInput | undefined
  /**
   * Declares the call safe to repeat, so it may be retried after it could have reached the
   * server. Tools annotated `readOnlyHint` or `idempotentHint` are safe without it.
   */
  readonly idempotent?: boolean | undefined
  /**
   * Each progress notification of the server restarts the attempt's deadline, up to
   * `maxTotalTimeout` from the attempt's start. Default `false`.
   */
  readonly resetTimeoutOnProgress?: boolean | undefined
  /** The bound on an attempt with `resetTimeoutOnProgress`. Default 10 times its `timeout`. */
  readonly maxTotalTimeout?: Duration.DurationInput | undefined
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
  /** The current session, `undefined` while reconnecting. */
  readonly client: McpClient.McpClient | undefined
  /** The tools as last listed (at each connect, and after `notifications/tools/list_changed`). */
  readonly tools: Effect.Effect<ReadonlyArray<Tool>>
  /** The tool list now and at every change. */
  readonly toolsChanges: Stream.Stream<ReadonlyArray<Tool>>
  /** Lists the tools from the server and remembers them. */
  readonly list: Effect.Effect<ReadonlyArray<Tool>, CallError>
  /** The session's state now. */
  readonly status: Effect.Effect<Status>
  /** The session's state now and at every change. */
  readonly statusChanges: Stream.Stream<Status>
  /** How many sessions this layer has made (1 until the first reconnect). */
  readonly sessions: Effect.Effect<number>
  /**
   * Calls a tool. `isError: true` fails with `McpToolError` (reason `IsError`) carrying the
   * content; a name the server does not offer fails with `McpToolError` (reason `UnknownTool`)
   * listing the known names. With `schema`, `structuredContent` is decoded.
   *
   * A call is retried (under `callPolicy`) only when that is safe: it never reached the server
   * (no session, send failed, HTTP session expired), or the tool is read-only or idempotent.
   * Otherwise it runs at most once, and its error says whether it may have run (`maybeExecuted`).
   */
  readonly call: {
    <A, I, R>(
      name: string,
      args: Record<string, unknown> | undefined,
      options: CallOptionsWithSchema<A, I, R>
    ): Effect.Effect<A, CallError | McpDecodeError, R>
    (name: string, args?: Record<string, unknown>, options?: CallOptions): Effect.Effect<CallToolResult, CallError>
  }
  /**
   * Calls a tool as {@link call} does, as a `Stream`: the server's progress notifications in order
   * (the call asks for them), then the result. Ending the stream early cancels the call.
   */
  readonly callWithProgress: (
    name: string,
    args?: Record<string, unknown>,
    options?: CallOptions
  ) => Stream.Stream<McpProgress.CallEvent, CallError>
  /**
   * Awaits a task created earlier, e.g. by this program before it restarted (see
   * `McpTasks.TaskStore`): polls it and returns its result as {@link call} would.
   */
  readonly awaitTask: (tool: string, taskId: string, options?: CallOptions) => Effect.Effect<CallToolResult, CallError>
  /**
   * Calls several tools at once (an agent's parallel tool calls), each exactly as {@link call}
   * would: its own deadline, retries when safe, metrics, `isError` and unknown names as
   * `McpToolError`. Returns every outcome, in the order of `calls`; it does not fail.
   * Interrupting it cancels the calls in flight (`notifications/cancelled`).
   *
   * The same as `Effect.forEach(calls, (c) => Effect.either(tools.call(...)), { concurrency })`.
   */
  readonly callAll: (
    calls: ReadonlyArray<ToolCall>,
    options?: CallAllOptions
  ) => Effect.Effect<ReadonlyArray<Either.Either<CallToolResult, CallError>>>
}

/**
 * One call of {@link Service.callAll}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ToolCall {
  readonly name: string
  readonly arguments?: Record<string, unknown> | undefined
  readonly options?: CallOptions | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface CallAllOptions {
  /** How many calls may be in flight at once. Default `"unbounded"`: all of them. */
  readonly concurrency?: number | "unbounded" | undefined
}

/**
 * Health checks: a `ping` every `interval`; `misses` missed pings in a row replace the session.
 *
 * @since 0.1.0
 * @category models
 */
export interface HealthOptions {
  /** Time between pings. Default 30 seconds. */
  readonly interval?: Duration.DurationInput | undefined
  /** Deadline of each ping. Default 5 seconds. */
  readonly timeout?: Duration.DurationInput | undefined
  /** Missed pings in a row that mark the session dead. Default 3. */
  readonly misses?: number | undefined
}

/**
 * Bounds on what a server controls. A server past one fails the operation with a typed error
 * naming the bound; the defaults are generous for real servers.
 *
 * @since 0.1.0
 * @category models
 */
export interface Limits {
  /** Pages of `tools/list` followed before the listing fails. Default 100. */
  readonly maxListPages?: number | undefined
  /** Tools a server may list (and output-schema validators a session keeps). Default 10,000. */
  readonly maxTools?: number | undefined
  /**
   * The deepest output schema accepted; a deeper one makes its tool fail with the reason, the
   * others work. Default 64.
   */
  readonly maxSchemaDepth?: number | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options extends McpClient.Options {
  /** The server to connect to. */
  readonly server: McpServerConfig.McpServerConfig
  /** The default deadline of each call attempt. Default 60 seconds. */
  readonly callTimeout?: Duration.DurationInput | undefined
  /** How safe calls are retried. Default: 3 attempts, 200 ms base, 2 s cap, full jitter, 2 min total. */
  readonly callPolicy?: RetryPolicy.RetryPolicy | undefined
  /** Tools to treat as idempotent in addition to those the server annotates. */
  readonly idempotentTools?: ReadonlyArray<string> | undefined
  /** Ping the server on a schedule; `misses` missed pings in a row replace the session. Off by default. */
  readonly health?: HealthOptions | undefined
  /** A session that lived at least this long is replaced with no wait. Default 60 seconds. */
  readonly resetAfter?: Duration.DurationInput | undefined
  /** `"required"` (default): the layer fails if the first connection fails. `"optional"`: it starts at once. */
  readonly startup?: "required" | "optional" | undefined
  /** Quiet time before a `tools/list_changed` notification triggers a refresh. Default 100 ms. */
  readonly refreshDebounce?: Duration.DurationInput | undefined
  /**
   * A circuit breaker for this server: calls and connection attempts go through it, and while it
   * is open they fail fast with `McpCircuitOpenError`. Off unless given; `{}` uses the defaults
   * (failure ratio 0.1 over 30 s with at least 100 calls, 5 s break).
   */
  readonly breaker?: Omit<CircuitBreaker.Options<McpCircuitOpenError>, "onRejected"> | undefined
  /** Bounds on what the server controls; see {@link Limits} for the defaults. */
  readonly limits?: Limits | undefined
  /** How calls of task-based tools poll their task; see `McpTasks.TaskOptions`. */
  readonly tasks?: McpTasks.TaskOptions | undefined
}

/**
 * Connects under the policy and builds the supervised service; closing the scope closes the
 * session.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Service, McpClient.ConnectError, Scope.Scope> =>
  Effect.map(internal.make(options), (made) => made.service)

/**
 * The default policy for retrying safe calls: 3 attempts, 200 ms base, 2 s cap, full jitter,
 * 10 min per attempt, 2 min in all.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultCallPolicy: RetryPolicy.RetryPolicy = internal.defaultCallPolicy

/**
 * A service tag for one server's tools. `McpTools` itself is one; make another with
 * `McpTools.Tag` to have two servers' tools in one context:
 *
 * ```ts
 * class Search extends McpTools.Tag("app/Search")<Search>() {}
 * const SearchLive = Search.layer({ server: McpServerConfig.http({ url: "https://example.com/mcp" }) })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface TagClass<Self, Id extends string> extends Context.TagClass<Self, Id, Service> {
  /** Connects and builds the service (see {@link make}). */
  readonly make: (options: Options) => Effect.Effect<Service, McpClient.ConnectError, Scope.Scope>
  /** A layer that owns the supervised session for its lifetime. */
  readonly layer: (options: Options) => Layer.Layer<Self, McpClient.ConnectError>
  /** A layer whose options are read from Effect's `Config` (see {@link layerConfig}). */
  readonly layerConfig: (
    options: Config.Config<Options>
  ) => Layer.Layer<Self, McpClient.ConnectError | ConfigError.ConfigError>
  /** The default policy for retrying safe calls. */
  readonly defaultCallPolicy: RetryPolicy.RetryPolicy
  /** Makes another tag class like this one (see {@link Tag}). */
  readonly Tag: typeof Tag
}

/**
 * Makes a tag class for one server's tools, with `make`, `layer` and `layerConfig`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Tag = <const Id extends string>(id: Id) => <Self>(): TagClass<Self, Id> => {
  const TagClass = Context.Tag(id)<Self, Service>() as unknown as TagClass<Self, Id> & Record<string, unknown>
  const tag = TagClass as unknown as Context.Tag<Self, Service>
  Object.assign(TagClass, {
    make,
    layer: (options: Options) => Layer.scoped(tag, make(options)),
    layerConfig: (config: Config.Config<Options>) => Layer.scoped(tag, Effect.flatMap(config, make)),
    defaultCallPolicy,
    Tag
  })
  return TagClass
}

/**
 * The tools of one MCP server, as a service: `McpTools.layer(options)`, then `yield* McpTools`.
 *
 * @since 0.1.0
 * @category models
 */
export class McpTools extends Tag("@mcp-resilience/client/McpTools")<McpTools>() {}
