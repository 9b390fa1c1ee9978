/**
 * The CLI as a new user meets it, run as the built bin (`node bin/mcp-resilience.mjs ...`): help
 * text, colours, `call --timeout` as a total deadline with visible retries, `watch` lines and
 * `--health`, readable network errors, a quiet shutdown under `--verbose`, and the bin from the
 * workspace root.
 */
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import {
  binScript,
  cleanupFiles,
  cliEnv,
  cliRoot,
  fixtureCommand,
  hasCommand,
  killAll,
  marker,
  processesWith,
  runCli,
  startCli,
  startHttpFixture,
  tempFile
} from "./helpers.js"

afterEach(async () => {
  await killAll()
  cleanupFiles()
})

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[/

const COMMANDS = ["probe", "call", "watch", "demo"] as const

/** The entries of the help's OPTIONS section: each option's heading line and the lines under it. */
const optionEntries = (help: string): Array<{ readonly heading: string; readonly body: string }> => {
  const section = help.split(/^OPTIONS$/m)[1]?.split(/^[A-Z ]+$/m)[0]
  if (section === undefined) return []
  const entries: Array<{ heading: string; body: string }> = []
  for (const line of section.split("\n")) {
    if (line.trim() === "") continue
    if (!line.startsWith(" ")) entries.push({ heading: line, body: "" })
    else if (entries.length > 0) entries[entries.length - 1]!.body += `${line.trim()} `
  }
  return entries
}

describe("--help", () => {
  it("describes every option in words, shows usage lines that start with mcp-resilience, and no ANSI when piped", async () => {
    for (const args of [["--help"], ...COMMANDS.map((c) => [c, "--help"]), ["call", "-h"]]) {
      const { code, stdout, stderr } = await runCli(args)
      expect(code, `${args.join(" ")}: ${stderr}`).toBe(0)
      expect(stdout, args.join(" ")).not.toMatch(ANSI)
      expect(stdout).not.toContain("A user-defined piece of text")
      expect(stdout).not.toContain("A true or false value")
      const usage = stdout.split(/^USAGE$/m)[1]!.split(/^[A-Z]+$/m)[0]!.split("\n").filter((l) => l.trim() !== "")
      expect(usage.length, args.join(" ")).toBeGreaterThan(0)
      for (const line of usage) expect(line.trim()).toMatch(/^mcp-resilience /)
      const options = optionEntries(stdout)
      expect(options.length, args.join(" ")).toBeGreaterThan(0)
      for (const option of options) {
        // a sentence of its own under each option
        expect(option.body, `${args.join(" ")}: ${option.heading}`).toMatch(/[A-Z][a-z]+ [^.]*\./)
      }
    }
  })

  it("names every option of call and watch, --timeout and --health among them", async () => {
    const call = await runCli(["call", "--help"])
    for (const flag of ["--args", "--timeout", "--call-attempt-timeout", "--stdio", "--url", "--json", "--verbose"]) {
      expect(call.stdout).toContain(flag)
    }
    expect(call.stdout).toMatch(/--timeout DURATION\s+The call's total deadline/)
    const watch = await runCli(["watch", "--help"])
    expect(watch.stdout).toMatch(/--health DURATION\s+Ping each server/)
  })

  const hasScript = hasCommand("script")
  it.skipIf(!hasScript)("colours help on a terminal, and not with NO_COLOR", async () => {
    const onTerminal = (env: Record<string, string>) => {
      const out = tempFile(".out")
      const command = [process.execPath, binScript, "--help"].map((w) => `'${w}'`).join(" ")
      const result = spawnSync("script", ["-q", "-e", "-c", command, out], {
        cwd: cliRoot,
        env: cliEnv({ TERM: "xterm", ...env }),
        stdio: "ignore",
        timeout: 30_000
      })
      expect(result.status).toBe(0)
      return fs.readFileSync(out, "utf8")
    }
    expect(onTerminal({})).toMatch(ANSI)
    const plain = onTerminal({ NO_COLOR: "1" })
    expect(plain).toContain("mcp-resilience <command> [options]")
    expect(plain).not.toMatch(ANSI)
  })
})

describe("call --timeout", () => {
  it("is the call's total deadline: a slow read-only tool is retried visibly, then fails at the deadline", async () => {
    const mark = marker()
    const cli = startCli([
      "call",
      "slow",
      "--stdio",
      fixtureCommand(mark),
      "--args",
      JSON.stringify({ ms: 60_000 }),
      "--timeout",
      "1.5s",
      "--call-attempt-timeout",
      "1s"
    ])
    await cli.waitFor(/retrying tools\/call slow \(attempt 2 of 3\)/)
    const firstRetry = performance.now()
    const { code, at } = await cli.exited
    expect(code, cli.stderr()).toBe(1)
    // without -v, the retry is shown, and the error names the whole deadline
    expect(cli.stderr()).toMatch(/^↻ retrying tools\/call slow \(attempt 2 of 3\) in \d+ms: .*timed out after 1s$/m)
    expect(cli.stderr()).toMatch(/^error: .*tools\/call slow timed out after 1s 500ms$/m)
    // what was left of the 1.5 s when the first attempt ended, and the shutdown; a per-attempt
    // --timeout would run two more attempts of 1 s each
    expect(at - firstRetry).toBeLessThan(1800)
    expect(processesWith(mark)).toEqual([])
  })
})

describe("watch", () => {
  it("keeps tags and details apart and counts failed attempts across the policy's runs", async () => {
    const mark = marker()
    const state = tempFile()
    const cli = startCli([
      "watch",
      "--stdio",
      fixtureCommand(mark, ["--refuse-first", "3", "--state-file", state]),
      "--attempts",
      "2",
      "--base",
      "50ms",
      "--cap",
      "100ms"
    ])
    await cli.waitFor(/Connected\s+pid \d+/, 30_000)
    cli.child.kill("SIGINT")
    const { code } = await cli.exited
    expect(code, cli.stderr()).toBe(0)
    const lines = cli.stdout().split("\n").filter((l) => l.trim() !== "")
    // every line: time, server, a tag, at least two spaces, then the detail (if any)
    for (const line of lines) {
      expect(line).toMatch(/^\d\d:\d\d:\d\d\.\d{3} {2}\S+ {2}(Connecting|Connected|Reconnecting|retry|Closed) {2,}\S/)
    }
    const attempts = lines.flatMap((l) => /(?:retry|Reconnecting)\s+attempt (\d+) failed/.exec(l)?.[1] ?? [])
    // the policy's runs are 2 attempts each; the counter keeps counting through them (the last
    // failure of a run is told by the Reconnecting status, the others by the retry lines)
    expect(attempts.map(Number), cli.stdout()).toEqual([1, 2, 3])
    expect(processesWith(mark)).toEqual([])
  })

  it("prints each failure over HTTP once", async () => {
    const { url } = await startHttpFixture(["--refuse-first", "2", "--retry-after", "0"])
    const cli = startCli(["watch", "--url", url, "--base", "50ms", "--cap", "100ms"])
    await cli.waitFor(/Connected/, 30_000)
    cli.child.kill("SIGINT")
    await cli.exited
    const lines = cli.stdout().split("\n").filter((l) => l.trim() !== "")
    const failures = lines.filter((l) => /503/.test(l))
    expect(failures, cli.stdout()).toHaveLength(2)
    expect(failures.every((l) => / retry {2,}attempt \d failed/.test(l)), cli.stdout()).toBe(true)
  })

  it("--health replaces a session whose server stops answering pings", async () => {
    const mark = marker()
    const cli = startCli(["watch", "--stdio", fixtureCommand(mark), "--health", "300ms", "--base", "50ms"])
    await cli.waitFor(/Connected\s+pid \d+/, 30_000)
    const first = Number(/Connected\s+pid (\d+)/.exec(cli.stdout())![1])
    // a frozen server: alive, but answers nothing
    process.kill(first, "SIGSTOP")
    try {
      await cli.waitFor(new RegExp(`Connected\\s+pid (?!${first}\\b)\\d+`), 30_000)
    } finally {
      try {
        process.kill(first, "SIGCONT")
      } catch {
        // already stopped by the CLI
      }
    }
    expect(cli.stdout()).toMatch(/Reconnecting\s{2,}.*ping/i)
    cli.child.kill("SIGINT")
    const { code } = await cli.exited
    expect(code).toBe(0)
    expect(processesWith(mark)).toEqual([])
  })
})

describe("errors and shutdown", () => {
  it("says 'bad port' and 'DNS lookup failed' instead of 'fetch failed'", async () => {
    const badPort = await runCli(["probe", "--url", "http://127.0.0.1:9/mcp", "--attempts", "1"])
    expect(badPort.code).toBe(1)
    expect(badPort.stderr).toMatch(/^error: .*Refused: bad port/m)
    expect(badPort.stderr).not.toContain("fetch failed")
    const dns = await runCli(["probe", "--url", "http://no-such-host.invalid/mcp", "--attempts", "1"])
    expect(dns.code).toBe(1)
    expect(dns.stderr).toMatch(/^error: .*DNS lookup failed for no-such-host\.invalid/m)
    expect(dns.stderr).not.toMatch(/connection refused \(ENOTFOUND\)/)
    expect(dns.stderr).not.toContain("fetch failed")
  })

  it("prints no 'Fiber terminated with an unhandled error' at shutdown with -v", async () => {
    const mark = marker()
    const cli = startCli(["watch", "--stdio", fixtureCommand(mark), "-v"])
    await cli.waitFor(/Connected\s+pid \d+/, 30_000)
    cli.child.kill("SIGINT")
    const { code } = await cli.exited
    expect(code).toBe(0)
    // -v does print the library's logs: the test would see the message if it were logged
    expect(cli.stderr()).toMatch(/DEBUG|INFO/)
    expect(cli.stderr()).not.toContain("Fiber terminated with an unhandled error")
    expect(processesWith(mark)).toEqual([])
  })
})

describe("the bin from the workspace root", () => {
  it("runs as pnpm exec mcp-resilience", async () => {
    const root = path.resolve(cliRoot, "..", "..")
    const child = spawn("pnpm", ["exec", "mcp-resilience", "--version"], { cwd: root, env: cliEnv() })
    let out = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk))
    const code = await new Promise((resolve) => child.once("exit", resolve))
    expect(code).toBe(0)
    expect(out.trim()).toBe("0.1.0")
  })
})
