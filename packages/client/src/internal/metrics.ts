/**
 * Pre-labelled updaters of the client's metrics.
 *
 * @internal
 */
import * as MetricLabel from "effect/MetricLabel"
import { type CallOutcome, connectAttempts, connectDuration, toolCallDuration, toolCalls } from "../McpMetrics.js"

/**
 * Pre-labelled updaters for one server. Labels are built once: the hot path passes the same
 * array each time, which Effect's metric hook cache keys on.
 *
 * @internal
 */
export interface ServerMetrics {
  readonly connectAttempt: (outcome: "success" | "failure") => void
  readonly connectDuration: (millis: number) => void
  readonly tool: (tool: string) => ToolMetrics
}

/** @internal */
export interface ToolMetrics {
  readonly record: (outcome: CallOutcome, seconds: number) => void
}

const label = (key: string, value: string) => MetricLabel.make(key, value)

/**
 * The updaters for `server`: made once by whoever owns the server's sessions (a supervisor)
 * and passed to what records.
 *
 * @internal
 */
export const metricsFor = (server: string): ServerMetrics => {
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
  return metrics
}
