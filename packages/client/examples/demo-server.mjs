#!/usr/bin/env node
// The bundled demo MCP server (stdio), shipped in @mcp-resilience/client so that `mcp-resilience demo`
// finds it once installed. Like a real server that is still starting, it exits with "warming up" on
// its first DEMO_NOT_READY_FOR starts (counted in DEMO_STATE_FILE), then serves three small tools.
// It needs only the MCP SDK (a peer dependency of the package): the tools' schemas are plain JSON Schema.
import * as fs from "node:fs"

const stateFile = process.env.DEMO_STATE_FILE
const notReadyFor = Number(process.env.DEMO_NOT_READY_FOR ?? "0")
if (stateFile !== undefined && notReadyFor > 0) {
  const starts = (fs.existsSync(stateFile) ? Number(fs.readFileSync(stateFile, "utf8")) || 0 : 0) + 1
  fs.writeFileSync(stateFile, String(starts))
  if (starts <= notReadyFor) {
    process.stderr.write(`demo server: warming up (start ${starts} of ${notReadyFor + 1})\n`)
    process.exit(1)
  }
}

const { Server } = await import("@modelcontextprotocol/sdk/server/index.js")
const { StdioServerTransport } = await import("@modelcontextprotocol/sdk/server/stdio.js")
const { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, McpError } = await import(
  "@modelcontextprotocol/sdk/types.js"
)

const text = (value) => ({ content: [{ type: "text", text: value }] })

const tools = {
  add: {
    tool: {
      description: "Adds two numbers",
      inputSchema: {
        type: "object",
        properties: { a: { type: "number" }, b: { type: "number" } },
        required: ["a", "b"]
      },
      outputSchema: { type: "object", properties: { sum: { type: "number" } }, required: ["sum"] },
      annotations: { readOnlyHint: true, idempotentHint: true }
    },
    run: ({ a, b }) => {
      if (typeof a !== "number" || typeof b !== "number") {
        throw new McpError(ErrorCode.InvalidParams, "add: a and b must be numbers")
      }
      return { ...text(String(a + b)), structuredContent: { sum: a + b } }
    }
  },
  echo: {
    tool: {
      description: "Echoes its text",
      inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] },
      annotations: { readOnlyHint: true }
    },
    run: ({ text: value }) => {
      if (typeof value !== "string") throw new McpError(ErrorCode.InvalidParams, "echo: text must be a string")
      return text(value)
    }
  },
  time: {
    tool: {
      description: "The server's clock, as ISO 8601",
      inputSchema: { type: "object", properties: {} },
      annotations: { readOnlyHint: true }
    },
    run: () => text(new Date().toISOString())
  }
}

const server = new Server({ name: "mcp-resilience-demo", version: "0.1.0" }, { capabilities: { tools: {} } })
server.setRequestHandler(ListToolsRequestSchema, () => ({
  tools: Object.entries(tools).map(([name, { tool }]) => ({ name, ...tool }))
}))
server.setRequestHandler(CallToolRequestSchema, (request) => {
  const entry = Object.hasOwn(tools, request.params.name) ? tools[request.params.name] : undefined
  if (entry === undefined) throw new McpError(ErrorCode.InvalidParams, `unknown tool: ${request.params.name}`)
  return entry.run(request.params.arguments ?? {})
})
process.stdin.on("end", () => process.exit(0))
await server.connect(new StdioServerTransport())
