/**
 * The servers both sides of every benchmark talk to, and how each side reaches the in-memory one.
 *
 * - in memory: an SDK `McpServer` in this process with the same `echo` tool as the demo server;
 * - stdio: the bundled demo server (`packages/client/examples/demo-server.mjs`) in a child process.
 */
import { McpServerConfig } from "@mcp-resilience/client"
import type { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js"
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

/** The raw SDK side's `Client` info. */
export const CLIENT_INFO = { name: "bench-raw", version: "0.1.0" }

/** Raw: connects `client` to a fresh echo server over the SDK's `InMemoryTransport` linked pair. */
export const connectInMemory = async (client: Client): Promise<McpServer> => {
  const server = makeEchoServer()
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
  await server.connect(serverSide)
  await client.connect(clientSide)
  return server
}

/** Ours: `McpServerConfig.inMemory` to a fresh echo server on every connect. */
export const echoConfig = (name: string): McpServerConfig.InMemory =>
  McpServerConfig.inMemory({ name, connect: (transport) => makeEchoServer().connect(transport) })

/** The demo server's path; with no environment it is ready at once. */
export const demoServerPath: string = fileURLToPath(
  new URL("../../client/examples/demo-server.mjs", import.meta.url)
)

/** Both sides start the stdio server with the same command line. */
export const stdioCommand: { readonly command: string; readonly args: Array<string> } = {
  command: process.execPath,
  args: [demoServerPath]
}
