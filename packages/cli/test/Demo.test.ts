/**
 * `mcp-resilience demo`: the README's main job, run as a user would.
 */
import { afterEach, describe, expect, it } from "vitest"
import { killAll, processesWith, startCli } from "./helpers.js"

afterEach(killAll)

describe("demo", () => {
  it("retries the warming-up demo server, lists its tools, calls add, exits 0 and leaves no process", async () => {
    const cli = startCli(["demo"])
    const { code } = await cli.exited
    expect(code, cli.stderr()).toBe(0)
    expect(cli.stderr()).toMatch(/✗ attempt 1\/5 failed .*warming up \(start 1 of 3\)/)
    expect(cli.stderr()).toMatch(/✗ attempt 2\/5 failed .*warming up \(start 2 of 3\)/)
    expect(cli.stderr()).toMatch(/✓ connected to demo after 3 attempts/)
    expect(cli.stdout()).toMatch(/3 tools on mcp-resilience-demo \(pid \d+\):/)
    expect(cli.stdout()).toMatch(/^ {2}add {4}Adds two numbers {2}\[readOnlyHint, idempotentHint\]$/m)
    expect(cli.stdout()).toContain("add(1, 2) = 3")
    // the demo server got its state file (named after the CLI's pid) in its environment
    expect(processesWith(`mcp-resilience-demo-${cli.child.pid}-`)).toEqual([])
  })
})
