/**
 * What the model reads when a tool call fails: a short text per error kind. It never carries
 * what the program alone should see (error details, URLs, causes, stack traces), only the tool's
 * own error content, the kind of failure and whether the tool may have run.
 */
import type { McpError } from "@mcp-resilience/client"
import * as Duration from "effect/Duration"
import type { ToolFailure } from "./schemas.js"

/** A failed tool call as the model reads it. */
export type ModelFailure = typeof ToolFailure.Type

/** The errors that fail the program by default: no model can fix credentials or a config. */
export const defaultProgramErrors: ReadonlyArray<McpError.McpError["_tag"]> = ["McpAuthError", "McpConfigError"]

/** A server-controlled text shown to the model is cut to this many characters. */
export const MAX_TEXT = 2000

/** `text` cut to {@link MAX_TEXT} characters. */
export const bounded = (text: string): string => text.length <= MAX_TEXT ? text : `${text.slice(0, MAX_TEXT)}...`

/** JSON-RPC "invalid params": the model's arguments did not match the tool's schema. */
const INVALID_PARAMS = -32602

const ranSuffix = (mayHaveRun: boolean | undefined) =>
  mayHaveRun === false ? "; the tool did not run" : "; the tool may have run"

/** The failure the model reads for a typed error of the client. */
export const toModelFailure = (error: McpError.McpError): ModelFailure => {
  switch (error._tag) {
    case "McpToolError":
      return error.reason === "UnknownTool"
        ? { error: "unknown_tool", message: `the tool "${error.tool}" is not offered now` }
        : {
          error: "tool_error",
          message: bounded(error.text === "" ? "the tool reported an error" : error.text),
          content: error.content
        }
    case "McpTimeoutError": {
      const mayHaveRun = error.maybeExecuted !== false
      return {
        error: "timeout",
        message: `no answer within ${Duration.format(error.after)}${ranSuffix(mayHaveRun)}`,
        mayHaveRun
      }
    }
    case "McpConnectError": {
      const mayHaveRun = error.maybeExecuted !== false
      const status = error.status === undefined ? "" : `, HTTP ${error.status}`
      return {
        error: "connection",
        message: `the connection to the tool's server failed (${error.reason}${status})${ranSuffix(mayHaveRun)}`,
        mayHaveRun
      }
    }
    case "McpCircuitOpenError":
      return {
        error: "circuit_open",
        message: `the tool's server is failing; calls to it are paused for ${
          Duration.format(error.retryAfter)
        }; the tool did not run`,
        mayHaveRun: false
      }
    case "McpProtocolError":
      return error.code === INVALID_PARAMS
        ? { error: "invalid_arguments", message: bounded(`the arguments were rejected: ${error.detail}`) }
        : { error: "protocol", message: bounded(`the server answered with error ${error.code}: ${error.detail}`) }
    case "McpDecodeError":
      return { error: "decode", message: "the tool's result did not match its declared schema" }
    case "McpAuthError":
      return { error: "auth", message: "the tool's server refused our credentials; the tool did not run" }
    case "McpConfigError":
      return { error: "config", message: "the tool's server is misconfigured; the tool did not run" }
  }
}
