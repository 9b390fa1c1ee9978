#!/usr/bin/env node
/**
 * A dependency-free MCP server whose misbehaviour is scripted per message, for the reliability matrix: the same
 * core runs as a stdio child (`node chaos-server.mjs --state <file> --script <json>`), over Streamable HTTP in this
 * process (`startChaosHttp`) or in a child of its own (`--http`: it prints its port), and in memory (`chaos.ts`).
 *
 * It exists next to `FlakyServer` (the kit) and the client's fixture server because those are built on the SDK's
 * `Server`, which cannot write bytes that are not JSON-RPC, answer twice, answer an id nobody asked for, or cut a
 * line in half. Starting without the SDK also makes a stdio start take ~40 ms instead of ~400 ms.
 *
 * Tools: `echo { text }` (read-only), `counter { id? }` (not idempotent; every execution is logged with its `id`, so
 * a test can prove that no call ran twice). With the `listChanged` fault a tool `late_tool` (read-only) appears.
 *
 * Types live in `chaos-server.d.mts`.
 */
import { Buffer } from "node:buffer"
import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import { setImmediate, setInterval } from "node:timers"
import { fileURLToPath } from "node:url"

/** Absolute path of this file, the stdio entry point. */
export const entry = fileURLToPath(import.meta.url)

/** The env variable a test puts its secret in; the server records whether it saw it (never its value). */
export const TOKEN_ENV = "MCP_RELIABILITY_TOKEN"

const BIG = 12 * 1024 * 1024

/** Fresh counters. */
export function initialState() {
  return {
    starts: 0,
    initializes: 0,
    calls: 0,
    executions: {},
    cancelled: 0,
    sawToken: false,
    sessionsOpened: 0,
    sessionsDeleted: 0,
    randomFaults: 0
  }
}

/**
 * mulberry32, for `crashRate`, `hangRate` and `randomFaults` decisions. The same few lines as in the kit's
 * `FaultyTransport.ts`: this file runs as a plain Node child process, with no build step, so it cannot import them.
 */
const prng = (seed) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A store in memory, or mirrored to `stateFile` (read-modify-write, atomic rename) with executions appended to `<stateFile>.exec`. */
export function createStore(stateFile) {
  let state = initialState()
  const read = () => {
    try {
      return { ...initialState(), ...JSON.parse(fs.readFileSync(stateFile, "utf8")) }
    } catch {
      return initialState()
    }
  }
  const executed = []
  return {
    get state() {
      return stateFile === undefined ? state : read()
    },
    update(f) {
      if (stateFile === undefined) return f(state)
      const next = read()
      const result = f(next)
      const tmp = `${stateFile}.${process.pid}.${randomUUID()}.tmp`
      fs.writeFileSync(tmp, JSON.stringify(next))
      fs.renameSync(tmp, stateFile)
      state = next
      return result
    },
    /** Records one execution of `tool` for the call `id`. */
    executed(tool, id) {
      if (stateFile === undefined) executed.push(`${tool} ${id}`)
      else fs.appendFileSync(`${stateFile}.exec`, `${tool} ${id}\n`)
    },
    /** Every execution, as `tool id` lines. */
    executions() {
      if (stateFile === undefined) return [...executed]
      try {
        return fs.readFileSync(`${stateFile}.exec`, "utf8").split("\n").filter((line) => line !== "")
      } catch {
        return []
      }
    }
  }
}

const pick = (list, n, fallback) => {
  if (list === undefined) return fallback
  if (!Array.isArray(list)) return list
  return n <= list.length ? list[n - 1] : fallback
}

const text = (value) => ({ content: [{ type: "text", text: value }] })

/** Writes batches of `notifications/message` (framed by `frame`) as fast as `out` takes them, until `stopped()`. */
const flood = (out, frame, stopped) => {
  let n = 0
  const burst = () => {
    if (stopped()) return
    let batch = ""
    for (let i = 0; i < 200; i++) {
      batch += frame(
        JSON.stringify({
          jsonrpc: "2.0",
          method: "notifications/message",
          params: { level: "info", data: `flood ${n++}` }
        })
      )
    }
    if (out.write(batch)) setImmediate(burst)
    else out.once("drain", burst)
  }
  burst()
}

