/**
 * Leak checks for child processes: which processes are still alive, found by a token in their
 * command line (say a temp file name unique to the test). Linux only: it reads `/proc`.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"

/** A zombie (state Z) has exited; only its parent's wait is missing. Throws if `/proc` cannot tell. */
const isZombie = (pid: number | string): boolean => /\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"))

/**
 * Whether `pid` is a live process. A child that has exited but that its parent has not reaped
 * yet (a zombie, state `Z`) counts as gone.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isLive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
  try {
    return !isZombie(pid)
  } catch {
    return true
  }
}

/**
 * The PIDs of the live (not zombie) processes, other than this one, whose command line contains
 * `token`. Put a token unique to the test in the server's arguments (a state file name, a marker
 * argument), and check after the test that `mentioning(token)` is empty.
 *
 * @example
 * import { assert, it } from "@effect/vitest"
 * import { McpClient, McpServerConfig } from "@mcp-resilience/client"
 * import { Processes } from "@mcp-resilience/testing"
 * import { Effect } from "effect"
 *
 * it.live("leaves no server process behind", () =>
 *   Effect.gen(function*() {
 *     const marker = `leak-check-${process.pid}-${Date.now()}`
 *     const server = McpServerConfig.stdio({ command: "node", args: ["server.mjs", "--marker", marker] })
 *     yield* Effect.scoped(McpClient.make(server))
 *     assert.deepStrictEqual(Processes.mentioning(marker), [])
 *   }))
 *
 * @since 0.1.0
 * @category constructors
 */
export const mentioning = (token: string): Array<number> => {
  const found: Array<number> = []
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8")
      if (!cmdline.includes(token)) continue
      if (!isZombie(entry)) found.push(Number(entry))
    } catch {
      // exited while we looked
    }
  }
  return found
}
