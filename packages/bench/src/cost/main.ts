/**
 * `pnpm bench:cost`: what one call costs, in measures the machine's load does not change, against
 * the raw SDK called from Effect (`Effect.promise(() => client.callTool(...))`), over the same
 * transport to the same kind of server:
 *
 * 1. Effect operations per call, counted by a `Supervisor` with op supervision on (in memory);
 * 2. bytes allocated per call, collected objects included (V8's sampling heap profiler), over
 *    stdio, where the server is another process and only the client's allocations count.
 *
 * Each is measured for `tools.call` one at a time and for a batch of 64 (`McpTools.callAll`;
 * the raw side: `Promise.all` in one `Effect.promise`), and for operations also with
 * `Effect.forEach(..., { concurrency: 64 })`. See "The call pipeline's shortcut" in
 * docs/benchmarks.md.
 *
 *   pnpm bench:cost            prints the tables
 *   pnpm bench:cost --quick    fewer calls
 */
import { McpServerConfig, McpTools } from "@mcp-resilience/client"
import type { McpToolsTypes } from "@mcp-resilience/client"
import { RetryPolicy } from "@mcp-resilience/policy"
import { type Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import * as Effect from "effect/Effect"
import * as RuntimeFlags from "effect/RuntimeFlags"
import * as RuntimeFlagsPatch from "effect/RuntimeFlagsPatch"
import * as Supervisor from "effect/Supervisor"
import { Session } from "node:inspector/promises"
import { parseArgs } from "../args.js"
import { rawClient } from "../scenarios.js"
import { connectInMemory, echoConfig, stdioCommand } from "../servers.js"

const USAGE = "usage: pnpm bench:cost [--quick] [--help]"
const { quick } = parseArgs<never>([], USAGE)
const CALLS = quick ? 640 : 6_400
const BATCH = 64
const ARGS = { text: "hello" }

/** Counts the operations the fibers run while `on`. */
class Counter extends Supervisor.AbstractSupervisor<void> {
  value = Effect.void
  on = false
  count = 0
  override onEffect(): void {
    if (this.on) this.count++
  }
}

/** What each side runs: one call, or one batch of {@link BATCH}. */
interface Sides {
  readonly rawOne: Effect.Effect<unknown, unknown>
  readonly oursOne: Effect.Effect<unknown, unknown>
  readonly rawBatch: Effect.Effect<unknown, unknown>
  readonly oursBatch: Effect.Effect<unknown, unknown>
  readonly rawForEach: Effect.Effect<unknown, unknown>
  readonly oursForEach: Effect.Effect<unknown, unknown>
}

const sidesOf = (raw: Client, tools: McpToolsTypes.Service): Sides => {
  const rawCall = Effect.promise(() => raw.callTool({ name: "echo", arguments: ARGS }))
  const oursCall = tools.call("echo", ARGS)
  const batch = Array.from({ length: BATCH }, () => ({ name: "echo", arguments: ARGS }))
  return {
    rawOne: rawCall,
    oursOne: oursCall,
    rawBatch: Effect.promise(() => Promise.all(batch.map(() => raw.callTool({ name: "echo", arguments: ARGS })))),
    oursBatch: tools.callAll(batch),
    rawForEach: Effect.forEach(batch, () => rawCall, { concurrency: BATCH }),
    oursForEach: Effect.forEach(batch, () => oursCall, { concurrency: BATCH })
  }
}

/** Runs `effect` enough times for `CALLS` calls (`perRun` calls each time). */
const repeat = (effect: Effect.Effect<unknown, unknown>, perRun: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < CALLS / perRun; i++) yield* effect
  })

