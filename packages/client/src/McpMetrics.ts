/**
 * The metrics the client records, so a program can read or export them (e.g. through
 * `@effect/opentelemetry`). Names follow OpenTelemetry's MCP conventions where they exist.
 *
 * @since 0.1.0
 */
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricLabel from "effect/MetricLabel"

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

/**
 * Pre-labelled updaters for one server. Labels are built once: the hot path passes the same
 * array each time, which Effect's metric hook cache keys on.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerMetrics {
  readonly connectAttempt: (outcome: "success" | "failure") => void
  readonly connectDuration: (millis: number) => void
  readonly tool: (tool: string) => ToolMetrics
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ToolMetrics {
  readonly record: (outcome: CallOutcome, seconds: number) => void
}

const servers = new Map<string, ServerMetrics>()

const label = (key: string, value: string) => MetricLabel.make(key, value)

/**
 * The updaters for `server`, made once per server name.
 *
 * @since 0.1.0
 * @category constructors
 */
export const forServer = (server: string): ServerMetrics => {
  const cached = servers.get(server)
  if (cached !== undefined) return cached
  const serverLabel = label("mcp.server.name", server)
  const attemptLabels = {
    success: [serverLabel, label("outcome", "success")],
    failure: [serverLabel, label("outcome", "failure")]
  }
  const serverLabels = [serverLabel]
  const tools = new Map<string, ToolMetrics>()
  const metrics: ServerMetrics = {
    connectAttempt: (outcome) => connectAttempts.unsafeUpdate(1, attemptLabels[outcome]),
    connectDuration: (millis) => connectDuration.unsafeUpdate(millis, serverLabels),
    tool: (tool) => {
      const known = tools.get(tool)
      if (known !== undefined) return known
      const toolLabels = [serverLabel, label("gen_ai.tool.name", tool)]
      const outcomes: Record<CallOutcome, ReadonlyArray<MetricLabel.MetricLabel>> = {
        success: [...toolLabels, label("outcome", "success")],
        tool_error: [...toolLabels, label("outcome", "tool_error")],
        timeout: [...toolLabels, label("outcome", "timeout")],
        error: [...toolLabels, label("outcome", "error")]
      }
      const made: ToolMetrics = {
        record: (outcome, seconds) => {
          toolCalls.unsafeUpdate(1, outcomes[outcome])
          toolCallDuration.unsafeUpdate(seconds, toolLabels)
        }
      }
      tools.set(tool, made)
      return made
    }
  }
  servers.set(server, metrics)
  return metrics
}
