/**
 * The errors a caller can act on, one tagged class per kind. Each knows whether a retry
 * may succeed ({@link isTransient}) and renders a message that names what failed and where.
 *
 * @since 0.1.0
 */
import { Transient } from "@mcp-resilience/policy"
import * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"

const { RejectedTypeId, RetryAfterTypeId, TimeoutTypeId, TransientTypeId } = Transient

const DurationSchema = Schema.DurationFromSelf

const where = (server: string) => `[${server}]`

/** At most 50 names of at most 100 characters: the names are the server's, and there may be thousands. */
const knownList = (names: ReadonlyArray<string>): string => {
  const shown = names.slice(0, 50).map((name) => (name.length > 100 ? `${name.slice(0, 100)}...` : name))
  return names.length > 50 ? `${shown.join(", ")} and ${names.length - 50} more` : shown.join(", ")
}

const withCause = (text: string, cause: unknown): string => {
  if (cause === undefined) return text
  const detail = cause instanceof Error ? cause.message : typeof cause === "string" ? cause : undefined
  return detail === undefined || detail === "" || text.includes(detail) ? text : `${text}: ${detail}`
}

/**
 * Opening the transport or completing the MCP handshake failed.
 *
 * - `Spawn`: the stdio command could not be started.
 * - `Refused`: nothing accepted the connection.
 * - `Closed`: the transport closed (the child exited, the socket was reset) before or during use.
 * - `Handshake`: the server answered `initialize` with an error or something unusable.
 * - `Http`: an HTTP status other than 401/403 (those are {@link McpAuthError}); carries `status`
 *   and the server's `Retry-After`.
 *
 * @since 0.1.0
 * @category errors
 */
export class McpConnectError extends Schema.TaggedError<McpConnectError>("@mcp-resilience/client/McpConnectError")(
  "McpConnectError",
  {
    server: Schema.String,
    reason: Schema.Literal("Spawn", "Refused", "Closed", "Handshake", "Http"),
    detail: Schema.String,
    status: Schema.optional(Schema.Number),
    retryAfter: Schema.optional(DurationSchema),
    /** Whether a tool call in flight when the connection failed may have reached the server. */
    maybeExecuted: Schema.optional(Schema.Boolean),
    cause: Schema.optional(Schema.Defect)
  }
) {
  /**
   * @since 0.1.0
   */
  get [TransientTypeId](): boolean {
    if (this.reason === "Http" && this.status !== undefined) {
      return !(this.status >= 400 && this.status < 500) || this.status === 408 || this.status === 429
    }
    if (this.reason === "Spawn") {
      const code = (this.cause as { code?: unknown } | undefined)?.code
      // a missing or non-executable command does not appear by waiting
      return code !== "ENOENT" && code !== "EACCES"
    }
    return true
  }
  /**
   * @since 0.1.0
   */
  get [RetryAfterTypeId](): Duration.Duration | undefined {
    return this.retryAfter
  }
  /**
   * @since 0.1.0
   */
  override get message(): string {
    const status = this.status === undefined ? "" : ` (HTTP ${this.status})`
    const retry = this.retryAfter === undefined ? "" : `, retry after ${Duration.format(this.retryAfter)}`
    return withCause(
      `${where(this.server)} connect failed, ${this.reason}${status}: ${this.detail}${retry}`,
      this.cause
    )
  }
}

/**
 * An operation did not finish within its deadline. `operation` names it (`connect`,
 * `connect.attempt`, `tools/call echo`, `ping`, ...), `after` is the deadline that passed.
 *
 * @since 0.1.0
 * @category errors
 */
export class McpTimeoutError extends Schema.TaggedError<McpTimeoutError>("@mcp-resilience/client/McpTimeoutError")(
  "McpTimeoutError",
  {
    server: Schema.String,
    operation: Schema.String,
    after: DurationSchema,
    /** For tool calls: the request was sent, so the tool may have run. */
    maybeExecuted: Schema.optional(Schema.Boolean)
  }
) {
  /**
   * @since 0.1.0
   */
  get [TransientTypeId](): boolean {
    return true
  }
  /**
   * A timeout: a retry after it costs a retry budget's `"timeout"` price.
   *
   * @since 0.1.0
   */
  get [TimeoutTypeId](): boolean {
    return true
  }
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `${where(this.server)} ${this.operation} timed out after ${Duration.format(this.after)}`
  }
}

