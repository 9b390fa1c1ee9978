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
import { RedisFleet } from "@mcp-resilience/redis"
import * as Context from "effect/Context"
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

/** What `McpTools.make` gets from a mode, and the store services its program needs. */
export interface Stores {
  readonly breaker: NonNullable<McpToolsTypes.Options["breaker"]>
  readonly budget: RetryBudget.RetryBudget
  /**
   * The store services to provide to `McpTools.make` (none for `per-process`: without a store each
   * breaker and budget is its own). Built in the caller's scope, so that their connections live as
   * long as the service that uses them.
   */
  readonly context: Context.Context<never>
  /** `Shared` while the fleet's state is shared, otherwise why not (`per-process`, `Local: ...`). */
  readonly status: Effect.Effect<string>
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
    context: Context.empty(),
    status: Effect.succeed("per-process")
  })

/**
 * Redis stores: the breaker state and the retry budget shared by every process through the Redis at
 * `shared.redisUrl`, under keys starting with `shared.prefix`: `RedisFleet.layer` of
 * `@mcp-resilience/redis`, whose `CircuitBreakerStore` and `RetryBudgetStore` `McpTools` picks from
 * context (keyed per server: every worker has the same server name and URL, so one key). The breaker
 * options and the local budget are those of the per-process mode; the store makes the budget the
 * fleet's one bucket. Its other options are the package's defaults (100 ms per Redis call, fallback to
 * local state when Redis fails, no handshake limit).
 */
export const redisStores = (
  settings: StoreSettings,
  shared: SharedState
): Effect.Effect<Stores, ModeUnavailable, Scope.Scope> =>
  Effect.gen(function*() {
    const context = yield* Layer.build(RedisFleet.layer({ url: shared.redisUrl, prefix: shared.prefix }))
    const fleet = Context.get(context, RedisFleet.RedisFleet)
    return {
      breaker: breakerOptions(settings),
      budget: RetryBudget.tokenBucket({ capacity: settings.budgetCapacity, name: "fleet" }),
      context,
      status: Effect.map(fleet.status, (s) => (s._tag === "Shared" ? "Shared" : `${s._tag}: ${s.reason}`))
    }
  })

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
