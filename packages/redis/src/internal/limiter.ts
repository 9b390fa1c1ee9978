/**
 * The handshake limiter on Redis: `@effect/experimental`'s `RateLimiter` over its Redis store
 * (a fixed window whose expiry Redis keeps, so no process's clock is compared with another's),
 * and the in-memory limiter of `@mcp-resilience/policy` while Redis is away.
 *
 * @internal
 */
import * as RateLimiter from "@effect/experimental/RateLimiter"
import * as RedisRateLimiter from "@effect/experimental/RateLimiter/Redis"
import { HandshakeLimiter } from "@mcp-resilience/policy"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import type { Connection } from "./connection.js"

/** @internal */
export const make = (
  connection: Connection,
  options: HandshakeLimiter.Options
): Effect.Effect<HandshakeLimiter.Service, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { limit, windowMillis } = HandshakeLimiter.decodeOptions(options)
    const local = HandshakeLimiter.makeMemory(options)
    // the rate limiter's store opens its own connection and quits it on release; a quit that
    // waits for a Redis that is gone must not hold up the program's shutdown
    const scope = yield* Scope.make()
    yield* Effect.addFinalizer((exit) =>
      Effect.ignore(
        Effect.timeout(Effect.disconnect(Scope.close(scope, exit)), Duration.millis(connection.timeoutMillis * 10))
      )
    )
    const store = yield* Scope.extend(
      RedisRateLimiter.make({
        ...(connection.options as Record<string, unknown>),
        // its commands queue while it connects; the deadline of each call bounds them
        lazyConnect: false,
        enableOfflineQueue: true,
        prefix: `${connection.prefix}handshake:`
      }),
      scope
    )
    const limiter = yield* Effect.provideService(RateLimiter.make, RateLimiter.RateLimiterStore, store)
    const window = Duration.millis(windowMillis)
    return {
      take: (key) =>
        Effect.flatMap(
          connection.callEffect(
            "handshake limit",
            limiter.consume({ key, limit, window, onExceeded: "delay", algorithm: "fixed-window" })
          ),
          (result) => Option.isNone(result) ? local.take(key) : Effect.sleep(result.value.delay)
        )
    }
  })