/**
 * What part of authorization failed, for {@link McpAuthError}:
 *
 * - `Rejected`: the server answered 401 or 403 to the credentials sent (fixed headers, or a token
 *   that a fresh authorization just produced).
 * - `Metadata`: protected-resource or authorization-server metadata is missing or unusable, or
 *   names a resource other than the server's URL.
 * - `Registration`: dynamic client registration failed or is not offered.
 * - `Denied`: the interactive authorization step failed or was denied (the `Authorization` service).
 * - `InteractionRequired`: an authorization code is needed and no `Authorization` service is provided.
 * - `TokenEndpoint`: the token endpoint refused the grant (code exchange, client credentials, JWT).
 * - `RefreshFailed`: the refresh token was refused and no re-authorization was possible.
 * - `InsufficientScope`: the server still answers `403 insufficient_scope` after the step-ups allowed.
 *
 * @since 0.1.0
 * @category models
 */
export const AuthReason = Schema.Literal(
  "Rejected",
  "Metadata",
  "Registration",
  "Denied",
  "InteractionRequired",
  "TokenEndpoint",
  "RefreshFailed",
  "InsufficientScope"
)

/**
 * @since 0.1.0
 * @category models
 */
export type AuthReason = typeof AuthReason.Type

/**
 * The server refused our credentials (HTTP 401 or 403) or an OAuth step failed; `reason` says
 * which (see {@link AuthReason}; `Rejected` when not given). Never retried: the same credentials
 * will be refused again, and the OAuth flow has already refreshed or re-authorized as far as the
 * rules allow. The message never holds a token or a client secret.
 *
 * @since 0.1.0
 * @category errors
 */
export class McpAuthError extends Schema.TaggedError<McpAuthError>("@mcp-resilience/client/McpAuthError")(
  "McpAuthError",
  {
    server: Schema.String,
    reason: Schema.optionalWith(AuthReason, { default: () => "Rejected" as const }),
    status: Schema.optional(Schema.Number),
    detail: Schema.String
  }
) {
  /**
   * @since 0.1.0
   */
  get [TransientTypeId](): boolean {
    return false
  }
  /**
   * @since 0.1.0
   */
  override get message(): string {
    const status = this.status === undefined ? "" : ` (HTTP ${this.status})`
    const reason = this.reason === "Rejected" ? "" : `, ${this.reason}`
    return `${where(this.server)} not authorized${reason}${status}: ${this.detail}`
  }
}

/**
 * A configuration value is invalid. `path` names the field (`servers.github.command`,
 * `policy.maxAttempts`), `reason` says why. Never retried.
 *
 * @since 0.1.0
 * @category errors
 */
export class McpConfigError extends Schema.TaggedError<McpConfigError>("@mcp-resilience/client/McpConfigError")(
  "McpConfigError",
  {
    path: Schema.String,
    reason: Schema.String
  }
) {
  /**
   * @since 0.1.0
   */
  get [TransientTypeId](): boolean {
    return false
  }
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return this.path === "" ? `invalid config: ${this.reason}` : `invalid config at ${this.path}: ${this.reason}`
  }
}

/**
 * JSON-RPC error codes that mean "try again later": the connection closed under the request
 * (-32000) or the request timed out on the server's side (-32001).
 *
 * @since 0.1.0
 * @category models
 */
export const transientRpcCodes: ReadonlySet<number> = new Set([-32000, -32001])

/**
 * The server broke the protocol or answered a request with a JSON-RPC error.
 *
 * @since 0.1.0
 * @category errors
 */
export class McpProtocolError extends Schema.TaggedError<McpProtocolError>("@mcp-resilience/client/McpProtocolError")(
  "McpProtocolError",
  {
    server: Schema.String,
    method: Schema.String,
    code: Schema.Number,
    detail: Schema.String,
    data: Schema.optional(Schema.Unknown)
  }
) {
  /**
   * @since 0.1.0
   */
  get [TransientTypeId](): boolean {
    return transientRpcCodes.has(this.code)
  }
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `${where(this.server)} ${this.method} failed with JSON-RPC error ${this.code}: ${this.detail}`
  }
}

/**
 * A tool call did not produce a result: the tool answered `isError: true` (`reason: "IsError"`,
 * the tool's `content` is kept) or no tool has that name (`reason: "UnknownTool"`, `knownTools`
 * lists the names the server offers).
 *
 * @since 0.1.0
 * @category errors
 */
