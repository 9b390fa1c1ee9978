/**
 * The Streamable HTTP host of `FlakyServer.http`: node:http on 127.0.0.1, one SDK transport and server per
 * session, the scripted status answers and refusals in front of them.
 *
 * @internal
 */
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js"
import { randomUUID } from "node:crypto"
import * as http from "node:http"
import type * as net from "node:net"
import { admit, createFlakyServer, type Host, type NormalizedScript } from "../../bin/flaky-core.mjs"

/** @internal */
export interface Listening {
  readonly port: number
  readonly url: string
  /** Drops every session and destroys every socket; the listener stays up (a restarted server). */
  readonly crash: () => void
  readonly close: () => Promise<void>
}

const readBody = (req: http.IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    req.on("error", reject)
  })

const sendJson = (
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {}
): void => {
  if (res.headersSent) return void res.destroy()
  res.writeHead(status, { "content-type": "application/json", ...headers })
  res.end(JSON.stringify(body))
}

const rpcError = (id: unknown, code: number, message: string) => ({
  jsonrpc: "2.0",
  id: id ?? null,
  error: { code, message }
})

interface Session {
  readonly transport: StreamableHTTPServerTransport
}

/** @internal */
export const startHttp = async (script: NormalizedScript, host: Host, now: () => number): Promise<Listening> => {
  const sessions = new Map<string, Session>()
  const transports = new Set<StreamableHTTPServerTransport>()
  const sockets = new Set<net.Socket>()
  let posts = 0

  const crash = () => {
    sessions.clear()
    for (const transport of [...transports]) transport.close().catch(() => {})
    for (const socket of [...sockets]) socket.destroy()
  }

  const newSession = async (): Promise<Session> => {
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => void sessions.set(id, session)
    })
    const session: Session = { transport }
    transports.add(transport)
    transport.onclose = () => {
      transports.delete(transport)
      const id = transport.sessionId
      if (id !== undefined && sessions.get(id) === session) sessions.delete(id)
    }
    await createFlakyServer(script, { ...host, crash }).connect(transport)
    return session
  }

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1")
    if (url.pathname !== "/mcp") return sendJson(res, 404, rpcError(null, -32000, "Not found: use /mcp"))
    const header = req.headers["mcp-session-id"]
    const sessionId = Array.isArray(header) ? header[0] : header

    if (req.method === "POST") {
      let body: unknown
      try {
        body = JSON.parse(await readBody(req))
      } catch {
        return sendJson(res, 400, rpcError(null, -32700, "Parse error: Invalid JSON"))
      }
      const messages = (Array.isArray(body) ? body : [body]) as Array<{ id?: unknown; method?: unknown } | null>
      const firstId = messages.find((m) => m?.id !== undefined)?.id
      const isInitialize = messages.some((m) => m?.method === "initialize")
      posts++
      const status = script.status
      if (status !== undefined && (status.first === undefined || posts <= status.first)) {
        host.store.update((s) => void s.statusAnswers++)
        const headers: Record<string, string> = {}
        if (status.retryAfter !== undefined) headers["retry-after"] = String(status.retryAfter)
        if (status.code === 401) headers["www-authenticate"] = "Bearer realm=\"flaky-server\""
        return sendJson(res, status.code, rpcError(firstId, -32000, `flaky server: status ${status.code}`), headers)
      }
      let session: Session | undefined
      if (isInitialize) {
        const { admitted, message } = admit(host.store, script, now())
        if (!admitted) return sendJson(res, 503, rpcError(firstId, -32000, message))
        session = await newSession()
      } else if (sessionId !== undefined) {
        session = sessions.get(sessionId)
        if (session === undefined) return sendJson(res, 404, rpcError(firstId, -32001, "Session not found"))
      } else {
        return sendJson(res, 400, rpcError(firstId, -32000, "Bad Request: No valid session ID provided"))
      }
      return session.transport.handleRequest(req, res, body)
    }

    if (req.method === "GET" || req.method === "DELETE") {
      const session = sessionId === undefined ? undefined : sessions.get(sessionId)
      if (session === undefined) {
        return sessionId === undefined
          ? sendJson(res, 400, rpcError(null, -32000, "Bad Request: No valid session ID provided"))
          : sendJson(res, 404, rpcError(null, -32001, "Session not found"))
      }
      return session.transport.handleRequest(req, res)
    }

    return sendJson(res, 405, rpcError(null, -32000, "Method not allowed."), { allow: "GET, POST, DELETE" })
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, rpcError(null, -32603, `flaky server: ${String(error)}`))
      else res.destroy()
    })
  })
  server.on("connection", (socket) => {
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
  })
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject)
      resolve()
    })
  })
  const address = server.address()
  const port = typeof address === "object" && address !== null ? address.port : 0
  let closing: Promise<void> | undefined
  return {
    port,
    url: `http://127.0.0.1:${port}/mcp`,
    crash,
    close: () =>
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve())
        crash()
      })
  }
}
