/**
 * Steps of a release, bounded in time.
 *
 * @internal
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"

/**
 * Runs `step` for at most `duration`, inside a release (which runs uninterruptibly): the
 * step itself is made interruptible, or the time bound could not end it (a DELETE the
 * server never answers, a process that does not exit), and it runs in a fiber of its own,
 * joined uninterruptibly, because an interruption of the releasing fiber is passed on to
 * its child fibers: an interrupted program would cut its release short (no SIGTERM, no
 * SIGKILL, no DELETE) instead of waiting for it.
 *
 * @internal
 */
export const bounded = <A, E, B>(
  step: Effect.Effect<A, E>,
  duration: Duration.DurationInput,
  onTimeout: () => B
): Effect.Effect<A | B, E> =>
  Effect.forkDaemon(
    Effect.timeoutTo(Effect.interruptible(step), { duration, onTimeout, onSuccess: (a: A): A | B => a })
  ).pipe(Effect.flatMap(Fiber.join))
