/**
 * The benchmarks are not part of `pnpm test`, but this runs each of them (overhead, recovery, herd,
 * scale, cost, fleet) in `--quick` mode, as a user would from the shell, so that they cannot rot: each must
 * exit 0 and print its tables, and none may write the docs.
 *
 * Each runs in a child process (`node --import tsx`, with the workspace's source condition), all at
 * once; a child that is still running when its test ends is killed (the fleet study stops its own
 * workers and redis-server on SIGTERM, and its workers exit when it does).
 */
import { assert, describe, it } from "@effect/vitest"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"
import { afterAll } from "vitest"
import { redisServerAvailable } from "../src/fleet/redis.js"

const bench = fileURLToPath(new URL("..", import.meta.url))
const docs = ["benchmarks.md", "herd.md"].map((name) =>
  fileURLToPath(new URL(`../../../docs/${name}`, import.meta.url))
)

const children = new Set<ChildProcess>()
afterAll(() => {
  for (const child of children) child.kill("SIGKILL")
})

/** Runs `node --import tsx <script> ...args` in packages/bench; resolves with its exit code and output. */
const runScript = (script: string, args: ReadonlyArray<string>, timeoutMillis: number) =>
  new Promise<{ readonly code: number | null; readonly output: string }>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "--conditions=@mcp-resilience/source", script, ...args],
      { cwd: bench, stdio: ["ignore", "pipe", "pipe"] }
    )
    children.add(child)
    let output = ""
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()))
    // SIGTERM first: each script stops what it started (child processes, sessions) on it
    const timer = setTimeout(() => child.kill("SIGTERM"), timeoutMillis)
    child.once("error", reject)
    child.once("close", (code) => {
      clearTimeout(timer)
      children.delete(child)
      resolve({ code, output })
    })
  })

const snapshot = () => docs.map((file) => (fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined))

const includesAll = (output: string, expected: ReadonlyArray<string>) => {
  for (const text of expected) assert.include(output, text, `missing ${JSON.stringify(text)} in:\n${output}`)
}

describe.concurrent("benchmarks, --quick", () => {
  const before = snapshot()
  afterAll(() => {
    // --quick prints only
    assert.deepStrictEqual(snapshot(), before)
  })

  /** `pnpm bench --quick --only=<only>`: exits 0 and prints each of `expected`. */
  const quickMain = (only: string, expected: ReadonlyArray<string>) => async () => {
    const { code, output } = await runScript("src/main.ts", ["--quick", `--only=${only}`], 80_000)
    assert.strictEqual(code, 0, output)
    includesAll(output, expected)
  }

  it(
    "overhead (pnpm bench --quick, without the studies it starts)",
    { timeout: 90_000 },
    quickMain("in-memory,stdio,http,connect", [
      "ours vs raw",
      "in-memory                    latency, median",
      "in-memory, breaker + budget  throughput, 64 in flight",
      "stdio                        throughput, 64 in flight",
      "http                         latency, median",
      "http                         throughput, 64 in flight",
      "stdio                        connect + close, median"
    ])
  )

  it(
    "recovery (pnpm bench --quick --only=recovery: one outage of 500 ms)",
    { timeout: 90_000 },
    quickMain("recovery", [
      "| lag: that attempt to the first successful call |",
      "| one connect + call, healthy (1 times) |",
      "goal: lag within one connect; median lag"
    ])
  )

  it("herd (pnpm bench:herd --quick, 20 clients, 1 seed)", { timeout: 90_000 }, async () => {
    const { code, output } = await runScript("src/herd/main.ts", ["--quick", "--clients", "20", "--seeds", "1"], 80_000)
    assert.strictEqual(code, 0, output)
    includesAll(output, ["| strategy | budget | attempts |", "| persistent full | off |", "The harness:"])
    assert.notInclude(output, "FAIL")
  })

  it("scale (pnpm bench:scale --quick)", { timeout: 90_000 }, async () => {
    const { code, output } = await runScript("src/scale/main.ts", ["--quick"], 80_000)
    assert.strictEqual(code, 0, output)
    includesAll(output, [
      "| side | sessions | heap per session |",
      "| McpToolset | 20 |",
      "| side | cycles | time per cycle |",
      "| McpTools | 20 |",
      "| scenario | side | cycles |",
      "| handshake | ours | 1 |"
    ])
    assert.notInclude(output, "wrote ")
  })

  it(
    "cost (pnpm bench:cost --quick): a batch's calls run no Effect operations of their own",
    { timeout: 60_000 },
    async () => {
      const { code, output } = await runScript("src/cost/main.ts", ["--quick"], 50_000)
      assert.strictEqual(code, 0, output)
      includesAll(output, ["Effect operations per call", "Bytes allocated per call over stdio"])
      const cell = (row: string) =>
        Number(output.split("\n").find((line) => line.startsWith(`| ${row}`))!.split("|")[3].trim())
      // callAll starts its batch from one fiber (the pipeline's shortcut): a fiber per call would be 30 or more
      assert.isBelow(cell("`callAll`, 64 at once"), 2, output)
      assert.isBelow(cell("`tools.call`, one at a time"), 20, output)
    }
  )

  it("fleet (pnpm bench:fleet --quick: 2 worker processes, a 1 s outage)", { timeout: 60_000 }, async () => {
    // the Redis mode needs redis-server (and the Redis stores); without them the study says why and skips it
    const args = redisServerAvailable() ? ["--quick"] : ["--quick", "--modes", "per-process"]
    const { code, output } = await runScript("src/fleet/main.ts", args, 50_000)
    assert.strictEqual(code, 0, output)
    includesAll(output, [
      "| stores | workers | attempts on the server during the outage |",
      "| per-process | 2 |",
      "| stores | wall µs per call, median of rounds |",
      "| no breaker or budget |"
    ])
    // the outage was seen (the first failures reach the server) and every worker came back
    const row = output.split("\n").find((line) => line.startsWith("| per-process | 2 |"))!.split("|").map((c) =>
      c.trim()
    )
    assert.isAbove(Number(row[3]!.replace(/,/g, "")), 0, `no attempt reached the server during the outage:\n${output}`)
    assert.strictEqual(row[9], "0", `a worker did not recover:\n${output}`)
    if (redisServerAvailable()) {
      assert.isTrue(
        output.includes("| redis | 2 |") || output.includes("redis: not run:"),
        `the redis mode neither ran nor said why:\n${output}`
      )
      // with the fleet's breaker in Redis, every worker comes back too
      const redisRow = output.split("\n").find((line) => line.startsWith("| redis | 2 |"))?.split("|").map((c) =>
        c.trim()
      )
      if (redisRow !== undefined) assert.strictEqual(redisRow[9], "0", `a worker did not recover (redis):\n${output}`)
    }
    assert.notInclude(output, "wrote ")
  })
})
