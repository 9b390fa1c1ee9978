import { RetryPolicy } from "@mcp-resilience/policy"
import { Processes } from "@mcp-resilience/testing"
import { Cause, Effect, Exit, Option } from "effect"

/** No jitter: the delays are exactly 1 s, 2 s, 4 s, ... */
export const policy = RetryPolicy.make({
  maxAttempts: 5,
  base: "1 second",
  factor: 2,
  cap: "10 seconds",
  jitter: "none",
  attemptTimeout: "30 seconds",
  deadline: "60 seconds"
})

/** The same shape in milliseconds, for tests against real processes. */
export const fast = RetryPolicy.make({
  maxAttempts: 4,
  base: "20 millis",
  factor: 2,
  cap: "200 millis",
  jitter: "none",
  attemptTimeout: "10 seconds",
  deadline: "30 seconds"
})

export const failureOf = <A, E>(exit: Exit.Exit<A, E>): E | undefined =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined

/** PIDs of live (not zombie) processes whose command line contains `token`. */
export const processesMentioning = Processes.mentioning

/** Polls `condition` on the wall clock, bounded; for tests that wait on a real process. */
export const eventually = (condition: () => boolean, what: string, timeoutMs = 10_000) =>
  Effect.promise(async () => {
    const start = Date.now()
    while (!condition()) {
      if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  })
