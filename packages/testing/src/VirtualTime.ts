/**
 * Helpers that make retry tests short: run an effect under `TestClock`, moving virtual time to each pending sleep
 * until it completes, and report how much virtual time it took; count attempts and when they started.
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import * as TestContext from "effect/TestContext"

/**
 * Options of {@link run}.
 *
 * - `step`: how far to move the clock when the effect is blocked and no sleep is pending (default: never; only
 *   the event loop turns, for in-process I/O such as in-memory transports).
 * - `maxRounds`: rounds (event-loop turns, then one clock move) before giving up; default 10 000.
 * - `maxTime`: virtual time after which to give up; default 24 hours.
 * - `turns`: event-loop turns per round; default 5.
 *
 * @example
 * ```ts
 * import type { VirtualTime } from "@mcp-resilience/testing"
 *
 * const options: VirtualTime.RunOptions = { step: "100 millis", maxTime: "1 hour" }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface RunOptions {
  readonly step?: Duration.DurationInput | undefined
  readonly maxRounds?: number | undefined
  readonly maxTime?: Duration.DurationInput | undefined
  readonly turns?: number | undefined
}

/**
 * What {@link run} reports: the effect's exit, the virtual time it took, and how many times the clock moved.
 *
 * @example
 * ```ts
 * import type { VirtualTime } from "@mcp-resilience/testing"
 * import { Exit } from "effect"
 *
 * const succeededWithin = (result: VirtualTime.Result<unknown, unknown>, millis: number) =>
 *   Exit.isSuccess(result.exit) && result.virtualMillis <= millis
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Result<A, E> {
  readonly exit: Exit.Exit<A, E>
  readonly virtualMillis: number
  readonly clockMoves: number
}

/**
 * An effect that counts its runs (attempts, under a retry) and records the virtual time at which each started.
 *
 * @example
 * ```ts
 * import { VirtualTime } from "@mcp-resilience/testing"
 * import { Effect } from "effect"
 *
 * const attempts: VirtualTime.Attempts<never, string, never> = VirtualTime.attempts(Effect.fail("nope"))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Attempts<A, E, R> {
  readonly effect: Effect.Effect<A, E, R>
  readonly count: () => number
  /** Clock millis at the start of each run (0-based virtual time under a fresh `TestClock`). */
  readonly startedAt: () => ReadonlyArray<number>
}

