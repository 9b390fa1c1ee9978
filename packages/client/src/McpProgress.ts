/**
 * Progress of long tool calls: what the server reports (`notifications/progress`), and the events
 * of `McpTools.callWithProgress`, a `Stream` of progress then the result.
 *
 * ```ts
 * const logProgress = (event: McpProgress.CallEvent) =>
 *   McpProgress.CallEvent.$match(event, {
 *     Progress: ({ progress, total }) => Effect.log(`${progress} of ${total ?? "?"}`),
 *     Result: ({ result }) => Effect.log(`done: ${result.content.length} item(s)`)
 *   })
 * ```
 *
 * @since 0.1.0
 */
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js"
import * as Data from "effect/Data"

/**
 * One progress notification: `progress` grows with each one; `total` and `message` when the
 * server gives them.
 *
 * @since 0.1.0
 * @category models
 */
export interface Progress {
  readonly progress: number
  readonly total?: number | undefined
  readonly message?: string | undefined
}

/**
 * An event of `McpTools.callWithProgress`: any number of `Progress`, in the order the server sent
 * them, then one `Result`.
 *
 * @since 0.1.0
 * @category models
 */
export type CallEvent = Data.TaggedEnum<{
  Progress: Progress
  Result: { readonly result: CallToolResult }
}>

/**
 * Constructors, guards (`$is`) and `$match` for {@link CallEvent}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const CallEvent = Data.taggedEnum<CallEvent>()

/**
 * How many progress events `callWithProgress` keeps for a consumer that reads slower than the
 * server reports: past it the oldest are dropped (the result never is).
 *
 * @since 0.1.0
 * @category constructors
 */
export const PROGRESS_BUFFER = 64
