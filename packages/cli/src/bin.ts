#!/usr/bin/env node
/**
 * The `mcp-resilience` executable: runs {@link Cli.main} on `process.argv` with Node's
 * platform services; Ctrl-C interrupts the command, which stops its servers before exiting.
 *
 * @since 0.1.0
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as Cli from "./Cli.js"

// `runMain` interrupts the command on the first SIGINT / SIGTERM and then stops listening, so a
// second signal would kill the process on the spot, before its servers are stopped. A wrapper
// that relays signals (tsx, as `pnpm mcp-resilience` runs it) sends the same Ctrl-C twice: a
// repeat within a moment is ignored; a later one (someone pressing Ctrl-C again) exits at once.
let firstSignalAt: number | undefined
const onSignal = () => {
  const now = Date.now()
  if (firstSignalAt === undefined) firstSignalAt = now
  else if (now - firstSignalAt > 500) process.exit(130)
}
process.on("SIGINT", onSignal)
process.on("SIGTERM", onSignal)

NodeRuntime.runMain(Cli.main(process.argv).pipe(Effect.provide(NodeContext.layer)), {
  disableErrorReporting: true,
  disablePrettyLogger: true,
  teardown: Cli.teardown
})