/**
 * Lets the event loop turn `turns` times (`setImmediate`, no timer), so promise chains and in-process I/O such as
 * in-memory transports make progress while virtual time stands still.
 *
 * @example
 * ```ts
 * import { VirtualTime } from "@mcp-resilience/testing"
 * import { Effect, TestClock } from "effect"
 *
 * const step = Effect.zipRight(VirtualTime.settle(), TestClock.adjust("1 second"))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const settle = (turns = 5): Effect.Effect<void> =>
  Effect.promise(async () => {
    for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve))
  })

/**
 * Settles, moves the `TestClock` by `duration`, and settles again.
 *
 * @example
 * ```ts
 * import { VirtualTime } from "@mcp-resilience/testing"
 *
 * const oneSecondLater = VirtualTime.advance("1 second")
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const advance = (duration: Duration.DurationInput, turns = 5): Effect.Effect<void> =>
  Effect.zipRight(settle(turns), Effect.zipRight(TestClock.adjust(duration), settle(turns)))

const isTestClock = (clock: Clock.Clock): boolean =>
  typeof (clock as Partial<TestClock.TestClock>).sleeps !== "undefined" &&
  typeof (clock as Partial<TestClock.TestClock>).adjust === "function"

/**
 * Runs `effect` in a fiber and drives virtual time until it completes: each round lets the event loop turn, then
 * sets the `TestClock` to the earliest pending sleep (or moves it by `step` when none is pending and a step is
 * given). Returns the exit and the virtual time taken. Uses the `TestClock` in context (`it.effect`), or provides
 * `TestContext` when there is none. Gives up with a defect after `maxRounds` rounds or `maxTime` of virtual time,
 * interrupting the effect. For effects whose waits are on Effect's Clock or in-process I/O; not for real processes
 * or sockets.
 *
 * @example
 * ```ts
 * import { RetryPolicy, Transient } from "@mcp-resilience/policy"
 * import { VirtualTime } from "@mcp-resilience/testing"
 * import { Data, Effect } from "effect"
 *
 * class Busy extends Data.TaggedError("Busy") {
 *   readonly [Transient.TransientTypeId] = true
 * }
 * class TimedOut extends Data.TaggedError("TimedOut") {}
 *
 * const attempts = VirtualTime.attempts(Effect.fail(new Busy()))
 * const policy = RetryPolicy.make({ maxAttempts: 4, base: "1 second", jitter: "none", deadline: "1 minute" })
 * const program = Effect.gen(function*() {
 *   const { virtualMillis } = yield* VirtualTime.run(
 *     RetryPolicy.retry(attempts.effect, policy, { onTimeout: () => new TimedOut() })
 *   )
 *   return { virtualMillis, attempts: attempts.count() } // 7000 (1 s + 2 s + 4 s), 4
 * })
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const run = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  options: RunOptions = {}
): Effect.Effect<Result<A, E>, never, R> => {
  const step = options.step === undefined ? undefined : Duration.decode(options.step)
  const maxRounds = options.maxRounds ?? 10_000
  const maxTime = Duration.toMillis(Duration.decode(options.maxTime ?? Duration.hours(24)))
  const turns = options.turns ?? 5
  const loop = Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    const fiber = yield* Effect.fork(effect)
    let clockMoves = 0
    for (let round = 0; round < maxRounds; round++) {
      yield* settle(turns)
      const polled = yield* Fiber.poll(fiber)
      if (polled._tag === "Some") {
        const now = yield* Clock.currentTimeMillis
        return { exit: polled.value, virtualMillis: now - start, clockMoves } satisfies Result<A, E>
      }
      const now = yield* Clock.currentTimeMillis
      if (now - start > maxTime) break
      const sleeps = yield* TestClock.sleeps()
      const next = Chunk.reduce(sleeps, Number.POSITIVE_INFINITY, (min, at) => Math.min(min, at))
      if (next !== Number.POSITIVE_INFINITY) {
        yield* TestClock.setTime(Math.max(now, next))
        clockMoves++
      } else if (step !== undefined) {
        yield* TestClock.adjust(step)
        clockMoves++
      }
    }
    const now = yield* Clock.currentTimeMillis
    yield* Fiber.interrupt(fiber)
    return yield* Effect.dieMessage(
      `VirtualTime.run: the effect did not complete (virtual time ${now - start} ms, ${clockMoves} clock moves)`
    )
  })
  return Effect.clockWith((clock) => (isTestClock(clock) ? loop : Effect.provide(loop, TestContext.TestContext)))
}

/**
 * Wraps `effect` so that each run is counted and timed; retry `attempts.effect` and read `count()` and
 * `startedAt()` afterwards.
 *
 * @example
 * ```ts
 * import { VirtualTime } from "@mcp-resilience/testing"
 * import { Effect, Schedule } from "effect"
 *
 * const attempts = VirtualTime.attempts(Effect.fail("down"))
 * const program = Effect.gen(function*() {
 *   yield* VirtualTime.run(Effect.retry(attempts.effect, Schedule.spaced("1 second").pipe(Schedule.upTo("3 seconds"))))
 *   return attempts.startedAt() // [0, 1000, 2000, 3000]
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const attempts = <A, E, R>(effect: Effect.Effect<A, E, R>): Attempts<A, E, R> => {
  const times: Array<number> = []
  return {
    effect: Effect.flatMap(Clock.currentTimeMillis, (now) => {
      times.push(now)
      return effect
    }),
    count: () => times.length,
    startedAt: () => [...times]
  }
}
