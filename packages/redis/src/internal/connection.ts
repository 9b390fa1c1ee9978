/**
 * The Redis connection of a fleet layer: every call has its own deadline and none is made while
 * Redis is known to be down; a health check on Effect's `Clock` finds out when it is back.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { Redis, type RedisOptions } from "ioredis"
import type { FleetStatus, Options } from "../RedisFleet.js"

/** @internal */
export interface Connection {
  readonly redis: Redis
  readonly options: RedisOptions
  readonly url: string | undefined
  readonly prefix: string
  readonly failClosed: boolean
  readonly timeoutMillis: number
  readonly refreshMillis: number
  readonly status: SubscriptionRef.SubscriptionRef<FleetStatus>
  /** Whether Redis answered the last call or health check. */
  readonly isUp: () => boolean
  /** Runs one command under the deadline; `None` when Redis is down, slow or failed (then marked down). */
  readonly call: <A>(what: string, command: (redis: Redis) => Promise<A>) => Effect.Effect<Option.Option<A>>
  /** The same for an effect talking to Redis by other means (the rate limiter's own connection). */
  readonly callEffect: <A, E>(what: string, effect: Effect.Effect<A, E>) => Effect.Effect<Option.Option<A>>
  /** Runs `f` whenever the health check finds Redis back (after it was down), and on every refresh. */
  readonly onRefresh: (f: (recovered: boolean) => Effect.Effect<void>) => void
  /** Runs `f` when Redis goes down. */
  readonly onDown: (f: () => void) => void
}

const describe = (error: unknown): string =>
  error instanceof Error ? error.message : typeof error === "string" ? error : "unknown error"

/** @internal */
export const connectionOptions = (options: Options): RedisOptions => ({
  ...options.redis,
  lazyConnect: true,
  // a command while disconnected fails at once: the fleet falls back instead of queueing
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  retryStrategy: () => Math.max(50, Math.min(500, Duration.toMillis(options.refreshInterval ?? Duration.seconds(1))))
})

/** @internal */
export const make = (options: Options): Effect.Effect<Connection, never, Scope.Scope> =>
  Effect.gen(function*() {
    const redisOptions = connectionOptions(options)
    const url = options.url === undefined
      ? undefined
      : Redacted.isRedacted(options.url)
      ? Redacted.value(options.url)
      : options.url
    const redis = yield* Effect.acquireRelease(
      Effect.sync(() => url === undefined ? new Redis(redisOptions) : new Redis(url, redisOptions)),
      (redis) => Effect.sync(() => redis.disconnect())
    )
    // ioredis reports connection errors as events; without a listener it prints them
    redis.on("error", () => {})
    const clock = yield* Effect.clock
    const timeoutMillis = Duration.toMillis(options.timeout ?? Duration.millis(100))
    const refreshMillis = Duration.toMillis(options.refreshInterval ?? Duration.seconds(1))
    const failClosed = options.onUnavailable === "fail-closed"
    const status = yield* SubscriptionRef.make<FleetStatus>({ _tag: "Shared" })
    let up = true
    const refreshers: Array<(recovered: boolean) => Effect.Effect<void>> = []
    const downers: Array<() => void> = []

    const markDown = (what: string, error: unknown) =>
      Effect.suspend(() => {
        if (!up) return Effect.void
        up = false
        for (const f of downers) f()
        const reason = `${what}: ${describe(error)}`
        const since = clock.unsafeCurrentTimeMillis()
        return Effect.zipRight(
          SubscriptionRef.set(
            status,
            failClosed ? { _tag: "FailingClosed", since, reason } : { _tag: "Local", since, reason }
          ),
          Effect.logWarning(
            failClosed
              ? "Redis unavailable: failing closed (calls rejected, retries refused) until it is back"
              : "Redis unavailable: breakers, budgets and handshake limits fall back to this process's own state"
          ).pipe(Effect.annotateLogs({ reason, timeout: `${timeoutMillis} ms` }))
        )
      })

    const timeoutError = (what: string) => new Error(`${what}: no answer within ${timeoutMillis} ms`)

    /** One try under the deadline, whatever Redis's known state. */
    const attempt = <A, E>(what: string, effect: Effect.Effect<A, E>) =>
      Effect.either(
        Effect.timeoutFail(effect, { duration: Duration.millis(timeoutMillis), onTimeout: () => timeoutError(what) })
      )

    const callEffect = <A, E>(what: string, effect: Effect.Effect<A, E>): Effect.Effect<Option.Option<A>> =>
      Effect.suspend(() =>
        !up ? Effect.succeedNone : Effect.flatMap(
          attempt(what, effect),
          (result) =>
            result._tag === "Right"
              ? Effect.succeed(Option.some(result.right))
              : Effect.as(markDown(what, result.left), Option.none<A>())
        )
      )

    const call = <A>(what: string, command: (redis: Redis) => Promise<A>): Effect.Effect<Option.Option<A>> =>
      callEffect(what, Effect.tryPromise({ try: () => command(redis), catch: (error) => error }))

    // the first connection: a Redis that is not there yet starts the layer in fallback
    yield* Effect.tryPromise(() => redis.connect()).pipe(
      Effect.timeoutFail({ duration: Duration.millis(timeoutMillis * 10), onTimeout: () => timeoutError("connect") }),
      Effect.catchAll((error) => markDown("connect", error))
    )

    const health = Effect.gen(function*() {
      if (redis.status === "end" || redis.status === "wait") {
        yield* Effect.ignore(Effect.tryPromise(() => redis.connect()))
      }
      const wasUp = up
      const pong = yield* attempt("PING", Effect.tryPromise({ try: () => redis.ping(), catch: (error) => error }))
      if (pong._tag === "Left") return yield* markDown("PING", pong.left)
      if (!wasUp) {
        up = true
        yield* SubscriptionRef.set(status, { _tag: "Shared" })
        yield* Effect.logInfo("Redis is back: breakers, budgets and handshake limits are shared again")
      }
      for (const f of refreshers) yield* f(!wasUp)
    })
    yield* health.pipe(
      Effect.repeat(Schedule.spaced(Duration.millis(refreshMillis))),
      Effect.interruptible,
      Effect.forkScoped
    )

    return {
      redis,
      // what ioredis made of the url and options (host, port, password, db, tls...)
      options: { ...redis.options, ...redisOptions },
      url,
      prefix: options.prefix ?? "mcp-resilience:",
      failClosed,
      timeoutMillis,
      refreshMillis,
      status,
      isUp: () => up,
      call,
      callEffect,
      onRefresh: (f) => void refreshers.push(f),
      onDown: (f) => void downers.push(f)
    }
  })
