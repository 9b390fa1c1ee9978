/**
 * Connect/close cycles in memory: does anything stay behind?
 *
 * Each side connects and closes one session at a time, `cycles` times, to a fresh SDK
 * `McpServer` (the bench's echo server) each time. Before and after (and at three points
 * between), the heap is measured after full collections; `process.getActiveResourcesInfo()` is
 * counted by type before and after. After a warm-up (JIT, lazy module state, the per-server-name
 * metric updaters), a leak shows as a heap that keeps growing, or as handles (timers) that stay.
 *
 * - raw: `new Client()` + `InMemoryTransport.createLinkedPair()` + `server.connect` + `client.connect`, then `client.close()`;
 * - McpClient: `Effect.scoped(McpClient.make(McpServerConfig.inMemory(...)))`;
 * - McpTools: `Effect.scoped(McpTools.make({ server: McpServerConfig.inMemory(...) }))` (supervision, tool list).
 */
import { McpClient, McpTools } from "@mcp-resilience/client"
import { RetryPolicy } from "@mcp-resilience/policy"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import * as Effect from "effect/Effect"
import { CLIENT_INFO, connectInMemory, echoConfig } from "../servers.js"
import { range } from "../stats.js"
import { type Resources, resources, settledHeap } from "./measure.js"
import { run, timed } from "./run.js"

export const CYCLE_SIDES = ["raw", "McpClient", "McpTools"] as const
export type CycleSide = typeof CYCLE_SIDES[number]

export interface CycleSettings {
  /** Cycles per side (McpTools: `toolsCycles`). */
  readonly cycles: number
  readonly toolsCycles: number
  /** Discarded cycles before the first measurement. */
  readonly warmup: number
}

export interface CycleResult {
  readonly side: CycleSide
  readonly cycles: number
  readonly millis: number
  /** Settled heap before the measured cycles, then after each quarter of them. */
  readonly heap: ReadonlyArray<number>
  readonly resourcesBefore: Resources
  readonly resourcesAfter: Resources
}

const config = echoConfig("bench-cycle")

const rawCycle = async () => {
  const client = new Client(CLIENT_INFO)
  await connectInMemory(client)
  await client.close()
}

/** `k` cycles of one side, one after another. */
const CYCLES: Record<CycleSide, (k: number) => Promise<void>> = {
  raw: async (k) => {
    for (let i = 0; i < k; i++) await rawCycle()
  },
  McpClient: (k) => run(Effect.forEach(range(k), () => Effect.scoped(McpClient.make(config)), { discard: true })),
  McpTools: (k) =>
    run(
      Effect.forEach(range(k), () => Effect.scoped(McpTools.make({ server: config, policy: RetryPolicy.default })), {
        discard: true
      })
    )
}

/** Lets pending close callbacks run before handles are counted. */
const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 50))

export const cycleSide = async (side: CycleSide, settings: CycleSettings): Promise<CycleResult> => {
  const cycles = side === "McpTools" ? settings.toolsCycles : settings.cycles
  await CYCLES[side](settings.warmup)
  await settle()
  const heap = [await settledHeap()]
  const resourcesBefore = resources()
  const quarter = Math.max(1, Math.floor(cycles / 4))
  let millis = 0
  for (let done = 0; done < cycles; done += quarter) {
    const [, ms] = await timed(() => CYCLES[side](Math.min(quarter, cycles - done)))
    millis += ms
    heap.push(await settledHeap())
  }
  await settle()
  return { side, cycles, millis, heap, resourcesBefore, resourcesAfter: resources() }
}
