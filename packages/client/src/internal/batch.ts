/**
 * Runs a batch at most `concurrency` items at once and collects each one's outcome in order:
 * what `Effect.forEach(items, (item) => Effect.either(run(item)), { concurrency })` gives, in one
 * `Effect.async` of the caller's fiber.
 *
 * Each item is started by a {@link Begin} function, from the caller's fiber, and hands back the
 * rest of its work as an Effect: an `Exit` when it is over (recorded at once, no fiber), or an
 * Effect still to run, which gets a fiber of its own on the caller's runtime (its context, its
 * span, its fiber refs). `Effect.forEach` would start a fiber per item and join every child's
 * fiber refs back into the caller, which a batch of calls has no use for.
 *
 * Interrupting the batch cancels the items in flight and starts no more; the batch ends once
 * their fibers have.
 *
 * @internal
 */
import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Runtime from "effect/Runtime"

/**
 * Starts `item` from `fiber` and calls `done` once with the rest of its work, unless the returned
 * canceller runs first. @internal
 */
export type Begin<I, A, E> = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  item: I,
  done: (rest: Effect.Effect<A, E>) => void
) => (() => void) | undefined

/** @internal */
export const forEachEither = <I, A, E>(
  items: ReadonlyArray<I>,
  begin: Begin<I, A, E>,
  concurrency: number | "unbounded"
): Effect.Effect<Array<Either.Either<A, E>>> =>
  items.length === 0 ?
    Effect.succeed([]) :
    Effect.flatMap(Effect.runtime<never>(), (runtime) =>
      Effect.withFiberRuntime((fiber) =>
        Effect.async<Array<Either.Either<A, E>>>((resume) => {
          const runFork = Runtime.runFork(runtime)
          const limit = concurrency === "unbounded" ? items.length : Math.max(1, Math.min(concurrency, items.length))
          const results = new Array<Either.Either<A, E>>(items.length)
          /** Cancellers of the items started from here and not yet done. */
          const started = new Map<number, () => void>()
          /** Fibers of the items whose rest is still running. */
          const running = new Set<Fiber.RuntimeFiber<A, E>>()
          let next = 0
          let done = 0
          let stopped = false
          /** Cancels the items in flight; one canceller's failure does not keep the others from running. */
          const cancelStarted = (): void => {
            const cancels = [...started.values()]
            started.clear()
            for (const cancel of cancels) {
              try {
                cancel()
              } catch {
                // the item is abandoned either way
              }
            }
          }
          /** Whether `pump` is on the stack: an item that ends at once is followed by the loop, not by recursion. */
          let pumping = false
          const record = (index: number, exit: Exit.Exit<A, E>): void => {
            if (stopped) {
              return
            }
            if (exit._tag === "Success") {
              results[index] = Either.right(exit.value)
            } else if (exit.cause._tag === "Fail") {
              results[index] = Either.left(exit.cause.error)
            } else {
              // a defect or an interruption of the item itself: the batch fails with it, as `forEach` would
              stopped = true
              cancelStarted()
              for (const other of running) {
                other.unsafeInterruptAsFork(fiber.id())
              }
              resume(Effect.failCause(exit.cause as Cause.Cause<never>))
              return
            }
            done++
            if (done === items.length) {
              resume(Effect.succeed(results))
            } else pump()
          }
          const start = (): void => {
            const index = next++
            let handed = false
            const cancel = begin(fiber, items[index], (rest) => {
              handed = true
              started.delete(index)
              if (stopped) {
                return
              }
              if (Exit.isExit(rest)) {
                return record(index, rest as Exit.Exit<A, E>)
              }
              const child = runFork(rest)
              running.add(child)
              child.addObserver((exit) => {
                running.delete(child)
                record(index, exit)
              })
            })
            if (!handed && cancel !== undefined) {
              started.set(index, cancel)
            }
          }
          /** Starts items while fewer than `limit` are in flight. */
          const pump = (): void => {
            if (pumping) {
              return
            }
            pumping = true
            while (!stopped && next < items.length && next - done < limit) {
              start()
            }
            pumping = false
          }
          pump()
          return Effect.suspend(() => {
            stopped = true
            cancelStarted()
            return Fiber.interruptAll(running)
          })
        })
      ))
