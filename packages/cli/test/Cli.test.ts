/**
 * The CLI as a user meets it: `node bin/mcp-resilience.mjs ...` run as a child process against
 * real servers (the client's fixture server over stdio and HTTP), checked by its output and exit
 * code, and checked to leave no process behind.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { eraseLine } from "../src/internal/style.js"
import {
  binScript,
  cleanupFiles,
  cliEnv,
  cliRoot,
  fixtureCommand,
  fixtureConfigs,
  hasCommand,
  killAll,
  marker,
  processesWith,
  runCli,
  type Running,
  startCli,
  startHttpFixture,
  tempDir,
  tempFile
} from "./helpers.js"

afterEach(async () => {
  await killAll()
  cleanupFiles()
})

/** Sends SIGINT; the CLI must exit with `expected` within a second and leave no process with `mark`. */
const interruptsWithin1s = async (cli: Running, mark: string, expected: number) => {
  const sent = performance.now()
  cli.child.kill("SIGINT")
  const { at, code } = await cli.exited
  expect(code).toBe(expected)
  expect(at - sent).toBeLessThan(1000)
  expect(processesWith(mark)).toEqual([])
}

/** Waits (up to 10 s) until the server with `mark` runs (the CLI's own command line has the mark too). */
const serverStarted = async (cli: Running, mark: string) => {
  const server = () => processesWith(mark).filter((pid) => pid !== cli.child.pid)
  for (let i = 0; i < 200 && server().length === 0; i++) await new Promise((r) => setTimeout(r, 50))
  expect(server()).toHaveLength(1)
}

/** A stack trace line, which errors must not print without --verbose. */
const STACK = /^\s+at .+\(.+:\d+:\d+\)$/m

