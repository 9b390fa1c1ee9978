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
  /** µs per call, per round. */
  readonly perCall: ReadonlyArray<number>
  readonly median: number
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
      }).pipe(Effect.provide(stores.layer), Effect.orDie)
      variants.push({ variant: mode, tools })
    }
    const samples = new Map<Variant, Array<number>>(variants.map((v) => [v.variant, []]))
    // warm-up
    for (const v of variants) {
      for (let i = 0; i < options.callsPerRound; i++) yield* Effect.orDie(v.tools.call("echo", ECHO))
    }
    for (let round = 0; round < options.rounds; round++) {
      for (const v of round % 2 === 0 ? variants : [...variants].reverse()) {
        const start = performance.now()
        for (let i = 0; i < options.callsPerRound; i++) yield* Effect.orDie(v.tools.call("echo", ECHO))
        samples.get(v.variant)!.push(((performance.now() - start) * 1000) / options.callsPerRound)
      }
    }
    return variants.map((v): CostRow => {
      const perCall = samples.get(v.variant)!
      return { variant: v.variant, perCall, median: median(perCall) }
    })
  })).pipe(Logger.withMinimumLogLevel(LogLevel.None))
