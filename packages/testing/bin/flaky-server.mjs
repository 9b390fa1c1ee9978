#!/usr/bin/env node
/**
 * The MCP server behind `FlakyServer` (`@mcp-resilience/testing`): one implementation of the scripted behaviours,
 * used in process (in memory and over Streamable HTTP, where `src/FlakyServer.ts` supplies a clock and a crash) and
 * as the stdio child `node flaky-server.mjs --state <file>`, which reads its script as JSON from the environment
 * variable `MCP_FLAKY_SCRIPT` and keeps its counters in the state file, so they survive restarts.
 *
 * Plain ESM so that node runs it with no build step; types live in `flaky-server.d.mts`.
 */
import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import { clearTimeout, setTimeout } from "node:timers"
import { fileURLToPath } from "node:url"

/** Absolute path of this file, the stdio entry point. */
export const entry = fileURLToPath(import.meta.url)

/** The environment variable that carries the script (JSON) to the stdio child. */
export const SCRIPT_ENV = "MCP_FLAKY_SCRIPT"

/** The tools a server offers unless its script says otherwise. */
export const defaultTools = Object.freeze(["echo", "add", "counter", "fail"])

// ---------------------------------------------------------------------------------------------------------------
// Script
// ---------------------------------------------------------------------------------------------------------------

const count = (value, what) => {
  if (value === undefined) return 0
  if (!Number.isInteger(value) || value < 0) throw new Error(`flaky-server: ${what} must be a whole number >= 0`)
  return value
}

const millis = (value, what) => {
  if (value === undefined) return 0
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new Error(`flaky-server: ${what} must be a number of milliseconds >= 0`)
  }
  return value
}

const names = (value, what) => {
  if (!Array.isArray(value) || value.some((name) => typeof name !== "string" || name === "")) {
    throw new Error(`flaky-server: ${what} must be a list of tool names`)
  }
  return [...value]
}

/**
 * Checks a script (durations already in milliseconds) and fills in the defaults. Throws on a bad field.
 */
