import { assert, describe, it } from "@effect/vitest"
import { McpClient } from "@mcp-resilience/client"
import { FlakyServer, Processes } from "@mcp-resilience/testing"
import { Effect } from "effect"
import { spawn } from "node:child_process"

describe("Processes", () => {
  it.live("finds a stdio server by its state file while it runs, and nothing once the scope closed", () =>
    Effect.gen(function*() {
      const server = yield* FlakyServer.stdio({ crashOnCall: 2 })
      yield* Effect.scoped(
        Effect.gen(function*() {
          const client = yield* McpClient.make(server.config)
          assert.deepStrictEqual(Processes.mentioning(server.stateFile), [client.pid!])
          assert.isTrue(Processes.isLive(client.pid!))
          yield* client.callTool("echo", { text: "hello" })
        })
      )
      assert.deepStrictEqual(Processes.mentioning(server.stateFile), [])
    }).pipe(Effect.scoped))

  it.live("an exited child is not live and no longer mentioned", () =>
    Effect.acquireUseRelease(
      Effect.sync(() => spawn(process.execPath, ["-e", "0", `processes-test-${process.pid}`])),
      (child) =>
        Effect.gen(function*() {
          const pid = child.pid!
          yield* Effect.promise(() => new Promise((resolve) => child.once("exit", resolve)))
          assert.isFalse(Processes.isLive(pid))
          assert.deepStrictEqual(Processes.mentioning(`processes-test-${process.pid}`), [])
        }),
      (child) => Effect.sync(() => child.kill("SIGKILL"))
    ))

  it("never lists this process, and nothing for a token no process carries", () => {
    assert.deepStrictEqual(Processes.mentioning(`no-process-carries-this-${Date.now()}`), [])
    assert.notInclude(Processes.mentioning("node"), process.pid)
    assert.isTrue(Processes.isLive(process.pid))
  })
})
