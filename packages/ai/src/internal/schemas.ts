/**
 * The schemas and the annotation of the toolkit's tools; documented where `McpToolkit` re-exports them.
 */
import type { Tool as ServerTool } from "@modelcontextprotocol/sdk/types.js"
import * as Context from "effect/Context"
import * as Schema from "effect/Schema"

export const Parameters = Schema.Struct({}, Schema.Record({ key: Schema.String, value: Schema.Unknown }))

export const ToolResult = Schema.Struct({
  content: Schema.Array(Schema.Unknown),
  structuredContent: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
})

export const FailureKind = Schema.Literal(
  "tool_error",
  "unknown_tool",
  "invalid_arguments",
  "timeout",
  "connection",
  "circuit_open",
  "protocol",
  "decode",
  "auth",
  "config",
  "denied"
)

export const ToolFailure = Schema.Struct({
  error: FailureKind,
  message: Schema.String,
  content: Schema.optional(Schema.Array(Schema.Unknown)),
  mayHaveRun: Schema.optional(Schema.Boolean)
})

export interface ToolInfo {
  /** The name the model calls it by: the client's name with any character a provider refuses made `_`. */
  readonly name: string
  /** The name the client calls it by (a toolset's prefixed name, or the server's own). */
  readonly callName: string
  /** The server that offers it. */
  readonly server: string
  /** The tool as its server lists it: description, `inputSchema`, `annotations`. */
  readonly tool: ServerTool
  /** `annotations.readOnlyHint === true`. */
  readonly readOnly: boolean
  /** Not read-only and `destructiveHint` not `false` (MCP's default for a tool that writes). */
  readonly destructive: boolean
  /** `annotations.idempotentHint === true`. */
  readonly idempotent: boolean
}

export class McpSource extends Context.Tag("@mcp-resilience/ai/McpToolkit/McpSource")<McpSource, ToolInfo>() {}