/**
 * The behaviour, shared by the hosts: `onMessage(message)` returns what to do, as a list of outputs:
 * `{ send: message }`, `{ raw: text }` (a frame that is not JSON), `{ cut: text }` (write part of a frame, then
 * drop the connection), `{ crash: true }`, `{ hang: true }` (never answer), `{ status, retryAfter }` (HTTP only),
 * `{ sessionGone: true }` (HTTP only: forget the session, answer 404), `{ flood: true }` (never answer, and send
 * `notifications/message` as fast as the connection takes them until it closes).
 */
export function createCore(script, store, host = {}) {
  const random = prng(script.seed ?? 1)
  const tools = new Set(script.tools ?? ["echo", "counter"])
  const describe = (name) => ({
    name,
    inputSchema: name === "counter"
      ? { type: "object", properties: { id: { type: "string" } } }
      : { type: "object", properties: { text: { type: "string" } } },
    annotations: name === "counter"
      ? { readOnlyHint: false, idempotentHint: false, destructiveHint: false }
      : { readOnlyHint: true }
  })
  const reply = (id, result) => ({ jsonrpc: "2.0", id, result })

  const call = (message) => {
    const n = store.update((s) => ++s.calls)
    let fault = pick(script.calls, n, script.every ?? "ok")
    if (script.crashRate !== undefined && random() < script.crashRate) fault = "crash"
    else if (script.hangRate !== undefined && random() < script.hangRate) fault = "hang"
    else if (script.randomFaults !== undefined && random() < script.randomFaults.rate) {
      const faults = script.randomFaults.faults
      fault = faults[Math.floor(random() * faults.length)]
      store.update((s) => void s.randomFaults++)
    }
    if (typeof fault === "object" && fault !== null && fault.status !== undefined) {
      return [{ status: fault.status, retryAfter: fault.retryAfter }]
    }
    if (fault === "sessionGone") return [{ sessionGone: true }]
    const { name, arguments: args = {} } = message.params ?? {}
    if (!tools.has(name)) {
      return [{ send: { jsonrpc: "2.0", id: message.id, error: { code: -32602, message: `Unknown tool: ${name}` } } }]
    }
    if (fault === "crashBefore") return [{ crash: true }]
    const count = store.update((s) => (s.executions[name] = (s.executions[name] ?? 0) + 1))
    store.executed(name, typeof args.id === "string" ? args.id : "-")
    const value = name === "counter"
      ? { ...text(String(count)), structuredContent: { count } }
      : text(`${name === "echo" ? "" : `${name}: `}${typeof args.text === "string" ? args.text : ""}`)
    if (typeof script.stderrLines === "number") host.stderr?.(script.stderrLines)
    const answer = reply(message.id, value)
    switch (fault) {
      case "invalidJson":
        return [{ raw: "{not json" }, { send: answer }]
      case "notJsonRpc":
        return [{ send: { hello: "this is not JSON-RPC", id: message.id } }, { send: answer }]
      case "wrongShape":
        return [{ send: reply(message.id, { content: "not a list", isError: "maybe" }) }]
      case "oversized":
        return [{ send: reply(message.id, { ...value, content: [{ type: "text", text: "x".repeat(BIG) }] }) }]
      case "duplicate":
        return [{ send: answer }, { send: answer }]
      case "unknownId":
        return [{ send: reply(987654321, text("nobody asked")) }, { send: { ...answer } }]
      case "cut":
        return [{ cut: JSON.stringify(answer).slice(0, 20) }]
      case "crash":
        return [{ crash: true }]
      case "hang":
        return [{ hang: true }]
      case "flood":
        return [{ flood: true }]
      case "listChanged":
        tools.add("late_tool")
        return [{ send: { jsonrpc: "2.0", method: "notifications/tools/list_changed" } }, { send: answer }]
      default:
        return [{ send: answer }]
    }
  }

  return {
    onMessage(message) {
      if (message === null || typeof message !== "object") return []
      if (message.method === "notifications/cancelled") {
        store.update((s) => void s.cancelled++)
        return []
      }
      if (message.id === undefined || typeof message.method !== "string") return []
      switch (message.method) {
        case "initialize": {
          const n = store.update((s) => ++s.initializes)
          const fault = pick(script.initialize, n, "ok")
          if (fault === "crash") return [{ crash: true }]
          if (fault === "hang") return [{ hang: true }]
          return [{
            send: reply(message.id, {
              protocolVersion: message.params?.protocolVersion ?? "2025-06-18",
              capabilities: { tools: { listChanged: true } },
              serverInfo: { name: script.name ?? "chaos", version: "1.0.0" }
            })
          }]
        }
        case "ping":
          return [{ send: reply(message.id, {}) }]
        case "tools/list":
          return [{ send: reply(message.id, { tools: [...tools].map(describe) }) }]
        case "tools/call":
          return call(message)
        default:
          return [{
            send: { jsonrpc: "2.0", id: message.id, error: { code: -32601, message: `no method ${message.method}` } }
          }]
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Streamable HTTP host, in process: SSE answers, `mcp-session-id` sessions, 405 to GET.
// ---------------------------------------------------------------------------------------------------------------

const readBody = (req) =>
  new Promise((resolve, reject) => {
    const chunks = []
    req.on("data", (chunk) => chunks.push(chunk))
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    req.on("error", reject)
  })

const rpcError = (id, code, message) => JSON.stringify({ jsonrpc: "2.0", id: id ?? null, error: { code, message } })

/**
 * Starts the chaos server over Streamable HTTP on 127.0.0.1 (`port` 0 for any free port). `close()` destroys every
 * socket and resolves once the listener is closed.
 */
export async function startChaosHttp(script = {}, options = {}) {
  const store = createStore(options.stateFile)
  const sessions = new Set()
  const sockets = new Set()
  const core = createCore(script, store)
  const token = options.token

  const dropAll = () => {
    sessions.clear()
    for (const socket of sockets) socket.destroy()
  }

  const handle = async (req, res) => {
    if (token !== undefined && String(req.headers.authorization ?? "").includes(token)) {
      if (!store.state.sawToken) store.update((s) => void (s.sawToken = true))
    }
    const header = req.headers["mcp-session-id"]
    const sessionId = Array.isArray(header) ? header[0] : header
    if (req.method === "GET") {
      res.writeHead(405, { allow: "POST, DELETE" }).end()
      return
    }
    if (req.method === "DELETE") {
      const how = script.shutdown ?? "normal"
      if (how === "reset") return void req.socket.destroy()
      if (how === "hang") return
      if (sessionId !== undefined && sessions.delete(sessionId)) store.update((s) => void s.sessionsDeleted++)
      res.writeHead(200).end()
      return
    }
    if (req.method !== "POST") {
      res.writeHead(405).end()
      return
    }
    let body
    try {
      body = JSON.parse(await readBody(req))
    } catch {
      res.writeHead(400, { "content-type": "application/json" }).end(rpcError(null, -32700, "Parse error"))
      return
    }
    const messages = Array.isArray(body) ? body : [body]
    const isInitialize = messages.some((m) => m?.method === "initialize")
    let session = sessionId
    if (!isInitialize) {
      if (sessionId === undefined) {
        res.writeHead(400, { "content-type": "application/json" }).end(rpcError(null, -32000, "No session id"))
        return
      }
      if (!sessions.has(sessionId)) {
        res.writeHead(404, { "content-type": "application/json" }).end(rpcError(null, -32001, "Session not found"))
        return
      }
    }
    const outputs = messages.flatMap((m) => core.onMessage(m))
    const hasRequests = messages.some((m) => m?.id !== undefined && typeof m?.method === "string")
    if (!hasRequests) {
      res.writeHead(202).end()
      return
    }
    const first = outputs[0]
    if (first?.status !== undefined) {
      const headers = { "content-type": "application/json" }
      if (first.retryAfter !== undefined) headers["retry-after"] = String(first.retryAfter)
      res.writeHead(first.status, headers).end(rpcError(messages[0]?.id, -32000, `chaos status ${first.status}`))
      return
    }
    if (first?.sessionGone) {
      sessions.delete(sessionId)
      res.writeHead(404, { "content-type": "application/json" }).end(
        rpcError(messages[0]?.id, -32001, "Session not found")
      )
      return
    }
    if (first?.crash) {
      dropAll()
      return
    }
    if (first?.hang) return
    if (isInitialize) {
      session = randomUUID()
      sessions.add(session)
      store.update((s) => void s.sessionsOpened++)
    }
    res.writeHead(200, { "content-type": "text/event-stream", "mcp-session-id": session })
    for (const output of outputs) {
      if (output.send !== undefined) res.write(`event: message\ndata: ${JSON.stringify(output.send)}\n\n`)
      else if (output.raw !== undefined) res.write(`event: message\ndata: ${output.raw}\n\n`)
      else if (output.cut !== undefined) {
        res.write(`event: message\ndata: ${output.cut}`, () => req.socket.destroy())
        return
      } else if (output.crash) {
        dropAll()
        return
      } else if (output.hang) {
        return
      } else if (output.flood) {
        let closed = false
        res.on("close", () => (closed = true))
        return flood(res, (json) => `event: message\ndata: ${json}\n\n`, () => closed || res.destroyed)
      }
    }
    res.end()
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch(() => res.destroy())
  })
  server.on("connection", (socket) => {
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
  })
  await new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(options.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject)
      resolve()
    })
  })
  const port = server.address().port
  let closing
  return {
    port,
    url: `http://127.0.0.1:${port}/mcp`,
    store,
    openSessions: () => sessions.size,
    crash: dropAll,
    close: () =>
      closing ??= new Promise((resolve) => {
        server.close(() => resolve())
        dropAll()
      })
  }
}

