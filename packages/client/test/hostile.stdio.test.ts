/**
 * Hostile or unlucky stdio servers: one that closes its stdout but keeps running is replaced at
 * once; a launcher that does not `exec` leaves nothing behind; a server that stops reading its
 * stdin while flooding us cannot grow our memory; a crash's error shows the line that matters.
 */
import { assert, describe, it } from "@effect/vitest"
import { RetryPolicy } from "@mcp-resilience/policy"
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as McpClient from "../src/McpClient.js"
import * as McpServerConfig from "../src/McpServerConfig.js"
import { McpTools } from "../src/McpTools.js"
import { fixturesDir, isAlive } from "./fixtures/paths.js"
import { eventually } from "./utils.js"

const policy = RetryPolicy.make({ maxAttempts: 3, base: "20 millis", cap: "100 millis", jitter: "none" })
const hostile = path.join(fixturesDir, "hostileStdio.mjs")

/** A temp file path, removed with the scope. */
const tempFile = Effect.acquireRelease(
  Effect.sync(() => path.join(os.tmpdir(), `mcp-hostile-${randomUUID()}`)),
  (file) => Effect.sync(() => fs.rmSync(file, { force: true }))
)

describe("hostile stdio servers", () => {
  it.live("a server that closes its stdout but keeps running is replaced at once, with health checks off", () =>
    Effect.scoped(Effect.gen(function*() {
      const tools = yield* McpTools.make({
        server: McpServerConfig.stdio({ name: "hostile", command: process.execPath, args: [hostile] }),
        policy
      })
      const first = tools.client?.pid
      const error = yield* Effect.flip(tools.call("close-stdout", {}, { timeout: "20 seconds" }))
      assert.strictEqual(error._tag, "McpConnectError")
      assert.include(error.message, "closed its stdout but kept running")
      yield* eventually(() => Effect.runSync(tools.sessions) === 2, "no second session", 5_000)
      assert.notStrictEqual(tools.client?.pid, first)
      assert.deepStrictEqual((yield* tools.call("echo")).content, [{ type: "text", text: "echo" }])
      yield* eventually(() => !isAlive(first!), `the first server (${first}) still runs`, 5_000)
    })))

  it.live("release stops the whole process group: a launcher that does not exec leaves no server behind", () =>
    Effect.gen(function*() {
      const pidFile = yield* tempFile
      yield* Effect.scoped(Effect.gen(function*() {
        const client = yield* McpClient.make(
          McpServerConfig.stdio({
            name: "launched",
            command: "/bin/sh",
            // `; true` keeps the shell from exec-ing node: the server is its child
            args: ["-c", `"${process.execPath}" "${hostile}" --stubborn --pid-file "${pidFile}"; true`],
            shutdownGraceMillis: 200
          }),
          { policy }
        )
        assert.deepStrictEqual((yield* client.callTool("echo")).content, [{ type: "text", text: "echo" }])
      }))
      const server = Number(fs.readFileSync(pidFile, "utf8"))
      yield* eventually(() => !isAlive(server), `the launched server (${server}) still runs`, 3_000)
    }).pipe(Effect.scoped))

  it.live("a server that stops reading its stdin while flooding requests ends its session; memory stays bounded", () =>
    Effect.scoped(Effect.gen(function*() {
      const tools = yield* McpTools.make({
        server: McpServerConfig.stdio({ name: "flood", command: process.execPath, args: [hostile] }),
        policy
      })
      const before = process.memoryUsage().rss
      const error = yield* Effect.flip(tools.call("flood", {}, { timeout: "30 seconds" }))
      assert.strictEqual(error._tag, "McpConnectError")
      assert.include(error.message, "stopped reading its stdin")
      const grown = process.memoryUsage().rss - before
      assert.isBelow(grown, 300 * 1024 * 1024, `RSS grew by ${Math.round(grown / 1024 / 1024)} MiB`)
      yield* eventually(() => Effect.runSync(tools.sessions) === 2, "no second session", 5_000)
    })))

  it.live("a missing script's error names the cause (Cannot find module), not only Node's last lines", () =>
    Effect.gen(function*() {
      const missing = path.join(os.tmpdir(), `mcp-missing-${randomUUID()}.mjs`)
      const error = yield* Effect.flip(Effect.scoped(McpClient.make(
        McpServerConfig.stdio({ name: "missing", command: process.execPath, args: [missing] }),
        { policy: RetryPolicy.make({ maxAttempts: 1 }) }
      )))
      assert.include(error.message, "Cannot find module")
    }))
})
