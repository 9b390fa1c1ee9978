/**
 * The MCP server behind `FlakyServer` (`@mcp-resilience/testing`): one implementation of the scripted behaviours,
 * used in process (in memory and over Streamable HTTP, where `src/FlakyServer.ts` supplies a clock and a crash) and
 * by the stdio entry `flaky-server.mjs`. No top-level await, so that `require("@mcp-resilience/testing")` works.
 *
 * Plain ESM so that node runs it with no build step; types live in `flaky-core.d.mts`.
 */
import { Server } from "@modelcontextprotocol/sdk/server/index.js"
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, McpError } from "@modelcontextprotocol/sdk/types.js"
import { clearTimeout, setTimeout } from "node:timers"
import { fileURLToPath } from "node:url"
import { currentTools } from "./flaky-script.mjs"

export * from "./flaky-script.mjs"

/** Absolute path of the stdio entry point, `flaky-server.mjs`. */
export const entry = fileURLToPath(new URL("./flaky-server.mjs", import.meta.url))

const text = (value) => ({ content: [{ type: "text", text: value }] })

const never = () => new Promise(() => {})

/** A cancellable real-time sleep, for the stdio child. */
export const realSleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal.reason)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort)
      resolve()
    }, ms)
    signal?.addEventListener("abort", onAbort, { once: true })
  })

const builtins = {
  echo: {
    tool: {
      description: "Returns its text.",
      inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] },
      annotations: { readOnlyHint: true }
    },
    run: (args) => {
      if (typeof args.text !== "string") throw new McpError(ErrorCode.InvalidParams, "echo: text must be a string")
      return text(args.text)
    }
  },
  add: {
    tool: {
      description: "Adds two numbers.",
      inputSchema: {
        type: "object",
        properties: { a: { type: "number" }, b: { type: "number" } },
        required: ["a", "b"]
      },
      outputSchema: { type: "object", properties: { sum: { type: "number" } }, required: ["sum"] },
      annotations: { readOnlyHint: true, idempotentHint: true }
    },
    run: (args) => {
      if (typeof args.a !== "number" || typeof args.b !== "number") {
        throw new McpError(ErrorCode.InvalidParams, "add: a and b must be numbers")
      }
      return { ...text(String(args.a + args.b)), structuredContent: { sum: args.a + args.b } }
    }
  },
  counter: {
    tool: {
      description: "Counts its executions and returns the new count (not idempotent).",
      inputSchema: { type: "object", properties: {} },
      outputSchema: { type: "object", properties: { count: { type: "number" } }, required: ["count"] },
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false }
    },
    run: (_args, executions) => ({ ...text(String(executions)), structuredContent: { count: executions } })
  },
  fail: {
    tool: {
      description: "Answers isError: true with its message.",
      inputSchema: { type: "object", properties: { message: { type: "string" } } },
      annotations: { readOnlyHint: true }
    },
    run: (args) => ({ ...text(typeof args.message === "string" ? args.message : "fail"), isError: true })
  }
}

const dynamic = (name) => ({
  tool: {
    description: `Returns "${name}: <text>".`,
    inputSchema: { type: "object", properties: { text: { type: "string" } } },
    annotations: { readOnlyHint: true }
  },
  run: (args) => text(`${name}: ${typeof args.text === "string" ? args.text : ""}`)
})

const toolOf = (name) => (Object.hasOwn(builtins, name) ? builtins[name] : dynamic(name))

/**
 * Delays the delivery of incoming `initialize` requests by `ms` (the handshake answers late); aborted on close.
 */
const delayHandshake = (transport, ms, sleep) => {
  const closed = new globalThis.AbortController()
  const proxy = {
    onmessage: undefined,
    onclose: undefined,
    onerror: undefined,
    start: () => transport.start(),
    send: (message, options) => transport.send(message, options),
    close: () => transport.close(),
    get sessionId() {
      return transport.sessionId
    }
  }
  transport.onmessage = (message, extra) => {
    if (message?.method !== "initialize") return proxy.onmessage?.(message, extra)
    sleep(ms, closed.signal).then(() => proxy.onmessage?.(message, extra), () => {})
  }
  transport.onclose = () => {
    closed.abort(new Error("closed"))
    proxy.onclose?.()
  }
  transport.onerror = (error) => proxy.onerror?.(error)
  return proxy
}

/**
 * An MCP server following `script` (normalized), for one connection. `host` is shared by the connections of one
 * flaky server:
 * - `store`: the counters (`createStore`);
 * - `sleep(ms, signal)`: the clock of delays;
 * - `crash()`: what a crash does (default: close every live connection of this host);
 * - `servers`: a Set of the live SDK servers, kept up to date here.
 *
 * Returns `{ server, connect(transport) }`; `connect` applies `handshakeDelay`.
 */
export function createFlakyServer(script, host) {
  const { store, sleep } = host
  const servers = host.servers ?? new Set()
  const crash = host.crash ?? (() => {
    for (const s of [...servers]) s.close().catch(() => {})
  })
  const server = new Server(
    { name: script.name, version: "1.0.0" },
    { capabilities: { tools: { listChanged: true } } }
  )
  server.onclose = () => servers.delete(server)

  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: currentTools(store, script).map((name) => ({ name, ...toolOf(name).tool }))
  }))

  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const call = store.update((s) => ++s.calls)
    if (script.crashOnCall.includes(call)) {
      store.update((s) => void s.crashes++)
      crash()
      return never()
    }
    const name = request.params.name
    if (!currentTools(store, script).includes(name)) {
      throw new McpError(ErrorCode.InvalidParams, `Tool ${name} not found`)
    }
    const args = request.params.arguments ?? {}
    const executions = store.update((s) => (s.executions[name] = (s.executions[name] ?? 0) + 1))
    const result = toolOf(name).run(args, executions)
    if (script.delayMs > 0) await sleep(script.delayMs, extra.signal)
    if (script.toolsAfter !== undefined && call === script.toolsAfter.calls && store.state.toolListChanges === 0) {
      store.update((s) => void s.toolListChanges++)
      for (const s of servers) s.sendToolListChanged().catch(() => {})
    }
    return result
  })

  return {
    server,
    connect: async (transport) => {
      servers.add(server)
      const wrapped = script.handshakeDelayMs > 0
        ? delayHandshake(transport, script.handshakeDelayMs, sleep)
        : transport
      await server.connect(wrapped)
    }
  }
}
