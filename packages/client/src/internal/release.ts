/**
 * Steps of a release, bounded in time.
 *
 * @internal
 */
import type * as Cause from "effect/Cause"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"

/**
 * Adds `finalizer` to the current scope, as `Effect.addFinalizer` does, but runs it with the
 * fiber refs of the fiber that closes the scope.
 *
 * `Effect.addFinalizer` (and so `Effect.acquireRelease`) captures the fiber refs of the fiber
 * that registers it, installs them in the closing fiber around the finalizer, and then patches
 * them back. When the two fibers differ (a connect attempt runs in a fiber of its own, raced
 * against its timeout; the session's scope is closed by the caller), each round trip leaves
 * the registering fiber's entries in the closing fiber's `currentContext` stack: a program that
 * opened and closed sessions in a loop saw that stack grow by two or three entries per session,
 * and every later fork, join and context change copy or walk it (connect + close went from
 * 2 ms to 6 ms per session over 1,500 sessions). Our finalizers need nothing from the
 * registering fiber's refs: they log with explicit annotations and run on the closing
 * fiber's Clock, which is the program's.
 *
 * @internal
 */
export const addFinalizer = <X>(finalizer: Effect.Effect<X>): Effect.Effect<void, never, Scope.Scope> =>
  Effect.flatMap(Effect.scope, (scope) => Scope.addFinalizer(scope, finalizer))

/**
 * `Effect.acquireRelease` with the release added by {@link addFinalizer}.
 *
 * @internal
 */
export const acquireRelease = <A, E, R, X>(
  acquire: Effect.Effect<A, E, R>,
  release: (a: A) => Effect.Effect<X>
): Effect.Effect<A, E, R | Scope.Scope> =>
  Effect.uninterruptible(Effect.tap(acquire, (a) => addFinalizer(Effect.suspend(() => release(a)))))

/**
 * Runs `step` for at most `duration`, inside a release (which runs uninterruptibly): the
 * step itself is made interruptible, or the time bound could not end it (a DELETE the
 * server never answers, a process that does not exit), and it runs in a fiber of its own,
 * joined uninterruptibly, because an interruption of the releasing fiber is passed on to
 * its child fibers: an interrupted program would cut its release short (no SIGTERM, no
 * SIGKILL, no DELETE) instead of waiting for it. Past the bound it fails with a
 * `TimeoutException`. The fiber itself ends with the step's exit as its value, never in failure,
 * so a failure is not also reported as "Fiber terminated with an unhandled error".
 *
 * @internal
 */
export const bounded = <A, E>(
  step: Effect.Effect<A, E>,
  duration: Duration.DurationInput
): Effect.Effect<A, E | Cause.TimeoutException> =>
  Effect.forkDaemon(Effect.exit(Effect.timeout(Effect.interruptible(step), duration))).pipe(
    Effect.flatMap(Fiber.join),
    Effect.flatten
  )