describe("probe", () => {
  it("connects to a flaky server under the policy, then prints its info and its tools", async () => {
    const mark = marker()
    const state = tempFile()
    const result = await runCli([
      "probe",
      "--stdio",
      fixtureCommand(mark, ["--refuse-first", "2", "--state-file", state]),
      "--base",
      "50ms",
      "--cap",
      "200ms"
    ])
    expect(result.code, result.stderr).toBe(0)
    // progress on stderr, as plain lines (not a terminal)
    expect(result.stderr).toContain("connecting to server.mjs: attempt 1/10")
    expect(result.stderr).toMatch(/✗ attempt 1\/10 failed \(McpConnectError\.Closed\): .*refusing start 1 of 2/)
    expect(result.stderr).toMatch(/next attempt 2\/10 in \d+ms/)
    expect(result.stderr).toMatch(/✗ attempt 2\/10 failed .*refusing start 2 of 2/)
    expect(result.stderr).toMatch(/✓ connected to server\.mjs after 3 attempts/)
    // eslint-disable-next-line no-control-regex
    expect(result.stderr).not.toMatch(/\x1b\[/) // no escape codes off a terminal
    // the server and its tools on stdout
    expect(result.stdout).toMatch(new RegExp(`^server\\s+${mark} 1\\.0\\.0$`, "m"))
    expect(result.stdout).toMatch(/^transport\s+stdio$/m)
    expect(result.stdout).toMatch(/^capabilities\s+.*tools/m)
    expect(result.stdout).toMatch(/^TOOL\s+ANNOTATIONS\s+DESCRIPTION$/m)
    expect(result.stdout).toMatch(/^add\s+readOnly, idempotent\s+Adds two numbers\.$/m)
    expect(result.stdout).toMatch(/^echo\s+readOnly\s+Returns its text\.$/m)
    expect(result.stdout).toMatch(/^counter\s+-\s+Counts its executions/m)
    expect(processesWith(mark)).toEqual([])
  })

  it("probes a Streamable HTTP server with --url, and prints JSON with --json", async () => {
    const mark = marker()
    const { url } = await startHttpFixture(["--name", mark])
    const result = await runCli(["probe", "--url", url, "--json"])
    expect(result.code, result.stderr).toBe(0)
    const info = JSON.parse(result.stdout)
    expect(info.serverInfo.name).toBe(mark)
    expect(info.transport).toBe("streamable http (sse fallback)")
    expect(typeof info.sessionId).toBe("string")
    expect(info.tools.map((t: { name: string }) => t.name)).toContain("add")
  })

  it("exits 1 with the typed error's message, no stack trace, when the server keeps failing", async () => {
    const mark = marker()
    const state = tempFile()
    const result = await runCli([
      "probe",
      "--stdio",
      fixtureCommand(mark, ["--refuse-first", "100", "--state-file", state]),
      "--attempts",
      "2",
      "--base",
      "20ms"
    ])
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/✗ attempt 1\/2 failed/)
    expect(result.stderr).toMatch(
      /^error: \[server\.mjs\] connect failed, Closed: server process exited with code 1; stderr: fixture: refusing start 2 of 100$/m
    )
    expect(result.stderr).not.toMatch(STACK)
    expect(result.stdout).toBe("")
    expect(processesWith(mark)).toEqual([])
  })

  it("prints the whole cause with --verbose", async () => {
    const result = await runCli(["probe", "--stdio", "/nonexistent/mcp-server", "--attempts", "1", "--verbose"])
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/^error: \[mcp-server\] connect failed, Spawn: .*ENOENT/m)
    expect(result.stderr).toMatch(STACK)
  })

  it("exits 2 on bad usage", async () => {
    const conflicting = await runCli(["probe", "--stdio", "node x.mjs", "--url", "http://127.0.0.1:1/mcp"])
    expect(conflicting.code).toBe(2)
    expect(conflicting.stderr).toContain("error: give one of a server name, --stdio or --url, not --stdio and --url")

    const badFlag = await runCli(["probe", "--stdio", "node x.mjs", "--attempts", "0"])
    expect(badFlag.code).toBe(2)
    expect(badFlag.stderr).toMatch(/invalid policy flags: maxAttempts: Expected a number greater than or equal to 1/)
    expect(badFlag.stderr).not.toMatch(STACK)
  })

  it("exits 2 with the McpConfigError message on a bad config", async () => {
    const badUrl = await runCli(["probe", "github", "--config", path.join(fixtureConfigs, "bad-url.json")])
    expect(badUrl.code).toBe(2)
    expect(badUrl.stderr.trim()).toBe(
      `error: invalid config at ${path.join(fixtureConfigs, "bad-url.json")}#mcpServers.github.url: ` +
        `"not a url" is not a URL`
    )

    // a config found in the working directory, without the server asked for
    const dir = tempDir()
    fs.writeFileSync(path.join(dir, "mcp.json"), JSON.stringify({ servers: { one: { command: "node" } } }))
    const unknown = await runCli(["probe", "two"], { cwd: dir, env: { HOME: dir } })
    expect(unknown.code).toBe(2)
    expect(unknown.stderr.trim()).toBe(`error: invalid config at mcp.json: no server named "two"; its servers: one`)
  })
})

