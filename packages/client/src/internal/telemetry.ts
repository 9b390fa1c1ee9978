/**
 * OpenTelemetry's semantic conventions for MCP (`gen-ai/mcp`) in one place: the attributes a
 * session gives the client span and `mcp.client.operation.duration`, `error.type`, and the trace
 * context sent to the server in `params._meta`.
 *
 * @internal
 */
import type * as Cause from "effect/Cause"
import type * as Exit from "effect/Exit"
import * as MetricLabel from "effect/MetricLabel"
import type * as Tracer from "effect/Tracer"
import type * as McpServerConfig from "../McpServerConfig.js"
import type { Session } from "./session.js"

/**
 * `network.transport`: `pipe` for stdio, `tcp` for HTTP and SSE; none for an in-process server
 * (the convention has no value for it).
 *
 * @internal
 */
export const networkTransport = (config: McpServerConfig.McpServerConfig): "pipe" | "tcp" | undefined =>
  config._tag === "Stdio" ? "pipe" : config._tag === "InMemory" ? undefined : "tcp"

/**
 * What a session adds to the spans and metrics of the calls it serves, made once per session:
 * `mcp.server.name` (the config's name, the config file's key, else the server's own
 * `serverInfo.name`, else `fallback`), `network.transport`, `mcp.session.id`, `mcp.protocol.version`.
 *
 * @internal
 */
export interface SessionTelemetry {
  readonly session: Session | undefined
  readonly serverName: string
  readonly transport: "pipe" | "tcp" | undefined
  /** `mcp.server.name`, then `network.transport` and `mcp.protocol.version` when known. */
  readonly labels: ReadonlyArray<MetricLabel.MetricLabel>
}

/** @internal */
export const sessionTelemetry = (
  config: McpServerConfig.McpServerConfig,
  fallback: string,
  session: Session | undefined
): SessionTelemetry => {
  const serverName = config.name ?? session?.serverInfo?.name ?? fallback
  const transport = networkTransport(config)
  const labels = [MetricLabel.make("mcp.server.name", serverName)]
  if (transport !== undefined) labels.push(MetricLabel.make("network.transport", transport))
  if (session?.protocolVersion !== undefined) {
    labels.push(MetricLabel.make("mcp.protocol.version", session.protocolVersion))
  }
  return { session, serverName, transport, labels }
}

/** Sets the session's attributes on a call's span (no allocation). @internal */
export const annotateSpan = (span: Tracer.Span, telemetry: SessionTelemetry): void => {
  span.attribute("mcp.server.name", telemetry.serverName)
  const session = telemetry.session
  if (session?.sessionId !== undefined) span.attribute("mcp.session.id", session.sessionId)
  if (session?.protocolVersion !== undefined) span.attribute("mcp.protocol.version", session.protocolVersion)
}

/**
 * `error.type`, as the convention asks: the JSON-RPC error code when the server answered one
 * (`-32602`), `tool_error` for an `isError: true` result, else the error's `_tag`
 * (`McpTimeoutError`, `McpConnectError`, ...); `_OTHER` for a defect or an interruption.
 *
 * @internal
 */
export const errorType = (error: unknown): string => {
  const tagged = error as { readonly _tag?: unknown; readonly code?: unknown; readonly reason?: unknown } | undefined
  const tag = tagged?._tag
  if (tag === "McpProtocolError" && typeof tagged?.code === "number") return String(tagged.code)
  if (tag === "McpToolError" && tagged?.reason === "IsError") return "tool_error"
  return typeof tag === "string" ? tag : "_OTHER"
}

/** `error.type` of a failure's cause. @internal */
export const errorTypeOfCause = (cause: Cause.Cause<unknown>): string =>
  cause._tag === "Fail" ? errorType(cause.error) : "_OTHER"

/** `error.type` of an exit; undefined for a success. @internal */
export const errorTypeOfExit = (exit: Exit.Exit<unknown, unknown>): string | undefined =>
  exit._tag === "Success" ? undefined : errorTypeOfCause(exit.cause)

/** Whether an `error.type` is a JSON-RPC error code (then also `rpc.response.status_code`). @internal */
export const isRpcCode = (type: string): boolean => /^-?\d+$/.test(type)

/**
 * The W3C trace context of `span` for `params._meta` (`traceparent`); none for a span that is not
 * recorded (tracing disabled: Effect's no-op span has no valid ids).
 *
 * @internal
 */
export const traceMeta = (span: Tracer.AnySpan): { readonly traceparent: string } | undefined =>
  span.traceId.length === 32 && span.spanId.length === 16
    ? { traceparent: `00-${span.traceId}-${span.spanId}-${span.sampled ? "01" : "00"}` }
    : undefined
