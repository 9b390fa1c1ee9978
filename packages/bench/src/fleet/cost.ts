/**
 * What consulting the stores costs a healthy call: the same `McpTools.call` loop on one in-memory
 * session (so that no network hides it), with no breaker and budget, with per-process stores, and
 * with Redis stores, in rounds that alternate the variants; the median over the rounds of the time per
 * call. The closed breaker's path should make no Redis round trip, so the Redis row should be within
 * the noise of the per-process one.
 */
import { McpTools, type McpToolsTypes } from "@mcp-resilience/client"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { echoConfig } from "../servers.js"
import { median } from "../stats.js"
import { type Mode, type SharedState, type StoreSettings, storesFor } from "./stores.js"

export type Variant = "no breaker or budget" | Mode

export interface CostOptions {
  readonly modes: ReadonlyArray<Mode>
  readonly settings: StoreSettings
  readonly shared: SharedState | undefined
  readonly rounds: number
  readonly callsPerRound: number
}

export interface CostRow {
  readonly variant: Variant
  /** Wall-clock µs per call, per round. */
  readonly perCall: ReadonlyArray<number>
  /** CPU µs per call (this process: the calls and the in-memory server), per round. */
  readonly cpuPerCall: ReadonlyArray<number>
  readonly median: number
  readonly cpuMedian: number
  /** The median over the rounds of this variant's wall time per call minus the baseline's in the same round. */
  readonly pairedDiff: number
}

const ECHO = { text: "cost" }

/** Measures each variant; fails with `ModeUnavailable` when a mode's stores cannot be made (a failed call is a defect). */
export const storeCost = (options: CostOptions) =>
  Effect.scoped(Effect.gen(function*() {
    const variants: Array<{ variant: Variant; tools: McpToolsTypes.Service }> = []
    variants.push({
      variant: "no breaker or budget",
      tools: yield* Effect.orDie(McpTools.make({ server: echoConfig("cost-none") }))
    })
    for (const mode of options.modes) {
      const stores = yield* storesFor(mode, options.settings, options.shared)
      const tools = yield* McpTools.make({
        server: echoConfig(`cost-${mode}`),
        breaker: stores.breaker,
        budget: stores.budget
      }).pipe(Effect.provide(stores.context), Effect.orDie)
      variants.push({ variant: mode, tools })
    }
    const wall = new Map<Variant, Array<number>>(variants.map((v) => [v.variant, []]))
    const cpu = new Map<Variant, Array<number>>(variants.map((v) => [v.variant, []]))
    // warm-up
    for (const v of variants) {
      for (let i = 0; i < options.callsPerRound; i++) yield* Effect.orDie(v.tools.call("echo", ECHO))
    }
    for (let round = 0; round < options.rounds; round++) {
      for (const v of round % 2 === 0 ? variants : [...variants].reverse()) {
        const cpuStart = process.cpuUsage()
        const start = performance.now()
        for (let i = 0; i < options.callsPerRound; i++) yield* Effect.orDie(v.tools.call("echo", ECHO))
        const used = process.cpuUsage(cpuStart)
        wall.get(v.variant)!.push(((performance.now() - start) * 1000) / options.callsPerRound)
        cpu.get(v.variant)!.push((used.user + used.system) / options.callsPerRound)
      }
    }
    const baseline = wall.get("no breaker or budget")!
    return variants.map((v): CostRow => {
      const perCall = wall.get(v.variant)!
      const cpuPerCall = cpu.get(v.variant)!
      return {
        variant: v.variant,
        perCall,
        cpuPerCall,
        median: median(perCall),
        cpuMedian: median(cpuPerCall),
        pairedDiff: median(perCall.map((x, i) => x - baseline[i]!))
      }
    })
  })).pipe(Logger.withMinimumLogLevel(LogLevel.None))