describe("call", () => {
  const configDir = (mark: string) => {
    const dir = tempDir()
    fs.writeFileSync(
      path.join(dir, "mcp.json"),
      JSON.stringify({
        mcpServers: { fixture: { command: process.execPath, args: [fixtureCommandPath, "--name", mark] } }
      })
    )
    return dir
  }
  const fixtureCommandPath = path.resolve(cliRoot, "..", "client", "test", "fixtures", "server.mjs")

  it("calls a tool of a configured server and pretty-prints the result", async () => {
    const mark = marker()
    const dir = configDir(mark)
    const result = await runCli(["call", "fixture", "add", "--args", `{"a": 1, "b": 2}`], {
      cwd: dir,
      env: { HOME: dir }
    })
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toBe(`3\n\nstructured content:\n{\n  "sum": 3\n}\n`)
    expect(result.stderr).toBe("")
    expect(processesWith(mark)).toEqual([])
  })

  it("shows a progress line per notification of server-everything's long-running tool", async () => {
    const requireFromClient = createRequire(path.resolve(cliRoot, "..", "client", "package.json"))
    const pkgJson = requireFromClient.resolve("@modelcontextprotocol/server-everything/package.json")
    const bin = JSON.parse(fs.readFileSync(pkgJson, "utf8")).bin as string | Record<string, string>
    const everything = path.join(path.dirname(pkgJson), typeof bin === "string" ? bin : Object.values(bin)[0]!)
    const result = await runCli([
      "call",
      "trigger-long-running-operation",
      "--stdio",
      `'${process.execPath}' '${everything}' stdio`,
      "--args",
      `{"duration": 1, "steps": 3}`
    ])
    expect(result.code, result.stderr).toBe(0)
    const lines = result.stderr.split("\n").filter((line) => line.startsWith("progress"))
    expect(lines).toEqual(["progress 1/3 (33%)", "progress 2/3 (67%)", "progress 3/3 (100%)"])
    expect(result.stdout).toContain("Long running operation completed")
  })

  it("prints the raw result with --json", async () => {
    const mark = marker()
    const result = await runCli(["call", "echo", "--stdio", fixtureCommand(mark), "--args", `{"text":"hi"}`, "--json"])
    expect(result.code, result.stderr).toBe(0)
    expect(JSON.parse(result.stdout)).toEqual({ content: [{ type: "text", text: "hi" }] })
  })

  it("exits 1 with the tool's message when the tool answers isError", async () => {
    const mark = marker()
    const result = await runCli(["call", "fail", "--stdio", fixtureCommand(mark), "--args", `{"message":"boom"}`])
    expect(result.code).toBe(1)
    expect(result.stderr.trim()).toBe(`error: [server.mjs] tool "fail" returned an error: boom`)
    expect(result.stdout).toBe("")
    expect(processesWith(mark)).toEqual([])
  })

  it("exits 2 on arguments that are not a JSON object", async () => {
    const result = await runCli(["call", "add", "--stdio", "node x.mjs", "--args", "[1, 2]"])
    expect(result.code).toBe(2)
    expect(result.stderr.trim()).toBe(`error: --args must be a JSON object such as '{"a": 1}', got an array`)
  })
})

describe("watch and Ctrl-C", () => {
  it("prints every server's status until SIGINT, then exits 0 within a second and leaves no server", async () => {
    const mark = marker()
    const dir = tempDir()
    fs.writeFileSync(
      path.join(dir, "mcp.json"),
      JSON.stringify({
        servers: {
          alpha: {
            command: process.execPath,
            args: [path.resolve(cliRoot, "..", "client/test/fixtures/server.mjs"), "--name", `${mark}-a`]
          },
          beta: {
            command: process.execPath,
            args: [path.resolve(cliRoot, "..", "client/test/fixtures/server.mjs"), "--name", `${mark}-b`]
          }
        }
      })
    )
    const cli = startCli(["watch"], { cwd: dir, env: { HOME: dir } })
    await cli.waitFor(/alpha\s+Connected\s+pid \d+/)
    await cli.waitFor(/beta\s+Connected\s+pid \d+/)
    expect(cli.stdout()).toMatch(/^\d\d:\d\d:\d\d\.\d{3} {2}alpha {2}Connecting\s+attempt 1$/m)
    expect(processesWith(mark)).toHaveLength(2)
    await interruptsWithin1s(cli, mark, 0)
  })

  it("exits 130 within a second on SIGINT during a backoff wait, and stops the server", async () => {
    const mark = marker()
    const state = tempFile()
    const cli = startCli([
      "probe",
      "--stdio",
      fixtureCommand(mark, ["--refuse-first", "100", "--state-file", state]),
      "--base",
      "20s",
      "--cap",
      "20s",
      "--jitter",
      "none"
    ])
    await cli.waitFor(/next attempt 2\/10 in 20s/)
    await interruptsWithin1s(cli, mark, 130)
  })

  it("exits 130 within a second on SIGINT during an attempt, and stops the server", async () => {
    const mark = marker()
    const cli = startCli(["probe", "--stdio", fixtureCommand(mark, ["--hang-initialize"])])
    await cli.waitFor(/attempt 1\/10/)
    // wait until the server is up and waiting in `initialize`
    await serverStarted(cli, mark)
    await interruptsWithin1s(cli, mark, 130)
  })
  it("stops a server that ignores both its stdin closing and SIGTERM within a second of SIGINT", async () => {
    const mark = marker()
    const cli = startCli([
      "probe",
      "--stdio",
      fixtureCommand(mark, ["--hang-initialize", "--ignore-stdin-close", "--ignore-sigterm"])
    ])
    await serverStarted(cli, mark)
    await interruptsWithin1s(cli, mark, 130)
  })
})

