#!/usr/bin/env node
// The bundled demo MCP server (stdio). Like a real server that is still starting, it exits
// with "warming up" on its first DEMO_NOT_READY_FOR starts (counted in DEMO_STATE_FILE),
// then serves three small tools.
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js"
import * as fs from "node:fs"
import { z } from "zod"

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

const server = new McpServer({ name: "mcp-resilience-demo", version: "0.1.0" })
server.registerTool(
  "add",
  {
    description: "Adds two numbers",
    inputSchema: { a: z.number(), b: z.number() },
    outputSchema: { sum: z.number() },
    annotations: { readOnlyHint: true, idempotentHint: true }
  },
  async ({ a, b }) => ({ content: [{ type: "text", text: String(a + b) }], structuredContent: { sum: a + b } })
)
server.registerTool(
  "echo",
  { description: "Echoes its text", inputSchema: { text: z.string() }, annotations: { readOnlyHint: true } },
  async ({ text }) => ({ content: [{ type: "text", text }] })
)
server.registerTool(
  "time",
  { description: "The server's clock, as ISO 8601", annotations: { readOnlyHint: true } },
  async () => ({ content: [{ type: "text", text: new Date().toISOString() }] })
)
await server.connect(new StdioServerTransport())
