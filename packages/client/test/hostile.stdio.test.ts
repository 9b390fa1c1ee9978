/**
 * Hostile or unlucky stdio servers: one that closes its stdout but keeps running is replaced at
 * once; a launcher that does not `exec` leaves nothing behind; a server that stops reading its
 * stdin while flooding us cannot grow our memory; a crash's error shows the line that matters.
 */
import { assert, describe, it } from "@effect/vitest"
import { RetryPolicy } from "@mcp-resilience/policy"
import { Effect, Exit } from "effect"
import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as McpClient from "../src/McpClient.js"
import type * as McpError from "../src/McpError.js"
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

describe("hostile tool lists", () => {
  const lister = (...flags: ReadonlyArray<string>) =>
    McpServerConfig.stdio({ name: "lister", command: process.execPath, args: [hostile, ...flags] })

  it.live("a slowly paginating server fails startup at the connect deadline, naming the listing", () =>
    Effect.gen(function*() {
      const pidFile = yield* tempFile
      // 200 ms a page, endless: 100 pages (maxListPages) would take 20 s; the connect deadline is 2 s
      const started = Date.now()
      const exit = yield* Effect.exit(
        Effect.scoped(McpTools.make({
          server: lister("--endless-pages", "--page-delay", "200", "--pid-file", pidFile),
          policy: RetryPolicy.make({ maxAttempts: 1, deadline: "2 seconds" })
        })).pipe(Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => "startup did not end within 10 s" }))
      )
      const took = Date.now() - started
      assert.isTrue(Exit.isFailure(exit), `startup succeeded after ${took} ms, past the 2 s connect deadline`)
      const error = yield* Effect.flip(exit)
      assert.isFalse(typeof error === "string", "startup did not end within 10 s")
      assert.strictEqual((error as McpError.McpError)._tag, "McpTimeoutError")
      assert.include(
        (error as McpError.McpError).message,
        "tools/list (the first listing, within the connect deadline) timed out after 2s"
      )
      assert.isAtLeast(took, 2_000)
      assert.isBelow(took, 3_000, `startup failed after ${took} ms: the deadline is 2 s, the margin 1 s`)
      const pid = Number(fs.readFileSync(pidFile, "utf8"))
      yield* eventually(() => !isAlive(pid), `the server (${pid}) still runs`, 3_000)
    }).pipe(Effect.scoped))

  it.live("endless pagination fails the listing at maxListPages instead of listing forever", () =>
    Effect.scoped(Effect.gen(function*() {
      const tools = yield* McpTools.make({ server: lister("--endless-pages"), policy, limits: { maxListPages: 20 } })
      const error = yield* Effect.flip(tools.list)
      assert.strictEqual(error._tag, "McpProtocolError")
      assert.include(error.message, "more than 20 pages (maxListPages)")
      // and by default at 100
      const byDefault = yield* McpTools.make({ server: lister("--endless-pages"), policy })
      assert.include((yield* Effect.flip(byDefault.list)).message, "more than 100 pages")
    })))

  it.live("cursors that run in a cycle fail the listing at once", () =>
    Effect.scoped(Effect.gen(function*() {
      const tools = yield* McpTools.make({ server: lister("--cursor-cycle"), policy })
      const error = yield* Effect.flip(tools.list)
      assert.include(error.message, "cursors run in a cycle")
    })))
})

describe("tool-list refreshes", () => {
  it.live("a list_changed storm with slow lists runs one refresh at a time, and the newest list wins", () =>
    Effect.scoped(Effect.gen(function*() {
      const tools = yield* McpTools.make({
        server: McpServerConfig.stdio({
          name: "storm",
          command: process.execPath,
          args: [hostile, "--slow-list", "150"]
        }),
        policy,
        refreshDebounce: "10 millis"
      })
      const names = () => Effect.runSync(tools.tools).map((tool) => tool.name)
      const versionOf = () => Number(names().find((name) => name.startsWith("version_"))?.slice("version_".length))
      const first = versionOf()
      yield* tools.call("storm")
      // ten notifications over 200 ms against 150 ms lists: settled once no list has come for a while
      yield* eventually(() => versionOf() > first, "no refresh after the storm", 5_000)
      let seen = versionOf()
      for (let quiet = 0; quiet < 10;) {
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 100)))
        quiet = versionOf() === seen ? quiet + 1 : 0
        seen = versionOf()
      }
      assert.include(
        names(),
        "inflight_1",
        `lists in flight at once: ${names().filter((n) => n.startsWith("inflight"))}`
      )
      // one list at a time: the last one the server made is the last one kept
      assert.isAtMost(seen - first, 6, `lists made for ten notifications: ${seen - first}`)
    })))
})
