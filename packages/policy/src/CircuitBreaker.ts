/**
 * A circuit breaker: after enough failures it stops calling a struggling dependency for a
 * while, failing fast instead, then lets a few probe calls through to see whether it has
 * recovered.
 *
 * The decision to open is a small pluggable `Strategy` (after cockatiel): `consecutive`
 * failures, or a failure ratio over a `sampling` window (after Polly v8); their counters live in
 * `internal/consecutive.ts` and `internal/sampling.ts`. Every instant comes
 * from the Effect `Clock` the breaker was made with, so `TestClock` drives it in tests.
 *
 * The live state is a plain field read synchronously; the `SubscriptionRef` is written only
 * on transitions, so a call through a closed breaker costs a field read, a clock read and one
 * `Effect.matchCauseEffect`.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Schedule from "effect/Schedule"
import * as SubscriptionRef from "effect/SubscriptionRef"
import type * as CircuitBreakerStore from "./CircuitBreakerStore.js"
import { makeBreaks } from "./internal/breaks.js"
import { CircuitBreakerImpl, closed } from "./internal/circuitBreaker.js"
import { makeTracker as consecutiveTracker } from "./internal/consecutive.js"
import { makeTracker as samplingTracker } from "./internal/sampling.js"

/**
 * The state of a breaker. `Open` carries when it opened and when it may admit a probe, in
 * epoch milliseconds on the breaker's `Clock`.
 *
 * - `Closed`: calls run; the strategy counts their outcomes
 * - `Open`: calls are rejected until `until`; the first call after that becomes a probe
 * - `HalfOpen`: up to `halfOpenProbes` probe calls run; the rest are rejected
 * - `Isolated`: opened by hand with `isolate`; every call is rejected until `reset`
 *
 * @since 0.1.0
 * @category models
 */
export type State =
  | { readonly _tag: "Closed" }
  | { readonly _tag: "Open"; readonly openedAt: number; readonly until: number }
  | { readonly _tag: "HalfOpen" }
  | { readonly _tag: "Isolated" }

/**
 * The counters of one breaker, fed with the outcome of each call admitted while it is closed.
 *
 * `now` is the time the call ended, in milliseconds on the breaker's `Clock`. Methods are
 * synchronous and run on every call, so they must be cheap and must not throw.
 *
 * @since 0.1.0
 * @category models
 */
export interface Tracker {
  /** Records a call that succeeded (or failed with an error that does not count). */
  readonly success: (now: number) => void
  /** Records a failed call; `true` means the breaker should open now. */
  readonly failure: (now: number) => boolean
  /** Forgets every outcome (when the breaker closes after its probes, and on `reset`). */
  readonly reset: () => void
}

/**
 * When to open: a recipe for a `Tracker`. A strategy holds no state itself, so one value can
 * configure many breakers (one per server); each breaker calls `make` once.
 *
 * @since 0.1.0
 * @category models
 */
export interface Strategy {
  readonly make: () => Tracker
  /**
   * For breakers that share a store: the failures in a row, counted across all of them, that
   * open the breaker for all (`consecutive` sets it). Absent: each breaker's own `Tracker` decides.
   */
  readonly fleetThreshold?: number | undefined
}

const assertInteger = (name: string, value: number, min: number) => {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`CircuitBreaker: ${name} must be an integer >= ${min}, actual ${value}`)
  }
}

/**
 * Opens after `threshold` failures in a row; any success starts the count again.
 *
 * Use it for a dependency with little traffic, where a ratio over a window would rarely
 * reach a meaningful throughput. Breakers that share a store (`CircuitBreakerStore`) also count
 * their failures together: `threshold` failures across them, with no success in between from a
 * breaker that reported one, open all of them. Throws a `RangeError` unless `threshold` is an integer >= 1.
 *
 * @since 0.1.0
 * @category constructors
 */
export const consecutive = (threshold: number): Strategy => {
  assertInteger("threshold", threshold, 1)
  return { make: () => consecutiveTracker(threshold), fleetThreshold: threshold }
}

/**
 * Options of `sampling`; each defaults to Polly v8's value.
 *
 * @since 0.1.0
 * @category models
 */
export interface SamplingOptions {
  /** Fraction of failed calls in the window at which the breaker opens, in (0, 1]; default 0.1. */
  readonly ratio?: number
  /** How far back outcomes count; default 30 seconds. */
  readonly window?: Duration.DurationInput
  /** Calls the window must hold before the ratio is looked at; default 100. */
  readonly minimumThroughput?: number
}

/**
 * Opens when, at a failure, the window holds at least `minimumThroughput` calls and at least
 * `ratio` of them failed (defaults: 0.1, 30 seconds, 100, as in Polly v8).
 *
 * The window is kept in 10 buckets of `window / 10` each, so an outcome stops counting between
 * 0.9 x `window` and `window` after it was recorded, and recording costs no allocation. Use it
 * for a busy dependency: a few scattered failures among many calls do not open it, a burst
 * does. Throws a `RangeError` on a ratio outside (0, 1], a window that is not positive and
 * finite, or a `minimumThroughput` that is not an integer >= 1.
 *
 * @since 0.1.0
 * @category constructors
 */
