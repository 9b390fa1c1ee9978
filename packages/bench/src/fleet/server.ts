/**
 * The fleet study's MCP server: Streamable HTTP on 127.0.0.1, one SDK transport and `McpServer` per
 * session, with the demo server's `echo` tool. It can go down and come back, and counts every HTTP
 * request that reaches it, with its time.
 *
 * Two kinds of outage (`--outage`):
 *
 * - `503`: the listener stays up and answers every request with `503 Service Unavailable` (a server
 *   behind a load balancer with no healthy backend). Every attempt reaches it and is counted.
 * - `refuse`: the listener closes (a crashed process): connections are refused, nothing reaches the
 *   server, so the study counts attempts on the workers' side only.
 *
 * Either way the sessions are forgotten when it goes down, as by a restart: a client that comes back
 * with its old session id gets `404` and must initialize again.
 */
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js"
import { randomUUID } from "node:crypto"
import * as http from "node:http"
import type * as net from "node:net"
import { makeEchoServer } from "../servers.js"

export type Outage = "503" | "refuse"

/** One request that reached the server: when (ms since the epoch, `performance.timeOrigin` based) and what. */
export interface Hit {
  readonly at: number
  /** `initialize`, `tools/call`, another JSON-RPC method, or `GET`/`DELETE`. */
  readonly what: string
  /** Whether the server was down when it came (answered 503). */
  readonly down: boolean
}

export interface FleetServer {
  readonly url: string
  readonly port: number
  /** Every request that reached the server so far. */
  readonly hits: ReadonlyArray<Hit>
  /** Sessions initialized so far. */
  readonly sessionsOpened: () => number
  readonly down: () => Promise<void>
  readonly up: () => Promise<void>
  readonly close: () => Promise<void>
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes on one machine. */
export const now = (): number => performance.timeOrigin + performance.now()

const readBody = (req: http.IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    req.on("error", reject)
  })

const sendJson = (res: http.ServerResponse, status: number, body: unknown): void => {
  if (res.headersSent) return void res.destroy()
  res.writeHead(status, { "content-type": "application/json" })
  res.end(JSON.stringify(body))
}

const rpcError = (id: unknown, code: number, message: string) => ({
  jsonrpc: "2.0",
  id: id ?? null,
  error: { code, message }
})

const listen = (server: http.Server, port: number) =>
  new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject)
      resolve()
    })
  })

/** Starts the server, up, on an ephemeral port (kept across a `refuse` outage). */
export const start = async (outage: Outage): Promise<FleetServer> => {
  const sessions = new Map<string, StreamableHTTPServerTransport>()
  const sockets = new Set<net.Socket>()
  const hits: Array<Hit> = []
  let isDown = false
  let opened = 0

  const dropSessions = () => {
    for (const transport of [...sessions.values()]) transport.close().catch(() => {})
    sessions.clear()
    for (const socket of [...sockets]) socket.destroy()
  }

  const newSession = async () => {
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        opened++
        sessions.set(id, transport)
      }
    })
    transport.onclose = () => {
      const id = transport.sessionId
      if (id !== undefined && sessions.get(id) === transport) sessions.delete(id)
    }
    await makeEchoServer().connect(transport)
    return transport
  }

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const header = req.headers["mcp-session-id"]
    const sessionId = Array.isArray(header) ? header[0] : header
    if (req.method !== "POST") {
      hits.push({ at: now(), what: req.method ?? "?", down: isDown })
      if (isDown) return sendJson(res, 503, rpcError(null, -32000, "fleet server: down"))
      const transport = sessionId === undefined ? undefined : sessions.get(sessionId)
      if (transport === undefined) return sendJson(res, 404, rpcError(null, -32001, "Session not found"))
      return transport.handleRequest(req, res)
    }
    const text = await readBody(req)
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      hits.push({ at: now(), what: "invalid", down: isDown })
      return sendJson(res, 400, rpcError(null, -32700, "Parse error: Invalid JSON"))
    }
    const messages = (Array.isArray(body) ? body : [body]) as Array<{ id?: unknown; method?: unknown } | null>
    const method = messages.find((m) => typeof m?.method === "string")?.method as string | undefined
    const firstId = messages.find((m) => m?.id !== undefined)?.id
    hits.push({ at: now(), what: method ?? "response", down: isDown })
    if (isDown) return sendJson(res, 503, rpcError(firstId, -32000, "fleet server: down"))
    let transport: StreamableHTTPServerTransport | undefined
    if (method === "initialize") {
      transport = await newSession()
    } else {
      transport = sessionId === undefined ? undefined : sessions.get(sessionId)
      if (transport === undefined) return sendJson(res, 404, rpcError(firstId, -32001, "Session not found"))
    }
    return transport.handleRequest(req, res, body)
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, rpcError(null, -32603, `fleet server: ${String(error)}`))
      else res.destroy()
    })
  })
  server.keepAliveTimeout = 60_000
  server.on("connection", (socket) => {
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
  })
  await listen(server, 0)
  const address = server.address()
  const port = typeof address === "object" && address !== null ? address.port : 0

  const closeListener = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve()
      server.close(() => resolve())
      for (const socket of [...sockets]) socket.destroy()
    })

  return {
    url: `http://127.0.0.1:${port}/mcp`,
    port,
    hits,
    sessionsOpened: () => opened,
    down: async () => {
      isDown = true
      dropSessions()
      if (outage === "refuse") await closeListener()
    },
    up: async () => {
      if (outage === "refuse" && !server.listening) await listen(server, port)
      isDown = false
    },
    close: async () => {
      dropSessions()
      await closeListener()
    }
  }
}
