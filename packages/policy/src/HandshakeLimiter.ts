/**
 * A cap on connection handshakes (`initialize`) per server: at most `limit` per `window`, so that
 * a fleet restarting at once, or reconnecting after an outage, does not stampede the server.
 * Without a limiter in context handshakes are not limited (besides each client's retry policy).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/**
 * The limiter: `take(key)` waits until a handshake to the server `key` may start.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly take: (key: string) => Effect.Effect<void>
}

/**
 * The handshake limiter in context. Absent (the default), handshakes are not limited.
 *
 * @since 0.1.0
 * @category models
 */
export class HandshakeLimiter extends Context.Tag("@mcp-resilience/policy/HandshakeLimiter")<
  HandshakeLimiter,
  Service
>() {}

/**
 * Options of a limiter.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Handshakes allowed per window and server. */
  readonly limit: number
  /** The window; default 1 second. */
  readonly window?: Duration.DurationInput | undefined
}

/**
 * Decodes options: throws a `RangeError` unless `limit` is an integer >= 1 and `window` is positive and finite.
 *
 * @since 0.1.0
 * @category constructors
 */
export const decodeOptions = (options: Options): { readonly limit: number; readonly windowMillis: number } => {
  const windowMillis = Duration.toMillis(options.window ?? Duration.seconds(1))
  if (!Number.isInteger(options.limit) || options.limit < 1) {
    throw new RangeError(`HandshakeLimiter: limit must be an integer >= 1, actual ${options.limit}`)
  }
  if (!(windowMillis > 0) || !Number.isFinite(windowMillis)) {
    throw new RangeError(`HandshakeLimiter: window must be finite and > 0, actual ${windowMillis} ms`)
  }
  return { limit: options.limit, windowMillis }
}

/**
 * An in-memory limiter for the handshakes of this process (a generic cell rate: a burst of
 * `limit`, then one every `window / limit`). Waits run on Effect's `Clock`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory = (options: Options): Service => {
  const { limit, windowMillis } = decodeOptions(options)
  const spacing = windowMillis / limit
  /** Per key, the theoretical arrival time of the next handshake. */
  const next = new Map<string, number>()
  return {
    take: (key) =>
      Effect.clockWith((clock) =>
        Effect.suspend(() => {
          const now = clock.unsafeCurrentTimeMillis()
          const tat = Math.max(next.get(key) ?? now, now) + spacing
          next.set(key, tat)
          const wait = tat - now - windowMillis
          return wait > 0 ? Effect.sleep(Duration.millis(wait)) : Effect.void
        })
      )
  }
}

/**
 * The in-memory limiter as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory = (options: Options): Layer.Layer<HandshakeLimiter> =>
  Layer.sync(HandshakeLimiter, () => makeMemory(options))
