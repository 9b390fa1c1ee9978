/**
 * The README's main job, as the `demo` command runs it: start the bundled demo server (which
 * refuses its first two starts, like a server still warming up) under a retry policy, list its
 * tools, call `add`. The same job as `packages/client/examples/demo.ts`.
 *
 * @since 0.1.0
 */
import { type McpClient, McpConfigError, type McpDecodeError, McpServerConfig, McpTools } from "@mcp-resilience/client"
import type { McpToolsTypes } from "@mcp-resilience/client"
import { RetryPolicy } from "@mcp-resilience/policy"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/**
 * The bundled demo server, `examples/demo-server.mjs` of `@mcp-resilience/client`, exported by that
 * package as `@mcp-resilience/client/demo-server`.
 *
 * @since 0.1.0
 * @category models
 */
export const demoServerPath = (): string => fileURLToPath(import.meta.resolve("@mcp-resilience/client/demo-server"))

/**
 * The demo's policy: the default, with a shorter base delay so that the demo is quick.
 *
 * @since 0.1.0
 * @category constructors
 */
export const policy: RetryPolicy.RetryPolicy = RetryPolicy.make({
  maxAttempts: 5,
  base: "500 millis",
  cap: "5 seconds",
  jitter: "full"
})

/**
 * The demo server as a stdio config; `stateFile` counts its starts, and the first `notReadyFor`
 * starts exit with "warming up".
 *
 * @since 0.1.0
 * @category constructors
 */
export const server = (options: {
  readonly stateFile: string
  readonly notReadyFor?: number | undefined
  readonly shutdownGraceMillis?: number | undefined
}): McpServerConfig.Stdio =>
  McpServerConfig.stdio({
    name: "demo",
    command: process.execPath,
    args: [demoServerPath()],
    env: { DEMO_STATE_FILE: options.stateFile, DEMO_NOT_READY_FOR: String(options.notReadyFor ?? 2) },
    ...(options.shutdownGraceMillis === undefined ? {} : { shutdownGraceMillis: options.shutdownGraceMillis })
  })

/**
 * The job itself, on a connected `McpTools`: print the tools, call `add(1, 2)`, print the sum.
 *
 * @since 0.1.0
 * @category constructors
 */
export const program: Effect.Effect<void, McpToolsTypes.CallError | McpDecodeError, McpTools> = Effect.gen(
  function*() {
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
  }
)

/**
 * Runs the demo end to end: a fresh state file, the server under {@link policy}, {@link program},
 * and cleanup (the server stopped, the state file removed) however it ends.
 *
 * @since 0.1.0
 * @category constructors
 */
export const run = (options: {
  /** Runs before each wait between connection attempts. */
  readonly onRetry?: McpClient.Options["onRetry"]
  /** Runs once connected, with the number of attempts it took. */
  readonly onConnected?: ((attempts: number) => Effect.Effect<void>) | undefined
  readonly shutdownGraceMillis?: number | undefined
} = {}): Effect.Effect<void, McpClient.ConnectError | McpToolsTypes.CallError | McpDecodeError> =>
  Effect.suspend(() => {
    const serverPath = demoServerPath()
    if (!fs.existsSync(serverPath)) {
      // a broken install: say so at once rather than retrying a server that cannot start
      return Effect.fail(
        new McpConfigError({ path: "demo", reason: `the bundled demo server is missing: ${serverPath}` })
      )
    }
    const stateFile = path.join(os.tmpdir(), `mcp-resilience-demo-${process.pid}-${Date.now()}.state`)
    const connected = Effect.flatMap(
      McpTools,
      (tools) => options.onConnected === undefined ? Effect.void : options.onConnected(tools.client?.attempts ?? 1)
    )
    return Effect.zipRight(connected, program).pipe(
      Effect.provide(McpTools.layer({
        server: server({ stateFile, shutdownGraceMillis: options.shutdownGraceMillis }),
        policy,
        ...(options.onRetry === undefined ? {} : { onRetry: options.onRetry })
      })),
      Effect.ensuring(Effect.sync(() => fs.rmSync(stateFile, { force: true })))
    )
  })
