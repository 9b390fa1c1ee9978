#!/usr/bin/env node
/**
 * The stdio entry of the flaky server (`FlakyServer`, `@mcp-resilience/testing`): `node flaky-server.mjs --state
 * <file>` reads its script as JSON from the environment variable `MCP_FLAKY_SCRIPT` and keeps its counters in the
 * state file, so they survive restarts. A refused start exits before the MCP SDK is loaded; the server itself is
 * `flaky-core.mjs`. Nothing imports this file, so its top-level await never reaches a `require`.
 */
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"
import { admit, createStore, normalizeScript, SCRIPT_ENV } from "./flaky-script.mjs"

const entry = fileURLToPath(import.meta.url)

const isMain = (() => {
  try {
    return process.argv[1] !== undefined && fs.realpathSync(process.argv[1]) === fs.realpathSync(entry)
  } catch {
    return false
  }
})()

const preflight = () => {
  const args = process.argv.slice(2)
  const at = args.indexOf("--state")
  const stateFile = at === -1 ? undefined : args[at + 1]
  let script
  try {
    if (stateFile === undefined) throw new Error("flaky-server: usage: node flaky-server.mjs --state <file>")
    script = normalizeScript(JSON.parse(process.env[SCRIPT_ENV] ?? "{}"))
  } catch (error) {
    process.stderr.write(`${error.message}\n`)
    process.exit(2)
  }
  const store = createStore(stateFile)
  store.update((s) => void s.pids.push(process.pid))
  process.on("exit", () => {
    try {
      store.update((s) => void (s.pids = s.pids.filter((pid) => pid !== process.pid)))
    } catch {
      // the state file is gone: the test is over
    }
  })
  const { admitted, message } = admit(store, script, Date.now())
  if (!admitted) {
    process.stderr.write(`flaky-server: ${message}\n`)
    process.exit(1)
  }
  return { script, store }
}

const program = isMain ? preflight() : undefined

if (program !== undefined) {
  const { script, store } = program
  try {
    const { createFlakyServer, realSleep } = await import("./flaky-core.mjs")
    const { StdioServerTransport } = await import("@modelcontextprotocol/sdk/server/stdio.js")
    const flaky = createFlakyServer(script, {
      store,
      sleep: realSleep,
      crash: () => {
        process.stderr.write("flaky-server: crashing as scripted (exit code 3)\n")
        process.exit(3)
      }
    })
    process.stdin.on("end", () => process.exit(0))
    await flaky.connect(new StdioServerTransport())
  } catch (error) {
    process.stderr.write(`flaky-server: ${error?.stack ?? error}\n`)
    process.exit(1)
  }
}
