/**
 * Running our side: each step is its own `Effect.runPromise`, with logs off (a thousand
 * "connected" lines would cost more than what is measured).
 */
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"

/** Runs `effect` with every log below `None` dropped; fibers it forks inherit that. */
export const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> =>
  Effect.runPromise(effect.pipe(Logger.withMinimumLogLevel(LogLevel.None)))

/** `performance.now()` around `f`. */
export const timed = async <A>(f: () => Promise<A>): Promise<readonly [A, number]> => {
  const start = performance.now()
  const a = await f()
  return [a, performance.now() - start] as const
}
