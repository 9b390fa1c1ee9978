/**
 * Capped exponential backoff with the jitter strategies of the AWS Architecture blog post
 * "Exponential Backoff and Jitter", as Effect `Schedule`s.
 *
 * Every delay is a whole number of milliseconds: each formula is evaluated in floating-point
 * milliseconds and then rounded to the nearest millisecond (`Math.round`, halves up). All
 * randomness comes from Effect's `Random` service, so `Effect.withRandom(Random.make(seed))`
 * makes a run repeatable, and every wait goes through Effect's `Clock`.
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as ScheduleInterval from "effect/ScheduleInterval"

/**
 * How a delay is randomised; see the module documentation for each formula.
 *
 * @since 0.1.0
 * @category models
 */
export type Jitter = "none" | "proportional" | "full" | "equal" | "decorrelated"

/**
 * Every `Jitter`, in a fixed order (handy for schemas and tests).
 *
 * @since 0.1.0
 * @category models
 */
export const jitters = ["none", "proportional", "full", "equal", "decorrelated"] as const satisfies ReadonlyArray<
  Jitter
>

/**
 * The shape of a backoff: `raw_n = min(cap, base * factor^n)` for retry `n = 0, 1, 2, ...`, then jitter.
 *
 * @since 0.1.0
 * @category models
 */
export interface BackoffOptions {
  readonly base: Duration.DurationInput
  /** Growth per retry; defaults to 2. Ignored by `"decorrelated"`. */
  readonly factor?: number
  readonly cap: Duration.DurationInput
  readonly jitter: Jitter
}

/**
 * A schedule whose output is the delay it actually waits before the next recurrence; it recurs forever, so bound it with `Schedule.recurs` or `Schedule.upTo`.
 *
 * With `raw_n = min(cap, base * factor^n)`:
 *
 * - `"none"`: `raw_n`
 * - `"proportional"`: `raw_n` times a random factor in [0.8, 1.2) (Effect's `Schedule.jittered`);
 *   note that this one can exceed `cap` by up to 20%
 * - `"full"`: `random(0, raw_n)`
 * - `"equal"`: `raw_n / 2 + random(0, raw_n / 2)`
 * - `"decorrelated"`: `d_0 = min(cap, random(base, base * 3))`, `d_n = min(cap, random(base, d_{n-1} * 3))`
 *   (`factor` is ignored; `d_{n-1}` is the previous delay after rounding)
 *
 * Each result is rounded to the nearest whole millisecond.
 *
 * @since 0.1.0
 * @category constructors
 */
export const exponential = (options: BackoffOptions): Schedule.Schedule<Duration.Duration, unknown> => {
  const capMillis = Duration.toMillis(options.cap)
  if (options.jitter === "decorrelated") {
    return decorrelated(Duration.toMillis(options.base), capMillis)
  }
  const exponential = Schedule.exponential(options.base, options.factor ?? 2)
  const jittered = options.jitter === "proportional"
    ? exponential.pipe(
      Schedule.modifyDelay((_, delay) => Math.min(capMillis, Duration.toMillis(delay))),
      Schedule.jittered,
      Schedule.modifyDelay((_, delay) => Math.round(Duration.toMillis(delay)))
    )
    : Schedule.modifyDelayEffect(exponential, jitterCapped(capMillis, options.jitter))
  return Schedule.delays(jittered)
}

/**
 * Draws the first `n` delays of `exponential(options)` without waiting (uses `Random`; for tests, docs and simulations).
 *
 * @since 0.1.0
 * @category constructors
 */
export const delays = (options: BackoffOptions, n: number): Effect.Effect<Array<Duration.Duration>> =>
  Schedule.run(exponential(options), 0, Array.from({ length: Math.max(0, n) }, () => undefined)).pipe(
    Effect.map(Chunk.toArray)
  )

/** cap, then jitter, then round to whole milliseconds */
const jitterCapped =
  (capMillis: number, jitter: "none" | "full" | "equal") =>
  (_: unknown, delay: Duration.Duration): Effect.Effect<number> => {
    const raw = Math.min(capMillis, Duration.toMillis(delay))
    switch (jitter) {
      case "none":
        return Effect.succeed(Math.round(raw))
      case "full":
        return Effect.map(Random.nextRange(0, raw), Math.round)
      case "equal":
        return Effect.map(Random.nextRange(0, raw / 2), (r) => Math.round(raw / 2 + r))
    }
  }

const decorrelated = (baseMillis: number, capMillis: number): Schedule.Schedule<Duration.Duration, unknown> =>
  Schedule.makeWithState(
    baseMillis,
    (now, _: unknown, previous: number) =>
      Effect.map(Random.nextRange(baseMillis, previous * 3), (r) => {
        const delay = Math.round(Math.min(capMillis, r))
        return [
          delay,
          Duration.millis(delay),
          ScheduleDecision.continueWith(ScheduleInterval.after(now + delay))
        ] as const
      })
  )
