import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import { Chunk, Clock, Effect, Fiber, TestClock } from "effect"
import type { Duration } from "effect"
import * as fs from "node:fs"
import { afterEach } from "vitest"
import { z } from "zod"
import type { McpAuthError, McpConnectError } from "../src/McpError.js"
import * as McpServerConfig from "../src/McpServerConfig.js"
import * as McpTransport from "../src/McpTransport.js"
import { fixtureServer, removeStateFile, tempStateFile } from "./fixtures/paths.js"

/** A small in-process server: `add` (structured), `echo`, `fail` (isError), `slow` (honours cancellation). */
export const makeTestServer = (
  log: { cancelled: Array<string>; calls: Array<string> } = { cancelled: [], calls: [] }
) => {
  const server = new McpServer({ name: "test-server", version: "1.0.0" })
  server.registerTool(
    "add",
    {
      inputSchema: { a: z.number(), b: z.number() },
      outputSchema: { sum: z.number() },
      annotations: { readOnlyHint: true, idempotentHint: true }
    },
    async ({ a, b }) => {
      log.calls.push("add")
      return { content: [{ type: "text", text: String(a + b) }], structuredContent: { sum: a + b } }
    }
  )
  server.registerTool("echo", { inputSchema: { text: z.string() } }, async ({ text }) => {
    log.calls.push("echo")
    return { content: [{ type: "text", text }] }
  })
  server.registerTool("fail", { inputSchema: { message: z.string() } }, async ({ message }) => {
    log.calls.push("fail")
    return { isError: true, content: [{ type: "text", text: message }] }
  })
  server.registerTool("slow", { inputSchema: { ms: z.number() } }, (_args, extra) => {
    log.calls.push("slow")
    return new Promise((resolve) => {
      extra.signal.addEventListener("abort", () => log.cancelled.push(String(extra.requestId)))
      // never answers on its own: the client's deadline or interruption ends the call
      void resolve
    })
  })
  return server
}

/** An in-memory server config backed by {@link makeTestServer}. */
export const inMemory = (log?: { cancelled: Array<string>; calls: Array<string> }) =>
  McpServerConfig.inMemory({ name: "mem", connect: (transport) => makeTestServer(log).connect(transport) })

/**
 * A transports service that fails the first opens with the scripted errors, then connects to
 * an in-memory test server. No I/O: a test drives it with TestClock.
 */
export const scriptedTransports = (
  script: ReadonlyArray<McpConnectError | McpAuthError>,
  log?: { cancelled: Array<string>; calls: Array<string> }
) => {
  let opens = 0
  const service: McpTransport.Service = {
    open: (_config, server) =>
      Effect.suspend(() => {
        const n = opens++
        return n < script.length ? Effect.fail(script[n]!) : McpTransport.live.open(inMemory(log), server)
      })
  }
  return { service, opens: () => opens }
}

/** Lets the event loop run (in-memory transports resolve promises); no wall-clock wait. */
export const tick = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

/** Waits on the wall clock: only for tests that watch a real process or server over time. */
export const realSleep = (millis: number) =>
  Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, millis)))

/**
 * Runs `fiber` to completion under TestClock: whenever it is blocked, virtual time jumps to the
 * next pending sleep (or by `step` when none is pending). Returns the fiber's exit.
 */
export const runVirtual = <A, E>(
  fiber: Fiber.RuntimeFiber<A, E>,
  step: Duration.DurationInput = "1 second",
  max = 10_000
) =>
  Effect.gen(function*() {
    for (let i = 0; i < max; i++) {
      for (let j = 0; j < 5; j++) yield* tick
      const done = yield* Fiber.poll(fiber)
      if (done._tag === "Some") return done.value
      const sleeps = yield* TestClock.sleeps()
      const now = yield* Clock.currentTimeMillis
      const next = Chunk.reduce(sleeps, Number.POSITIVE_INFINITY, (min, d) => Math.min(min, d))
      yield* next === Number.POSITIVE_INFINITY ? TestClock.adjust(step) : TestClock.setTime(Math.max(now, next))
    }
    return yield* Effect.dieMessage("runVirtual: the fiber did not finish")
  })

/** True while a process with this PID exists. */
export const alive = (pid: number | undefined): boolean => {
  if (pid === undefined) return false
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** PIDs of live processes whose command line contains `token` (e.g. a test's unique state file). */
export const processesMentioning = (token: string): Array<number> => {
  const found: Array<number> = []
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8")
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8")
      // a zombie (state Z) has exited; only its parent's wait is missing
      if (cmdline.includes(token) && !/\) Z /.test(stat)) found.push(Number(entry))
    } catch {
      // exited while we looked
    }
  }
  return found
}

/** Polls `condition` on the wall clock, bounded; for tests that wait on a real process. */
export const eventually = (condition: () => boolean, what: string, timeoutMs = 10_000) =>
  Effect.promise(async () => {
    const start = Date.now()
    while (!condition()) {
      if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  })

/**
 * Unique state files for fixture servers, cleaned after each test: any process still running
 * with the file in its arguments is killed, and the file removed.
 */
export const stateFiles = () => {
  const files: Array<string> = []
  afterEach(() => {
    for (const file of files.splice(0)) {
      for (const pid of processesMentioning(file)) process.kill(pid, "SIGKILL")
      removeStateFile(file)
    }
  })
  return () => {
    const file = tempStateFile()
    files.push(file)
    return file
  }
}

/** The fixture server as a stdio child, with its state in `stateFile`. */
export const fixture = (stateFile: string, ...flags: Array<string>) =>
  McpServerConfig.stdio({
    name: "fixture",
    command: process.execPath,
    args: [fixtureServer, "--state-file", stateFile, ...flags],
    shutdownGraceMillis: 500
  })
