/**
 * The servers both sides of every benchmark talk to.
 *
 * - in memory: an SDK `McpServer` in this process with the same `echo` tool as the demo server;
 * - stdio: the bundled demo server (`packages/client/examples/demo-server.mjs`) in a child process.
 */
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import { TextContentSchema } from "@modelcontextprotocol/sdk/types.js"
import { fileURLToPath } from "node:url"

/**
 * The zod string schema of `TextContent.text`, taken from the SDK's own schemas: the bench then
 * needs no zod dependency of its own, and the tool validates its input exactly like the demo
 * server's `echo` (`{ text: z.string() }`).
 */
const text = TextContentSchema.shape.text

/** A fresh in-process server with the demo server's `echo` tool (an `McpServer` connects once). */
export const makeEchoServer = (): McpServer => {
  const server = new McpServer({ name: "bench-echo", version: "0.1.0" })
  server.registerTool(
    "echo",
    { description: "Echoes its text", inputSchema: { text }, annotations: { readOnlyHint: true } },
    async ({ text }) => ({ content: [{ type: "text", text }] })
  )
  return server
}

/** The demo server's path; with no environment it is ready at once. */
export const demoServerPath: string = fileURLToPath(
  new URL("../../client/examples/demo-server.mjs", import.meta.url)
)

/** Both sides start the stdio server with the same command line. */
export const stdioCommand: { readonly command: string; readonly args: Array<string> } = {
  command: process.execPath,
  args: [demoServerPath]
}
