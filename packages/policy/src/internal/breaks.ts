/**
 * The break durations of a circuit breaker: a fixed duration, or the outputs of a `Schedule`.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"

/**
 * The break durations, drawn one ahead so that opening is synchronous: `next` is the duration of
 * the next opening, `advance` draws the one after, `reset` starts the schedule again.
 *
 * @internal
 */
export interface Breaks {
  next: number
  readonly advance: (now: number) => Effect.Effect<void>
  readonly reset: (now: number) => Effect.Effect<void>
}

/** @internal */
export const makeBreaks = (
  breakDuration: Duration.DurationInput | Schedule.Schedule<Duration.Duration, unknown>,
  now: number
): Effect.Effect<Breaks> => {
  if (!Schedule.isSchedule(breakDuration)) {
    const millis = Duration.toMillis(breakDuration)
    return Effect.succeed({ next: millis, advance: () => Effect.void, reset: () => Effect.void })
  }
  const schedule = breakDuration as Schedule.Schedule<Duration.Duration, unknown>
  let state: unknown = schedule.initial
  let done = false
  let first = true
  // Bumped by `reset`, so that a step started before it cannot overwrite what follows.
  let generation = 0
  const step = (now: number): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (done) return Effect.void
      const started = generation
      return Effect.map(schedule.step(now, undefined, state), ([nextState, output, decision]) => {
        if (started !== generation) return
        state = nextState
        if (ScheduleDecision.isDone(decision)) {
          done = true
          if (!first) return
        }
        first = false
        breaks.next = Duration.toMillis(output)
      })
    })
  const breaks: Breaks = {
    next: 0,
    advance: step,
    reset: (now) =>
      Effect.suspend(() => {
        generation++
        state = schedule.initial
        done = false
        first = true
        return step(now)
      })
  }
  return Effect.as(step(now), breaks)
}