export function normalizeScript(script = {}) {
  const crash = script.crashOnCall === undefined
    ? []
    : Array.isArray(script.crashOnCall)
    ? script.crashOnCall
    : [script.crashOnCall]
  const status = script.status
  if (status !== undefined && (!Number.isInteger(status.code) || status.code < 100 || status.code > 599)) {
    throw new Error("flaky-server: status.code must be an HTTP status")
  }
  return {
    name: script.name ?? "flaky",
    downForConnects: count(script.downForConnects, "downForConnects"),
    handshakeDelayMs: millis(script.handshakeDelayMs, "handshakeDelay"),
    delayMs: millis(script.delayMs, "delay"),
    crashOnCall: crash.map((k) => {
      if (!Number.isInteger(k) || k < 1) throw new Error("flaky-server: crashOnCall counts calls from 1")
      return k
    }),
    tools: names(script.tools ?? defaultTools, "tools"),
    toolsAfter: script.toolsAfter === undefined ? undefined : {
      calls: count(script.toolsAfter.calls, "toolsAfter.calls"),
      tools: names(script.toolsAfter.tools, "toolsAfter.tools")
    },
    status: status === undefined ? undefined : {
      code: status.code,
      retryAfter: status.retryAfter,
      first: status.first === undefined ? undefined : count(status.first, "status.first")
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// State: one live object; with a file, every update is read-modify-write with an atomic rename.
// ---------------------------------------------------------------------------------------------------------------

/** Fresh counters. */
export function initialStats() {
  return {
    connects: 0,
    refused: 0,
    connectTimes: [],
    calls: 0,
    executions: {},
    crashes: 0,
    toolListChanges: 0,
    statusAnswers: 0,
    pids: []
  }
}

/** Reads a state file; a missing or empty file is a fresh state. */
export function readStateFile(stateFile) {
  let text
  try {
    text = fs.readFileSync(stateFile, "utf8")
  } catch (error) {
    if (error && error.code === "ENOENT") return initialStats()
    throw error
  }
  return text.trim() === "" ? initialStats() : { ...initialStats(), ...JSON.parse(text) }
}

const writeStateFile = (stateFile, state) => {
  const tmp = `${stateFile}.${process.pid}.${randomUUID()}.tmp`
  fs.writeFileSync(tmp, JSON.stringify(state))
  fs.renameSync(tmp, stateFile)
}

/** A store of counters, in memory or mirrored to `stateFile`. */
export function createStore(stateFile) {
  const state = stateFile === undefined ? initialStats() : readStateFile(stateFile)
  return {
    state,
    update(f) {
      if (stateFile === undefined) return f(state)
      const next = readStateFile(stateFile)
      const result = f(next)
      writeStateFile(stateFile, next)
      Object.assign(state, next)
      return result
    }
  }
}

/**
 * Counts a connection attempt at time `now` and says whether it is let in (`downForConnects` refuses the first ones).
 */
export function admit(store, script, now) {
  const n = store.update((s) => {
    s.connects++
    s.connectTimes.push(now)
    return s.connects
  })
  if (n <= script.downForConnects) {
    store.update((s) => void s.refused++)
    return { admitted: false, n, message: `down (connect ${n} of the first ${script.downForConnects} refused)` }
  }
  return { admitted: true, n, message: "" }
}

/** The tool names offered now. */
export const currentTools = (store, script) =>
  script.toolsAfter !== undefined && store.state.toolListChanges > 0 ? script.toolsAfter.tools : script.tools

// ---------------------------------------------------------------------------------------------------------------
// Program mode, part 1: before the SDK is loaded, so that a refused start exits as fast as node starts.
// ---------------------------------------------------------------------------------------------------------------

const isMain = (() => {
  try {
    return process.argv[1] !== undefined && fs.realpathSync(process.argv[1]) === fs.realpathSync(entry)
  } catch {
    return false
  }
})()

const preflight = () => {
  const args = process.argv.slice(2)
  const at = args.indexOf("--state")
  const stateFile = at === -1 ? undefined : args[at + 1]
  let script
  try {
    if (stateFile === undefined) throw new Error("flaky-server: usage: node flaky-server.mjs --state <file>")
    script = normalizeScript(JSON.parse(process.env[SCRIPT_ENV] ?? "{}"))
  } catch (error) {
    process.stderr.write(`${error.message}\n`)
    process.exit(2)
  }
  const store = createStore(stateFile)
  store.update((s) => void s.pids.push(process.pid))
  process.on("exit", () => {
    try {
      store.update((s) => void (s.pids = s.pids.filter((pid) => pid !== process.pid)))
    } catch {
      // the state file is gone: the test is over
    }
  })
  const { admitted, message } = admit(store, script, Date.now())
  if (!admitted) {
    process.stderr.write(`flaky-server: ${message}\n`)
    process.exit(1)
  }
  return { script, store }
}

const program = isMain ? preflight() : undefined

// ---------------------------------------------------------------------------------------------------------------
// The MCP server (the SDK is loaded here)
// ---------------------------------------------------------------------------------------------------------------

const { Server } = await import("@modelcontextprotocol/sdk/server/index.js")
const { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, McpError } = await import(
  "@modelcontextprotocol/sdk/types.js"
)

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

// ---------------------------------------------------------------------------------------------------------------
// Program mode, part 2: serve one connection over stdio.
// ---------------------------------------------------------------------------------------------------------------

async function main({ script, store }) {
  const { StdioServerTransport } = await import("@modelcontextprotocol/sdk/server/stdio.js")
  const flaky = createFlakyServer(script, {
    store,
    sleep: realSleep,
    crash: () => {
      process.stderr.write("flaky-server: crashing as scripted (exit code 3)\n")
      process.exit(3)
    }
  })
  process.stdin.on("end", () => process.exit(0))
  await flaky.connect(new StdioServerTransport())
}

if (program !== undefined) {
  main(program).catch((error) => {
    process.stderr.write(`flaky-server: ${error?.stack ?? error}\n`)
    process.exit(1)
  })
}
