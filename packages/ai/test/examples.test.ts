/**
 * The examples run as a user runs them (a child process through tsx), with the scripted model;
 * the README's example is `examples/readme.ts`, word for word.
 */
import { assert, describe, it } from "@effect/vitest"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach } from "vitest"

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), "..")
const examples = path.join(root, "examples")

const children = new Set<ChildProcess>()
afterEach(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  children.clear()
})

/** Runs `examples/<file>` with tsx in `examples/`, bounded; resolves with its exit code and output. */
const run = (file: string, timeoutMs = 90_000) =>
  new Promise<{ code: number | string; out: string }>((resolve, reject) => {
    const env = { ...process.env }
    delete env.OPENAI_API_KEY
    const child = spawn(process.execPath, ["--conditions=@mcp-resilience/source", "--import", "tsx", file], {
      cwd: examples,
      env,
      stdio: ["ignore", "pipe", "pipe"]
    })
    children.add(child)
    let out = ""
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (out += chunk))
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (out += chunk))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`${file}: no exit after ${timeoutMs} ms; output:\n${out}`))
    }, timeoutMs)
    child.once("exit", (code, signal) => {
      clearTimeout(timer)
      setImmediate(() => resolve({ code: code ?? signal ?? -1, out }))
    })
  })

describe("examples", () => {
  it("the README's agent example is examples/readme.ts: under 30 lines, no casts", () => {
    const readme = fs.readFileSync(path.join(root, "README.md"), "utf8")
    const block = /^```ts\n([\s\S]*?)^```/m.exec(readme)?.[1]
    assert.isDefined(block, "the README has a ts block")
    const file = fs.readFileSync(path.join(examples, "readme.ts"), "utf8")
    assert.strictEqual(block, file, "README.md's first ts block and examples/readme.ts differ")
    assert.isBelow(file.trimEnd().split("\n").length, 30)
    assert.notMatch(file, /\bas (unknown|any|never)\b|<[A-Z]\w*>\s*\(/, "a cast")
  })

  it("examples/readme.ts runs with the scripted model", async () => {
    const { code, out } = await run("readme.ts")
    assert.strictEqual(code, 0, out)
    assert.include(out, "2 + 3 = {\"content\":[{\"type\":\"text\",\"text\":\"5\"}],\"structuredContent\":{\"sum\":5}}")
  }, 120_000)

  it(
    "examples/agent.ts: two servers from its config, one refusing its first starts, and a scripted model",
    async () => {
      const { code, out } = await run("agent.ts")
      assert.strictEqual(code, 0, out)
      assert.match(out, /connect attempt 2 of 5 failed: \[demo\].*warming up/)
      assert.include(out, "tools: demo__add, demo__echo, demo__time, ev__echo, ev__get-sum")
      assert.include(out, "turn 1: demo__add -> ok")
      assert.include(out, "turn 1: ev__echo -> ok")
      assert.include(out, "answer after 2 turn(s): The servers answered:")
    },
    60_000
  )
})
