/**
 * Progress of tool calls: the request settings a call's options imply, and the `Stream` of
 * `McpTools.callWithProgress`.
 *
 * @internal
 */
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { constVoid } from "effect/Function"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import { CallEvent, type Progress, PROGRESS_BUFFER } from "../McpProgress.js"
import type { CallOptions } from "../McpTools.js"
import type { RequestProgress } from "./session.js"

export type { Progress }

/** An attempt with `resetTimeoutOnProgress` and no `maxTotalTimeout` lasts at most this many timeouts. */
const DEFAULT_MAX_TOTAL_FACTOR = 10

/**
 * What a call does with progress: nothing (no progress token is sent) unless it listens or
 * resets its deadline on progress. @internal
 */
export const progressOf = (
  timeoutMillis: number,
  options: CallOptions | undefined,
  onProgress: ((progress: Progress) => void) | undefined
): RequestProgress | undefined => {
  const reset = options?.resetTimeoutOnProgress === true
  if (!reset && onProgress === undefined) return undefined
  return {
    onProgress: onProgress ?? constVoid,
    resetTimeout: reset
      ? {
        maxTotalMillis: options?.maxTotalTimeout === undefined
          ? timeoutMillis * DEFAULT_MAX_TOTAL_FACTOR
          : Duration.toMillis(Duration.decode(options.maxTotalTimeout))
      }
      : undefined
  }
}

type Item = CallEvent | Exit.Exit<CallToolResult, unknown>

/**
 * The events of one call: its progress, in order, then its result. Progress waits in a sliding
 * queue of {@link PROGRESS_BUFFER} (a server that floods a slow reader loses the oldest progress,
 * never the result); the call runs in the stream's scope, so ending the stream cancels it.
 *
 * @internal
 */
export const eventsOf = <E>(
  call: (onProgress: (progress: Progress) => void) => Effect.Effect<CallToolResult, E>
): Stream.Stream<CallEvent, E> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const queue = yield* Queue.sliding<Item>(PROGRESS_BUFFER)
    yield* call((progress) => {
      Queue.unsafeOffer(queue, CallEvent.Progress(progress))
    }).pipe(
      Effect.exit,
      Effect.flatMap((exit) => Queue.offer(queue, exit)),
      Effect.forkScoped
    )
    return Stream.fromQueue(queue).pipe(
      Stream.takeUntil(Exit.isExit),
      Stream.mapEffect((item): Effect.Effect<CallEvent, E> =>
        Exit.isExit(item)
          ? Effect.map(item as Exit.Exit<CallToolResult, E>, (result) => CallEvent.Result({ result }))
          : Effect.succeed(item)
      )
    )
  }))
