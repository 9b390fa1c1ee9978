/**
 * The two modes of the fleet study: where a worker's circuit breaker and retry budget keep their
 * state.
 *
 * - `per-process`: the library's in-memory stores, one breaker and one token bucket per worker
 *   process (what a fleet has today);
 * - `redis`: the shared stores of `@mcp-resilience/redis`, one breaker state and one bucket for the
 *   whole fleet, kept in a `redis-server` the study starts.
 *
 * Both modes give the same breaker and budget settings (`StoreSettings`); only where the state lives
 * differs. A worker and the healthy-cost measurement build their stores with `storesFor`.
 */
import type { McpToolsTypes } from "@mcp-resilience/client"
import { CircuitBreaker, RetryBudget } from "@mcp-resilience/policy"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"

export type Mode = "per-process" | "redis"

export const MODES: ReadonlyArray<Mode> = ["per-process", "redis"]

/** The breaker and budget settings, the same in both modes. */
export interface StoreSettings {
  /** The breaker opens after this many failures in a row (`CircuitBreaker.consecutive`). */
  readonly breakerFailures: number
  /** How long it stays open before one probe, in seconds. */
  readonly breakSeconds: number
  /** The token bucket's capacity (a retry takes 5 tokens, a success puts 1 back: the defaults). */
  readonly budgetCapacity: number
}

/** Where a mode keeps its shared state: the Redis URL and the key prefix of this run. */
export interface SharedState {
  readonly redisUrl: string
  readonly prefix: string
}

/** What `McpTools.make` gets from a mode, and the layer of store services its program needs. */
export interface Stores {
  readonly breaker: NonNullable<McpToolsTypes.Options["breaker"]>
  readonly budget: RetryBudget.RetryBudget
  /** The store services (none for `per-process`: the in-memory stores are the default). */
  readonly layer: Layer.Layer<never>
}

/** A mode that cannot run here; the study reports it and goes on without it. */
export class ModeUnavailable extends Data.TaggedError("ModeUnavailable")<{
  readonly mode: Mode
  readonly reason: string
}> {
  override get message() {
    return `fleet study: mode ${this.mode} unavailable: ${this.reason}`
  }
}

const breakerOptions = (settings: StoreSettings): Stores["breaker"] => ({
  strategy: CircuitBreaker.consecutive(settings.breakerFailures),
  breakDuration: `${settings.breakSeconds} seconds`
})

/** Per-process stores: a breaker and a token bucket of this process alone. */
export const perProcessStores = (settings: StoreSettings): Effect.Effect<Stores, never, Scope.Scope> =>
  Effect.succeed({
    breaker: breakerOptions(settings),
    budget: RetryBudget.tokenBucket({ capacity: settings.budgetCapacity, name: "fleet" }),
    layer: Layer.empty
  })

/**
 * Redis stores: the breaker state and the retry budget shared by every process through the Redis at
 * `shared.redisUrl`, under keys starting with `shared.prefix`.
 *
 * THE ONE PLACE TO FILL IN once `@mcp-resilience/redis` (branch `fleet-stores`) has landed: build its
 * layers here (connected to `shared.redisUrl`, keys under `shared.prefix`) and return the breaker
 * options and budget that use them; the rest of the study (workers, redis-server, report) already
 * runs this mode whenever this function succeeds.
 */
export const redisStores = (
  _settings: StoreSettings,
  _shared: SharedState
): Effect.Effect<Stores, ModeUnavailable, Scope.Scope> =>
  Effect.fail(
    new ModeUnavailable({
      mode: "redis",
      reason: "the Redis stores (@mcp-resilience/redis) are not wired into the study yet: fill in redisStores in " +
        "packages/bench/src/fleet/stores.ts"
    })
  )

/** The stores of `mode`. */
export const storesFor = (
  mode: Mode,
  settings: StoreSettings,
  shared: SharedState | undefined
): Effect.Effect<Stores, ModeUnavailable, Scope.Scope> =>
  mode === "per-process"
    ? perProcessStores(settings)
    : shared === undefined
    ? Effect.fail(new ModeUnavailable({ mode, reason: "no redis-server was started for it" }))
    : redisStores(settings, shared)
