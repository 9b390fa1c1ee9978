/**
 * The script and the counters of the flaky server (`FlakyServer`, `@mcp-resilience/testing`): checking a script,
 * the state file that keeps counters across restarts, and the admission of a start. No MCP SDK here, so that the
 * stdio entry (`flaky-server.mjs`) can refuse a start as fast as node starts.
 */
import { randomUUID } from "node:crypto"
import * as fs from "node:fs"

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