// ---------------------------------------------------------------------------------------------------------------
// stdio program: `node chaos-server.mjs --state <file> --script <json>`
// ---------------------------------------------------------------------------------------------------------------

const isMain = (() => {
  try {
    return process.argv[1] !== undefined && fs.realpathSync(process.argv[1]) === fs.realpathSync(entry)
  } catch {
    return false
  }
})()

if (isMain) {
  const args = process.argv.slice(2)
  const arg = (name) => {
    const at = args.indexOf(name)
    return at === -1 ? undefined : args[at + 1]
  }
  const script = JSON.parse(arg("--script") ?? "{}")
  if (args.includes("--http")) {
    // Streamable HTTP in a process of its own: prints its port; the token comes in the env
    const server = await startChaosHttp(script, { token: process.env[TOKEN_ENV], stateFile: arg("--state") })
    process.stdout.write(`${server.port}\n`)
  } else stdio(script, arg("--state"))
}

function stdio(script, stateFile) {
  const store = createStore(stateFile)
  store.update((s) => {
    s.starts++
    if (process.env[TOKEN_ENV] !== undefined && process.env[TOKEN_ENV] !== "") s.sawToken = true
  })
  const out = process.stdout
  const core = createCore(script, store, {
    stderr: (lines) => {
      for (let i = 0; i < lines; i++) process.stderr.write(`chaos: stderr flood line ${i + 1} of ${lines}\n`)
    }
  })
  const exit = (code) => out.write("", () => process.exit(code))
  let buffer = ""
  process.stdin.setEncoding("utf8")
  process.stdin.on("data", (chunk) => {
    buffer += chunk
    let newline
    while ((newline = buffer.indexOf("\n")) !== -1) {
      const line = buffer.slice(0, newline)
      buffer = buffer.slice(newline + 1)
      let message
      try {
        message = JSON.parse(line)
      } catch {
        continue
      }
      for (const output of core.onMessage(message)) {
        if (output.send !== undefined) out.write(`${JSON.stringify(output.send)}\n`)
        else if (output.raw !== undefined) out.write(`${output.raw}\n`)
        else if (output.cut !== undefined) {
          out.write(output.cut)
          return exit(3)
        } else if (output.crash) {
          process.stderr.write("chaos: crashing as scripted (exit code 3)\n")
          return exit(3)
        } else if (output.hang) break
        else if (output.flood) {
          flood(out, (json) => `${json}\n`, () => out.destroyed)
          break
        }
      }
    }
  })
  const shutdown = script.shutdown ?? "normal"
  if (shutdown === "ignore") {
    process.on("SIGTERM", () => process.stderr.write("chaos: ignoring SIGTERM\n"))
    setInterval(() => {}, 1 << 30)
  }
  process.stdin.on("end", () => {
    if (shutdown === "normal") process.exit(0)
    else if (shutdown === "exit") {
      process.stderr.write("chaos: exiting with code 7 during shutdown\n")
      process.exit(7)
    }
  })
}
