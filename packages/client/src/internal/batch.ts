/**
 * Runs a batch of effects at most `concurrency` at once and collects each one's outcome in order:
 * what `Effect.forEach(items, (item) => Effect.either(run(item)), { concurrency })` gives, with
 * one fiber per item started on the caller's runtime (its context, its span, its fiber refs) and
 * one `Effect.async` waiting for them all, instead of `forEach`'s per-item bookkeeping (its join
 * of every child's fiber refs back into the caller, which a batch of calls has no use for).
 *
 * Interrupting the batch interrupts the calls in flight and starts no more; the batch ends once
 * they have.
 *
 * @internal
 */
import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Runtime from "effect/Runtime"

/** @internal */
export const forEachEither = <I, A, E>(
  items: ReadonlyArray<I>,
  run: (item: I) => Effect.Effect<A, E>,
  concurrency: number | "unbounded"
): Effect.Effect<Array<Either.Either<A, E>>> =>
  items.length === 0 ?
    Effect.succeed([]) :
    Effect.flatMap(Effect.runtime<never>(), (runtime) =>
      Effect.async<Array<Either.Either<A, E>>>((resume) => {
        const runFork = Runtime.runFork(runtime)
        const limit = concurrency === "unbounded" ? items.length : Math.max(1, Math.min(concurrency, items.length))
        const results = new Array<Either.Either<A, E>>(items.length)
        const inFlight = new Set<Fiber.RuntimeFiber<A, E>>()
        let next = 0
        let done = 0
        let stopped = false
        const start = (): void => {
          const index = next++
          const fiber = runFork(run(items[index]))
          inFlight.add(fiber)
          fiber.addObserver((exit: Exit.Exit<A, E>) => {
            inFlight.delete(fiber)
            if (stopped) return
            if (exit._tag === "Success") {
              results[index] = Either.right(exit.value)
            } else if (exit.cause._tag === "Fail") {
              results[index] = Either.left(exit.cause.error)
            } else {
              // a defect or an interruption of the call itself: the batch fails with it, as `forEach` would
              stopped = true
              for (const other of inFlight) other.unsafeInterruptAsFork(fiber.id())
              resume(Effect.failCause(exit.cause as Cause.Cause<never>))
              return
            }
            done++
            if (done === items.length) resume(Effect.succeed(results))
            else if (next < items.length) start()
          })
        }
        for (let i = 0; i < limit; i++) start()
        return Effect.suspend(() => {
          stopped = true
          return Fiber.interruptAll(inFlight)
        })
      }))
