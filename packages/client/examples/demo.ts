/**
 * The main job (`pnpm demo`): connect to the bundled demo server, which refuses the first two
 * starts, under a retry policy; list its tools; call one. Copy it as a starting point.
 */
import { NodeRuntime } from "@effect/platform-node"
import { McpServerConfig, McpTools } from "@mcp-resilience/client"
import { RetryPolicy } from "@mcp-resilience/policy"
import { Console, Effect, Logger, LogLevel, Schema } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const stateFile = path.join(os.tmpdir(), `mcp-resilience-demo-${process.pid}.state`)
const demoServer = fileURLToPath(new URL("demo-server.mjs", import.meta.url))

const McpToolsLive = McpTools.layer({
  server: McpServerConfig.stdio({
    name: "demo",
    command: process.execPath,
    args: [demoServer],
    env: { DEMO_STATE_FILE: stateFile, DEMO_NOT_READY_FOR: "2" }
  }),
  // shorter than the default policy (10 attempts, 1 s base, 30 s cap), so the demo is quick
  policy: RetryPolicy.make({ maxAttempts: 5, base: "500 millis", cap: "5 seconds", jitter: "full" })
})

const program = Effect.gen(function*() {
  const tools = yield* McpTools
  const list = yield* tools.tools
  yield* Console.log(`\n${list.length} tools on ${tools.client?.serverInfo?.name} (pid ${tools.client?.pid}):`)
  for (const tool of list) {
    const hints = Object.entries(tool.annotations ?? {}).filter(([, v]) => v === true).map(([k]) => k)
    yield* Console.log(
      `  ${tool.name.padEnd(6)} ${tool.description ?? ""}${hints.length ? `  [${hints.join(", ")}]` : ""}`
    )
  }
  const { sum } = yield* tools.call("add", { a: 1, b: 2 }, { schema: Schema.Struct({ sum: Schema.Number }) })
  yield* Console.log(`\nadd(1, 2) = ${sum}\n`)
})

const cleanup = Effect.sync(() => fs.rmSync(stateFile, { force: true }))

program.pipe(
  Effect.provide(McpToolsLive),
  Effect.provide(Logger.pretty),
  Logger.withMinimumLogLevel(LogLevel.Info),
  Effect.ensuring(cleanup),
  NodeRuntime.runMain
)
