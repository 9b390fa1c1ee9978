/**
 * A `McpTransports` service that follows a script of connection outcomes: the first opens fail with the typed
 * errors you give (or hang), later ones open the server for real. No I/O with an in-memory server, so a test
 * drives a client's whole connect schedule with `TestClock` and checks the exact delays.
 *
 * @since 0.1.0
 */
import { type McpAuthError, type McpConnectError, type McpServerConfig, McpTransport } from "@mcp-resilience/client"
import * as Effect from "effect/Effect"

/**
 * One open in the script: fail with this error, `"hang"` (never complete: the attempt times out), or `"open"` (open
 * the server). After the script, every open opens the server.
 *
 * @example
 * ```ts
 * import { McpConnectError } from "@mcp-resilience/client"
 * import type { ScriptedTransports } from "@mcp-resilience/testing"
 *
 * const steps: ReadonlyArray<ScriptedTransports.Step> = [
 *   new McpConnectError({ server: "mem", reason: "Refused", detail: "connection refused" }),
 *   "hang",
 *   "open"
 * ]
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Step = McpConnectError | McpAuthError | "hang" | "open"

/**
 * Options: the server to open instead of the config the client asked for, and the service that opens it (default
 * `McpTransport.live`).
 *
 * @example
 * ```ts
 * import { McpTransport } from "@mcp-resilience/client"
 * import type { ScriptedTransports } from "@mcp-resilience/testing"
 *
 * const options: ScriptedTransports.Options = { base: McpTransport.live }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly server?: McpServerConfig.McpServerConfig | undefined
  readonly base?: McpTransport.Service | undefined
}

/**
 * The service, with the number of opens so far.
 *
 * @example
 * ```ts
 * import type { ScriptedTransports } from "@mcp-resilience/testing"
 *
 * const attempts = (transports: ScriptedTransports.ScriptedTransports) => transports.opens()
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ScriptedTransports extends McpTransport.Service {
  readonly opens: () => number
}

/**
 * Makes the service. Provide it with `Effect.provideService(McpTransport.McpTransports, scripted)`.
 *
 * @example
 * ```ts
 * import { McpClient, McpConnectError, McpTransport } from "@mcp-resilience/client"
 * import { RetryPolicy } from "@mcp-resilience/policy"
 * import { FlakyServer, ScriptedTransports, VirtualTime } from "@mcp-resilience/testing"
 * import { Effect } from "effect"
 *
 * const refused = new McpConnectError({ server: "flaky", reason: "Refused", detail: "connection refused" })
 * const policy = RetryPolicy.make({ base: "1 second", jitter: "none" })
 * const program = Effect.gen(function*() {
 *   const server = yield* FlakyServer.inMemory({})
 *   const scripted = ScriptedTransports.make([refused, refused])
 *   const { virtualMillis } = yield* VirtualTime.run(
 *     McpClient.make(server.config, { policy }).pipe(
 *       Effect.scoped,
 *       Effect.provideService(McpTransport.McpTransports, scripted)
 *     )
 *   )
 *   return { opens: scripted.opens(), virtualMillis } // 3, 3000
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (script: ReadonlyArray<Step>, options: Options = {}): ScriptedTransports => {
  const base = options.base ?? McpTransport.live
  let opens = 0
  return {
    opens: () => opens,
    open: (config, server) =>
      Effect.suspend(() => {
        const step = script[opens++]
        if (step === undefined || step === "open") return base.open(options.server ?? config, server)
        if (step === "hang") return Effect.never
        return Effect.fail(step)
      })
  }
}
