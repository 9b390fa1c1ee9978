/**
 * What a reliability test counts as a leak, and how it looks for one:
 *
 * - processes: live (not zombie) processes whose command line contains a token unique to the test (a `/proc` scan);
 * - handles: `process.getActiveResourcesInfo()` counted per type (`TCPSocketWrap`, `PipeWrap`, `ProcessWrap`,
 *   `Timeout`, ...), compared with a baseline taken before the test's servers started. Closing a socket or a listener
 *   takes a turn or two of the event loop, so the check polls (every 20 ms, up to a bound) until no type is above
 *   its baseline; nothing is excluded and no excess is tolerated;
 * - fibers: those forked by the program under test, tracked with `Supervisor.track`, still alive after it ended.
 */
import { Effect, type Supervisor } from "effect"
import { processesMentioning } from "../utils.js"

/** PIDs of live (not zombie) processes whose command line contains `token` (the kit's tests' helper). */
export { processesMentioning }

/** Kills (SIGKILL) every process mentioning `token`: cleanup after a failed test, never the check itself. */
export const killMentioning = (token: string): void => {
  for (const pid of processesMentioning(token)) {
    try {
      process.kill(pid, "SIGKILL")
    } catch {
      // gone
    }
  }
}

/** Active resources by type. */
export type Resources = Readonly<Record<string, number>>

export const resources = (): Resources => {
  const counts: Record<string, number> = {}
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1
  return counts
}

/** `["2 TCPSocketWrap", ...]`: the types above their baseline. */
export const excess = (baseline: Resources, now: Resources): Array<string> =>
  Object.entries(now)
    .filter(([type, n]) => n > (baseline[type] ?? 0))
    .map(([type, n]) => `${n - (baseline[type] ?? 0)} ${type}`)
    .sort()

/** One turn of the event loop. */
const nextTurn: Effect.Effect<void> = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

/** A real-time wait, whatever Clock the caller runs on. */
export const realSleep = (millis: number): Effect.Effect<void> =>
  Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, millis)))

/** Polls (real time) until `check` returns an empty list or `timeoutMillis` passed; returns the last list. */
export const pollUntilEmpty = (
  check: () => ReadonlyArray<string>,
  timeoutMillis: number
): Effect.Effect<ReadonlyArray<string>> =>
  Effect.gen(function*() {
    const start = Date.now()
    let found = check()
    while (found.length > 0 && Date.now() - start < timeoutMillis) {
      yield* realSleep(20)
      found = check()
    }
    return found
  })

/** Handles above `baseline` once they had `timeoutMillis` to close. */
export const leakedHandles = (baseline: Resources, timeoutMillis = 3_000): Effect.Effect<ReadonlyArray<string>> =>
  pollUntilEmpty(() => excess(baseline, resources()), timeoutMillis)

/** Fibers of `tracked` still alive, once they had `timeoutMillis` (real time) to end. */
export const leakedFibers = (
  tracked: Supervisor.Supervisor<Array<unknown>>,
  timeoutMillis = 1_000
): Effect.Effect<number> =>
  Effect.gen(function*() {
    const start = Date.now()
    let alive = (yield* tracked.value).length
    // fibers that are ending need a few turns of the event loop: spin those first (cheap), then sleep
    for (let turn = 0; alive > 0 && Date.now() - start < timeoutMillis; turn++) {
      yield* (turn < 20 ? nextTurn : realSleep(10))
      alive = (yield* tracked.value).length
    }
    return alive
  })
