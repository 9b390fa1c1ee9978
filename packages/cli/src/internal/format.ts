/**
 * What the commands print: server info, the tools table, tool results.
 *
 * @internal
 */
import type { McpClient } from "@mcp-resilience/client"
import type { CallToolResult, Tool } from "@modelcontextprotocol/sdk/types.js"
import type { Style } from "./style.js"

const ANNOTATIONS: ReadonlyArray<readonly [keyof NonNullable<Tool["annotations"]>, string]> = [
  ["readOnlyHint", "readOnly"],
  ["destructiveHint", "destructive"],
  ["idempotentHint", "idempotent"],
  ["openWorldHint", "openWorld"]
]

/** The hints a tool declares true, by their MCP names without `Hint`: `readOnly, idempotent`. */
export const annotationsOf = (tool: Tool): string =>
  ANNOTATIONS.filter(([key]) => tool.annotations?.[key] === true).map(([, label]) => label).join(", ")

const oneLine = (s: string): string => s.replace(/\s+/g, " ").trim()

const fit = (s: string, width: number | undefined): string =>
  width === undefined || s.length <= width ? s : width <= 1 ? "" : `${s.slice(0, width - 1)}…`

/**
 * A table of tools: name, annotations, description. With `width` (a terminal), descriptions are
 * cut to fit on one line.
 */
export const toolsTable = (tools: ReadonlyArray<Tool>, style: Style, width?: number): string => {
  if (tools.length === 0) return "(no tools)"
  const rows = tools.map((tool) => [tool.name, annotationsOf(tool) || "-", oneLine(tool.description ?? "")] as const)
  const head = ["TOOL", "ANNOTATIONS", "DESCRIPTION"] as const
  const w0 = Math.max(head[0].length, ...rows.map((r) => r[0].length))
  const w1 = Math.max(head[1].length, ...rows.map((r) => r[1].length))
  const rest = width === undefined ? undefined : Math.max(10, width - w0 - w1 - 4)
  const line = (r: readonly [string, string, string]) =>
    `${r[0].padEnd(w0)}  ${r[1].padEnd(w1)}  ${fit(r[2], rest)}`
      .trimEnd()
  return [style.bold(line(head)), ...rows.map(line)].join("\n")
}

/** The server's identity and capabilities, as aligned `key  value` lines. */
export const serverInfo = (client: McpClient.McpClient, transport: string, style: Style): string => {
  const info = client.serverInfo
  const capabilities = Object.keys(client.capabilities ?? {}).sort()
  const rows: Array<readonly [string, string | undefined]> = [
    [
      "server",
      info === undefined ? client.server : `${info.name} ${info.version}${info.title ? ` (${info.title})` : ""}`
    ],
    ["protocol", client.protocolVersion],
    ["transport", transport],
    ["pid", client.pid === undefined ? undefined : String(client.pid)],
    ["session", client.sessionId],
    ["capabilities", capabilities.length === 0 ? "none" : capabilities.join(", ")],
    ["instructions", client.instructions === undefined ? undefined : oneLine(client.instructions)]
  ]
  const shown = rows.filter((r): r is readonly [string, string] => r[1] !== undefined && r[1] !== "")
  const w = Math.max(...shown.map((r) => r[0].length))
  return shown.map(([k, v]) => `${style.dim(k.padEnd(w))}  ${v}`).join("\n")
}

const describePart = (part: CallToolResult["content"][number]): string => {
  switch (part.type) {
    case "text":
      return part.text
    case "image":
    case "audio":
      return `[${part.type}: ${part.mimeType}, ${Math.floor((part.data.length * 3) / 4)} bytes]`
    case "resource": {
      const r = part.resource
      return "text" in r && typeof r.text === "string"
        ? `[resource: ${r.uri}]\n${r.text}`
        : `[resource: ${r.uri}${r.mimeType ? `, ${r.mimeType}` : ""}]`
    }
    case "resource_link":
      return `[link: ${part.name} <${part.uri}>]`
    default:
      return JSON.stringify(part)
  }
}

/** A tool result for people: the content parts in order, then `structuredContent` as JSON. */
export const prettyResult = (result: CallToolResult, style: Style): string => {
  const parts = (result.content ?? []).map(describePart)
  const out = parts.length === 0 ? [] : [parts.join("\n")]
  if (result.structuredContent !== undefined) {
    out.push(`${style.dim("structured content:")}\n${JSON.stringify(result.structuredContent, null, 2)}`)
  }
  return out.length === 0 ? style.dim("(empty result)") : out.join("\n\n")
}

/**
 * One progress notification as a line for stderr: `progress 3/10 (30%) message`, or `progress 3`
 * without a total. Server text is cut to one line of 200 characters.
 */
export const progressLine = (
  progress: { readonly progress: number; readonly total?: number | undefined; readonly message?: string | undefined },
  style: Style
): string => {
  const total = progress.total
  const amount = total === undefined || !(total > 0)
    ? `${progress.progress}`
    : `${progress.progress}/${total} (${Math.min(100, Math.round((progress.progress / total) * 100))}%)`
  const message = progress.message === undefined ? "" : ` ${progress.message.replace(/\s+/g, " ").slice(0, 200)}`
  return `${style.dim("progress")} ${amount}${message}`
}

/** A tool result as JSON, exactly as the server sent it. */
export const jsonResult = (result: unknown): string => JSON.stringify(result, null, 2)