export const sampling = (options: SamplingOptions = {}): Strategy => {
  const ratio = options.ratio ?? 0.1
  const windowMillis = Duration.toMillis(options.window ?? Duration.seconds(30))
  const minimumThroughput = options.minimumThroughput ?? 100
  if (!(ratio > 0 && ratio <= 1)) {
    throw new RangeError(`CircuitBreaker: ratio must be in (0, 1], actual ${ratio}`)
  }
  if (!(windowMillis > 0 && Number.isFinite(windowMillis))) {
    throw new RangeError(`CircuitBreaker: window must be positive and finite, actual ${windowMillis} ms`)
  }
  assertInteger("minimumThroughput", minimumThroughput, 1)
  return { make: () => samplingTracker(ratio, windowMillis, minimumThroughput) }
}

/**
 * What a rejected call learns: how long until the breaker may admit it, and the state that rejected it.
 *
 * `retryAfter` is `until - now` when `Open`, 1 second when `HalfOpen` with every probe slot
 * taken, and `Duration.infinity` when `Isolated`.
 *
 * @since 0.1.0
 * @category models
 */
export interface RejectedInfo {
  readonly retryAfter: Duration.Duration
  readonly state: State
}

/**
 * Options of `make`. Only `onRejected` is required.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<E2> {
  /** When to open; default `sampling()`. */
  readonly strategy?: Strategy
  /**
   * How long the breaker stays open; default 5 seconds. A `Schedule`'s outputs give the
   * successive breaks (n-th output for the n-th opening since the breaker last closed); once
   * the schedule is done, its last output keeps being used.
   */
  readonly breakDuration?: Duration.DurationInput | Schedule.Schedule<Duration.Duration, unknown>
  /** Probe calls admitted while half-open; all must succeed to close. Default 1. */
  readonly halfOpenProbes?: number
  /** A call that runs longer than this counts as a failure, whatever its outcome. */
  readonly slowCallThreshold?: Duration.DurationInput
  /** Which errors (and defects) count as failures; default `Transient.isTransient`. */
  readonly isFailure?: (error: unknown) => boolean
  /** Builds the error a rejected call fails with. */
  readonly onRejected: (info: RejectedInfo) => E2
  /**
   * A handle on a state shared with other breakers (`CircuitBreakerStore`): openings, the
   * half-open probe, `isolate` and `reset` then hold for all of them. Absent: the state is this
   * breaker's own.
   */
  readonly shared?: CircuitBreakerStore.Shared | undefined
}

/**
 * A circuit breaker guarding the effects passed to `execute`.
 *
 * @since 0.1.0
 * @category models
 */
export interface CircuitBreaker<E2> {
  /**
   * The state, for observers: written once per transition, in order (`state.changes` streams
   * them). Read-only by convention; it may lag `current()` by the few steps it takes to publish.
   */
  readonly state: SubscriptionRef.SubscriptionRef<State>
  /** The live state, read synchronously. An `Open` state stays `Open` after `until` until a call arrives. */
  readonly current: () => State
  /** Runs `self` if the breaker admits it, recording its outcome; otherwise fails with `onRejected(info)` without running it. */
  readonly execute: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | E2, R>
  /** Opens the breaker by hand (`Isolated`) until `reset`. */
  readonly isolate: Effect.Effect<void>
  /** Closes the breaker and forgets every outcome and the break schedule's progress. */
  readonly reset: Effect.Effect<void>
}

/**
 * Makes a closed circuit breaker. It reads time from the `Clock` in context when it is made.
 *
 * - `Closed`: every call runs, and its outcome goes to the strategy. A failure is an error or
 *   defect for which `isFailure` holds, or any call slower than `slowCallThreshold`; other
 *   errors count as successes (the dependency answered). When the strategy says so, the
 *   breaker opens for the next break duration.
 * - `Open`: calls fail at once with `onRejected({ retryAfter: until - now })`, without running.
 *   The first call at or after `until` turns the breaker `HalfOpen` and runs as a probe.
 * - `HalfOpen`: up to `halfOpenProbes` probes run; others are rejected with a `retryAfter` of
 *   1 second. When `halfOpenProbes` probes have succeeded the breaker closes, forgetting its
 *   counts and restarting the break schedule; one failed probe reopens it with the next break.
 * - `Isolated` (`isolate`): every call is rejected with `retryAfter: Duration.infinity` until `reset`.
 *
 * An interrupted call counts neither way and frees its probe slot; outcomes of calls admitted
 * before the latest transition are ignored. Dies with a `RangeError` unless `halfOpenProbes`
 * is an integer >= 1.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <E2>(options: Options<E2>): Effect.Effect<CircuitBreaker<E2>> =>
  Effect.gen(function*() {
    assertInteger("halfOpenProbes", options.halfOpenProbes ?? 1, 1)
    const clock = yield* Effect.clock
    const breaks = yield* makeBreaks(options.breakDuration ?? Duration.seconds(5), clock.unsafeCurrentTimeMillis())
    const state = yield* SubscriptionRef.make<State>(closed)
    return new CircuitBreakerImpl(state, clock, breaks, options.strategy ?? sampling(), options)
  })