describe("progress on a terminal", () => {
  // `script` (util-linux, in Debian's essential bsdutils) gives the CLI a pseudo-terminal
  const hasScript = hasCommand("script")
  const title = "redraws one status line: a spinner per attempt, a countdown to the next"
  if (!hasScript) console.warn("skipping the pseudo-terminal test: `script` (util-linux) is not on the PATH")

  it.skipIf(!hasScript)(hasScript ? title : `${title} (skipped: no \`script\` command)`, async () => {
    const mark = marker()
    const state = tempFile()
    const out = tempFile(".out")
    const cli = [
      process.execPath,
      binScript,
      "probe",
      "--stdio",
      fixtureCommand(mark, ["--refuse-first", "1", "--state-file", state]),
      "--base",
      "1500ms",
      "--jitter",
      "none"
    ]
      .map((w) => `'${w.replaceAll("'", `'\\''`)}'`)
      .join(" ")
    // `script` runs the CLI in a pseudo-terminal of 100 columns and copies what it writes to `out`
    const child = spawn("script", ["-q", "-e", "-c", `stty cols 100 rows 30; ${cli}`, out], {
      cwd: cliRoot,
      env: cliEnv({ TERM: "xterm" }),
      stdio: ["ignore", "ignore", "ignore"]
    })
    try {
      const code = await new Promise((resolve) => child.once("exit", (c) => resolve(c)))
      const raw = fs.readFileSync(out, "utf8")
      expect(code, raw).toBe(0)
      // the live line is redrawn in place: cursor to column 1, erase line
      expect(raw).toContain(eraseLine)
      expect(raw).toMatch(/connecting to .*server\.mjs.*: attempt 1\/10/)
      // a countdown that goes down while waiting
      const counts = [...raw.matchAll(/next attempt 2\/10 in .*?(\d+(?:\.\d)?)(ms|s)/g)].map((m) =>
        Number(m[1]) * (m[2] === "s" ? 1000 : 1)
      )
      expect(counts.length).toBeGreaterThan(3)
      expect(counts[0]).toBeGreaterThan(counts[counts.length - 1]!)
      expect(counts[0]).toBeLessThanOrEqual(1500)
      // the kept lines, in colour
      // eslint-disable-next-line no-control-regex
      expect(raw).toMatch(/\x1b\[0;31m✗\x1b\[0m attempt 1\/10 failed/)
      // eslint-disable-next-line no-control-regex
      expect(raw).toMatch(/\x1b\[0;32m✓\x1b\[0m connected to \x1b\[0;1mserver\.mjs\x1b\[0m after 2 attempts/)

      // the screen as a person sees it: each erase wipes the line before it
      const screen = raw.split("\n").filter((line) => !/^Script (started|done)/.test(line)).map((line) =>
        line.split(eraseLine).pop()!.replace(/\r$/, "")
      )
        // eslint-disable-next-line no-control-regex
        .map((line) => line.replace(/\x1b\[[0-9;]*m/g, ""))
      expect(screen[0]).toMatch(/^✗ attempt 1\/10 failed \(McpConnectError\.Closed\)/)
      expect(screen[1]).toMatch(/^✓ connected to server\.mjs after 2 attempts/)
      expect(screen).toContainEqual(expect.stringMatching(/^add\s+readOnly, idempotent\s+Adds two numbers\.$/))
    } finally {
      child.kill("SIGKILL")
    }
    expect(processesWith(mark)).toEqual([])
  })
})
