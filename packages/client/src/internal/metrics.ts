/**
 * Pre-labelled updaters of the client's metrics.
 *
 * @internal
 */
import * as MetricLabel from "effect/MetricLabel"
import { type CallOutcome, connectAttempts, connectDuration, toolCallDuration, toolCalls } from "../McpMetrics.js"
import { isRpcCode, type SessionTelemetry } from "./telemetry.js"

/**
 * Pre-labelled updaters for one server. Labels are built once: the hot path passes the same
 * array each time, which Effect's metric hook cache keys on.
 *
 * @internal
 */
export interface ServerMetrics {
  readonly connectAttempt: (outcome: "success" | "failure") => void
  readonly connectDuration: (seconds: number) => void
  readonly tool: (tool: string) => ToolMetrics
}

/** @internal */
export interface ToolMetrics {
  /**
   * Records one call: `errorType` is its `error.type` (undefined for a success), `session` the
   * attributes of the session that served it.
   */
  readonly record: (
    outcome: CallOutcome,
    errorType: string | undefined,
    seconds: number,
    session: SessionTelemetry
  ) => void
}

const label = (key: string, value: string) => MetricLabel.make(key, value)

/** The unit label `@effect/opentelemetry` exports as the instrument's unit. */
const SECONDS = label("unit", "s")
const METHOD = label("mcp.method.name", "tools/call")
const OPERATION = label("gen_ai.operation.name", "execute_tool")
const OUTCOMES: ReadonlyArray<CallOutcome> = ["success", "tool_error", "timeout", "error"]

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
  const connectLabels = [serverLabel, SECONDS]
  let tools: Map<string, ToolMetrics> | undefined
  const makeTool = (tool: string): ToolMetrics => {
    const toolLabel = label("gen_ai.tool.name", tool)
    // rebuilt when another session serves the calls (its name or protocol version may differ)
    let labelledFor: SessionTelemetry | undefined
    let outcomes = {} as Record<CallOutcome, ReadonlyArray<MetricLabel.MetricLabel>>
    const durations = new Map<string, ReadonlyArray<MetricLabel.MetricLabel>>()
    const durationLabels = (session: SessionTelemetry, errorType: string | undefined) => {
      if (session !== labelledFor) {
        labelledFor = session
        durations.clear()
        const serverLabel = session.labels[0]
        outcomes = {} as typeof outcomes
        for (const outcome of OUTCOMES) outcomes[outcome] = [serverLabel, toolLabel, label("outcome", outcome)]
      }
      const key = errorType ?? ""
      let labels = durations.get(key)
      if (labels === undefined) {
        const made = [METHOD, toolLabel, OPERATION, ...session.labels, SECONDS]
        if (errorType !== undefined) {
          made.push(label("error.type", errorType))
          if (isRpcCode(errorType)) made.push(label("rpc.response.status_code", errorType))
        }
        labels = made
        durations.set(key, labels)
      }
      return labels
    }
    return {
      record: (outcome, errorType, seconds, session) => {
        const labels = durationLabels(session, errorType)
        toolCalls.unsafeUpdate(1, outcomes[outcome])
        toolCallDuration.unsafeUpdate(seconds, labels)
      }
    }
  }
  return {
    connectAttempt: (outcome) => connectAttempts.unsafeUpdate(1, attemptLabels[outcome]),
    connectDuration: (seconds) => connectDuration.unsafeUpdate(seconds, connectLabels),
    tool: (tool) => {
      let known = tools?.get(tool)
      if (known === undefined) {
        known = makeTool(tool)
        ;(tools ??= new Map()).set(tool, known)
      }
      return known
    }
  }
}