export class McpToolError extends Schema.TaggedError<McpToolError>("@mcp-resilience/client/McpToolError")(
  "McpToolError",
  {
    server: Schema.String,
    tool: Schema.String,
    reason: Schema.Literal("IsError", "UnknownTool", "TaskNotFound", "TaskCancelled"),
    content: Schema.Array(Schema.Unknown),
    knownTools: Schema.optional(Schema.Array(Schema.String)),
    /** The task of a task-based call (reasons `TaskNotFound`, `TaskCancelled`). */
    taskId: Schema.optional(Schema.String)
  }
) {
  /**
   * @since 0.1.0
   */
  get [TransientTypeId](): boolean {
    return false
  }
  /**
   * The text parts of the tool's content, joined.
   *
   * @since 0.1.0
   */
  get text(): string {
    return this.content
      .flatMap((part) =>
        typeof part === "object" && part !== null && (part as { type?: unknown }).type === "text"
          ? [String((part as { text?: unknown }).text)]
          : []
      )
      .join("\n")
  }
  /**
   * @since 0.1.0
   */
  override get message(): string {
    if (this.reason === "TaskNotFound") {
      return `${
        where(this.server)
      } tool "${this.tool}": the server no longer knows task ${this.taskId} (expired or unknown)`
    }
    if (this.reason === "TaskCancelled") {
      return `${where(this.server)} tool "${this.tool}": task ${this.taskId} was cancelled on the server`
    }
    if (this.reason === "UnknownTool") {
      const known = this.knownTools === undefined || this.knownTools.length === 0
        ? "the server offers no tools"
        : `known tools: ${knownList(this.knownTools)}`
      return `${where(this.server)} unknown tool "${this.tool}"; ${known}`
    }
    const text = this.text
    return `${where(this.server)} tool "${this.tool}" returned an error${text === "" ? "" : `: ${text}`}`
  }
}

/**
 * A tool's `structuredContent` does not match the Schema the caller gave. Never retried.
 *
 * @since 0.1.0
 * @category errors
 */
export class McpDecodeError extends Schema.TaggedError<McpDecodeError>("@mcp-resilience/client/McpDecodeError")(
  "McpDecodeError",
  {
    server: Schema.String,
    tool: Schema.String,
    detail: Schema.String,
    cause: Schema.optional(Schema.Defect)
  }
) {
  /**
   * @since 0.1.0
   */
  get [TransientTypeId](): boolean {
    return false
  }
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `${where(this.server)} result of tool "${this.tool}" does not match its schema: ${this.detail}`
  }
}

/**
 * The circuit breaker for `server` is open; calls fail fast until `retryAfter` has passed.
 *
 * @since 0.1.0
 * @category errors
 */
export class McpCircuitOpenError
  extends Schema.TaggedError<McpCircuitOpenError>("@mcp-resilience/client/McpCircuitOpenError")(
    "McpCircuitOpenError",
    {
      server: Schema.String,
      retryAfter: DurationSchema
    }
  )
{
  /**
   * @since 0.1.0
   */
  get [TransientTypeId](): boolean {
    return true
  }
  /**
   * @since 0.1.0
   */
  get [RetryAfterTypeId](): Duration.Duration {
    return this.retryAfter
  }
  /**
   * Nothing was sent: a retry takes nothing from a retry budget.
   *
   * @since 0.1.0
   */
  get [RejectedTypeId](): boolean {
    return true
  }
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `${where(this.server)} circuit open, retry after ${Duration.format(this.retryAfter)}`
  }
}

/**
 * Every error of the taxonomy.
 *
 * @since 0.1.0
 * @category models
 */
export type McpError =
  | McpConnectError
  | McpTimeoutError
  | McpAuthError
  | McpConfigError
  | McpProtocolError
  | McpToolError
  | McpDecodeError
  | McpCircuitOpenError

/**
 * `true` when a retry of the failed operation may succeed. One function for the whole
 * library: it reads the protocol every error above implements, so anything else (a plain
 * `Error`, a defect) is not transient.
 *
 * @since 0.1.0
 * @category guards
 */
export const isTransient: (error: unknown) => boolean = Transient.isTransient

/**
 * Whether the operation that failed with `error` may have taken effect on the server.
 * `undefined` when the error does not say.
 *
 * @since 0.1.0
 * @category guards
 */
export const maybeExecuted = (error: unknown): boolean | undefined =>
  error instanceof McpConnectError || error instanceof McpTimeoutError ? error.maybeExecuted : undefined