const operations = (counter: Counter, sides: Sides) =>
  Effect.gen(function*() {
    const per = (effect: Effect.Effect<unknown, unknown>, perRun: number) =>
      Effect.gen(function*() {
        yield* repeat(effect, perRun)
        counter.count = 0
        counter.on = true
        yield* repeat(effect, perRun)
        counter.on = false
        return counter.count / CALLS
      })
    return [
      ["`tools.call`, one at a time", yield* per(sides.rawOne, 1), yield* per(sides.oursOne, 1)],
      [`\`callAll\`, ${BATCH} at once`, yield* per(sides.rawBatch, BATCH), yield* per(sides.oursBatch, BATCH)],
      [
        `\`Effect.forEach\`, ${BATCH} at once`,
        yield* per(sides.rawForEach, BATCH),
        yield* per(sides.oursForEach, BATCH)
      ]
    ] as const
  })

const bytes = (session: Session, sides: Sides) =>
  Effect.gen(function*() {
    const per = (effect: Effect.Effect<unknown, unknown>, perRun: number) =>
      Effect.gen(function*() {
        yield* repeat(effect, perRun)
        yield* Effect.promise(() =>
          session.post("HeapProfiler.startSampling", {
            samplingInterval: 256,
            includeObjectsCollectedByMajorGC: true,
            includeObjectsCollectedByMinorGC: true
          })
        )
        yield* repeat(effect, perRun)
        const { profile } = yield* Effect.promise(() => session.post("HeapProfiler.stopSampling"))
        let total = 0
        const walk = (node: typeof profile.head): void => {
          total += node.selfSize
          for (const child of node.children) walk(child)
        }
        walk(profile.head)
        return total / CALLS
      })
    return [
      ["`tools.call`, one at a time", yield* per(sides.rawOne, 1), yield* per(sides.oursOne, 1)],
      [`\`callAll\`, ${BATCH} at once`, yield* per(sides.rawBatch, BATCH), yield* per(sides.oursBatch, BATCH)]
    ] as const
  })

/** A Markdown table: a label column, then numbers. */
const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>) =>
  [
    `| ${header.join(" | ")} |`,
    `| ${header.map((_, i) => (i === 0 ? "---" : "---:")).join(" | ")} |`,
    ...rows.map((row) => `| ${row.join(" | ")} |`)
  ].join("\n")

const program = (counter: Counter, session: Session) =>
  Effect.scoped(Effect.gen(function*() {
    const memRaw = yield* rawClient(connectInMemory)
    const memOurs = yield* McpTools.make({ server: echoConfig("bench-echo"), policy: RetryPolicy.default })
    const ops = yield* operations(counter, sidesOf(memRaw, memOurs))
    const stdioRaw = yield* rawClient((client) =>
      client.connect(new StdioClientTransport({ ...stdioCommand, args: [...stdioCommand.args] }))
    )
    const stdioOurs = yield* McpTools.make({
      server: McpServerConfig.stdio({ ...stdioCommand }),
      policy: RetryPolicy.default
    })
    const allocated = yield* bytes(session, sidesOf(stdioRaw, stdioOurs))
    const fixed = (n: number, digits: number) => n.toFixed(digits)
    console.log(`Effect operations per call, in memory (${CALLS} calls per row and side):\n`)
    const header = ["per call", "raw SDK in Effect", "mcp-resilience"]
    console.log(table(header, ops.map(([row, raw, ours]) => [row, fixed(raw, 1), fixed(ours, 1)])))
    console.log(`\nBytes allocated per call over stdio, client only (${CALLS} calls per row and side):\n`)
    console.log(table(
      header,
      allocated.map(([row, raw, ours]) => [row, `${fixed(raw / 1024, 1)} KiB`, `${fixed(ours / 1024, 1)} KiB`])
    ))
  }))

const counter = new Counter()
const session = new Session()
session.connect()
await session.post("HeapProfiler.enable")
await Effect.runPromise(
  program(counter, session).pipe(
    Effect.provide(Supervisor.addSupervisor(counter)),
    Effect.withRuntimeFlagsPatch(RuntimeFlagsPatch.enable(RuntimeFlags.OpSupervision))
  )
)
session.disconnect()
