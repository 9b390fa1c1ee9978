/**
 * Circuit breakers, retry budgets and handshake limits shared by a fleet of processes through
 * Redis: one layer provides the `CircuitBreakerStore`, `RetryBudgetStore` and
 * `HandshakeLimiter` of `@mcp-resilience/policy`, which `McpTools`, `McpToolset` and
 * `McpClient` pick from context, keyed per server.
 *
 * - a breaker opens for every process as soon as one opens it, or after `consecutive(n)`
 *   failures in a row across the fleet (each process learns it from a Redis message, one round
 *   trip), and exactly one process sends the half-open probe per window; a successful call
 *   through a closed breaker never talks to Redis;
 * - a token-bucket retry budget is one bucket per server for the fleet;
 * - `handshakes` caps `initialize` per window per server for the fleet (`@effect/experimental`'s
 *   `RateLimiter` on its Redis store);
 * - times compared across processes come from Redis (`TIME`, key expiry).
 *
 * When Redis is down, slow or unreachable, each call to it gives up after `timeout` (100 ms) and
 * the layer switches to `onUnavailable`: `"fallback"` (the default) uses each process's own
 * state, logs a warning and shows `Local` in `status`; `"fail-closed"` rejects calls and refuses
 * retries instead. A health check every `refreshInterval` finds Redis back and shares again.
 *
 * @since 0.1.0
 */
import { CircuitBreakerStore, HandshakeLimiter, RetryBudgetStore } from "@mcp-resilience/policy"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import type { RedisOptions } from "ioredis"
import * as Breaker from "./internal/breaker.js"
import * as Budget from "./internal/budget.js"
import * as Connection from "./internal/connection.js"
import * as Limiter from "./internal/limiter.js"

/**
 * Whether the fleet's state is shared right now.
 *
 * - `Shared`: Redis answers; breakers, budgets and limits are the fleet's
 * - `Local`: Redis did not answer (`reason`) at `since` (epoch ms); each process uses its own state
 * - `FailingClosed`: the same, with `onUnavailable: "fail-closed"`: calls are rejected, retries refused
 *
 * @since 0.1.0
 * @category models
 */
export type FleetStatus =
  | { readonly _tag: "Shared" }
  | { readonly _tag: "Local"; readonly since: number; readonly reason: string }
  | { readonly _tag: "FailingClosed"; readonly since: number; readonly reason: string }

/**
 * Options of the Redis layer.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** `redis://[:password@]host:port[/db]`; `redis` options apply on top. */
  readonly url?: string | Redacted.Redacted<string> | undefined
  /** ioredis options (host, port, password, tls...). */
  readonly redis?: RedisOptions | undefined
  /** Prefix of every key and channel; default `"mcp-resilience:"`. */
  readonly prefix?: string | undefined
  /** The deadline of each Redis call; default 100 ms. */
  readonly timeout?: Duration.DurationInput | undefined
  /** What to do while Redis is unavailable; default `"fallback"`. */
  readonly onUnavailable?: "fallback" | "fail-closed" | undefined
  /** How often the health check runs and the breakers' shared state is read again; default 1 second. */
  readonly refreshInterval?: Duration.DurationInput | undefined
  /**
   * How long a half-open probe holds its window before another process may probe. By default the
   * break duration of the breaker that asks: a probe whose process died or hangs delays the fleet by
   * at most one more break (the wait a failed probe causes), never by a fixed 30 s.
   */
  readonly probeLease?: Duration.DurationInput | undefined
  /** Handshakes per window per server for the fleet; absent: not limited. */
  readonly handshakes?: HandshakeLimiter.Options | undefined
}

/**
 * The service: the layer's status.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly status: Effect.Effect<FleetStatus>
  readonly statusChanges: Stream.Stream<FleetStatus>
}

/**
 * The Redis fleet in context: its status.
 *
 * @since 0.1.0
 * @category models
 */
export class RedisFleet extends Context.Tag("@mcp-resilience/redis/RedisFleet")<RedisFleet, Service>() {}

/**
 * What the layer provides.
 *
 * @since 0.1.0
 * @category models
 */
export type Provides =
  | RedisFleet
  | CircuitBreakerStore.CircuitBreakerStore
  | RetryBudgetStore.RetryBudgetStore
  | HandshakeLimiter.HandshakeLimiter

/**
 * Connects to Redis and builds the stores; the connections close with the scope. A Redis that
 * does not answer at start starts the layer in `Local` (or `FailingClosed`) status, never fails it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Context.Context<Provides>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const connection = yield* Connection.make(options)
    const breakers = yield* Breaker.make(
      connection,
      options.probeLease === undefined ? undefined : Duration.toMillis(options.probeLease)
    )
    const budgets = Budget.make(connection)
    const handshakes: HandshakeLimiter.Service = options.handshakes === undefined
      ? { take: () => Effect.void }
      : yield* Limiter.make(connection, options.handshakes)
    const service: Service = {
      status: SubscriptionRef.get(connection.status),
      statusChanges: connection.status.changes
    }
    return Context.make(RedisFleet, service).pipe(
      Context.add(CircuitBreakerStore.CircuitBreakerStore, breakers),
      Context.add(RetryBudgetStore.RetryBudgetStore, budgets),
      Context.add(HandshakeLimiter.HandshakeLimiter, handshakes)
    )
  })

/**
 * The Redis stores as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<Provides> => Layer.scopedContext(make(options))

/**
 * The Redis stores with their settings read from `Config`: `REDIS_URL` (redacted; default
 * `redis://127.0.0.1:6379`), `REDIS_PREFIX`, `REDIS_TIMEOUT`, `REDIS_ON_UNAVAILABLE`
 * (`fallback` | `fail-closed`), `REDIS_HANDSHAKES_PER_SECOND` (absent: not limited).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: Layer.Layer<Provides, ConfigError.ConfigError> = Layer.unwrapEffect(
  Effect.gen(function*() {
    const url = yield* Config.withDefault(Config.redacted("REDIS_URL"), undefined)
    const prefix = yield* Config.withDefault(Config.string("REDIS_PREFIX"), undefined)
    const timeout = yield* Config.withDefault(Config.duration("REDIS_TIMEOUT"), undefined)
    const onUnavailable = yield* Config.withDefault(
      Config.literal("fallback", "fail-closed")("REDIS_ON_UNAVAILABLE"),
      undefined
    )
    const perSecond = yield* Config.withDefault(Config.integer("REDIS_HANDSHAKES_PER_SECOND"), undefined)
    return layer({
      url: url ?? "redis://127.0.0.1:6379",
      prefix,
      timeout,
      onUnavailable,
      handshakes: perSecond === undefined ? undefined : { limit: perSecond }
    })
  })
)
