/**
 * The metrics the client records, so a program can read or export them (e.g. through
 * `@effect/opentelemetry`). Names follow OpenTelemetry's MCP conventions where they exist.
 *
 * @since 0.1.0
 */
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"

/**
 * Connection attempts, labelled `mcp.server.name` and `outcome` (`success` | `failure`).
 *
 * @since 0.1.0
 * @category models
 */
export const connectAttempts = Metric.counter("mcp.client.connect.attempts", {
  description: "MCP connection attempts, by server and outcome",
  incremental: true
})

/**
 * Time from the first attempt to a connected session, in milliseconds.
 *
 * @since 0.1.0
 * @category models
 */
export const connectDuration = Metric.histogram(
  "mcp.client.connect.duration",
  MetricBoundaries.exponential({ start: 1, factor: 2, count: 18 }),
  "Milliseconds from the first connection attempt to a session"
)

/**
 * Tool calls, labelled `mcp.server.name`, `gen_ai.tool.name` and `outcome`
 * (`success` | `tool_error` | `timeout` | `error`).
 *
 * @since 0.1.0
 * @category models
 */
export const toolCalls = Metric.counter("mcp.client.tool.calls", {
  description: "MCP tool calls, by server, tool and outcome",
  incremental: true
})

/**
 * Duration of tool calls in seconds (OpenTelemetry's unit for `mcp.client.operation.duration`),
 * labelled `mcp.server.name` and `gen_ai.tool.name`.
 *
 * @since 0.1.0
 * @category models
 */
export const toolCallDuration = Metric.histogram(
  "mcp.client.operation.duration",
  MetricBoundaries.exponential({ start: 0.00005, factor: 2, count: 20 }),
  "Seconds per MCP tool call"
)

/**
 * The outcome label of a tool call.
 *
 * @since 0.1.0
 * @category models
 */
export type CallOutcome = "success" | "tool_error" | "timeout" | "error"
