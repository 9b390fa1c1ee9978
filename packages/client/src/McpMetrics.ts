/**
 * The metrics the client records, so a program can read or export them (e.g. through
 * `@effect/opentelemetry`). Names follow OpenTelemetry's MCP conventions where they exist.
 *
 * @since 0.1.0
 */
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"

/** The bucket boundaries OpenTelemetry's MCP conventions advise for operation durations, in seconds. */
const OPERATION_BOUNDARIES = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300]

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
 * Time from the first attempt to a connected session, in seconds, labelled `mcp.server.name`
 * and `unit` (`s`, which `@effect/opentelemetry` exports as the instrument's unit).
 *
 * @since 0.1.0
 * @category models
 */
export const connectDuration = Metric.histogram(
  "mcp.client.connect.duration",
  MetricBoundaries.fromIterable(OPERATION_BOUNDARIES),
  "Seconds from the first connection attempt to a session"
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
 * Duration of tool calls in seconds, as OpenTelemetry's `mcp.client.operation.duration`, with the
 * convention's bucket boundaries and attributes, in this order: `mcp.method.name` (`tools/call`),
 * `gen_ai.tool.name`, `gen_ai.operation.name` (`execute_tool`), `mcp.server.name`,
 * `network.transport` (`pipe` | `tcp`, none in memory), `mcp.protocol.version`, `unit` (`s`,
 * which `@effect/opentelemetry` exports as the instrument's unit), and on failure `error.type`
 * (plus `rpc.response.status_code` for a JSON-RPC error).
 *
 * @since 0.1.0
 * @category models
 */
export const toolCallDuration = Metric.histogram(
  "mcp.client.operation.duration",
  MetricBoundaries.fromIterable(OPERATION_BOUNDARIES),
  "The duration of the MCP request as observed on the sender from the time it was sent until the response is received"
)

/**
 * The outcome label of a tool call.
 *
 * @since 0.1.0
 * @category models
 */
export type CallOutcome = "success" | "tool_error" | "timeout" | "error"
