/**
 * The state of a supervised session, published as a `SubscriptionRef` and a `Stream` by
 * `McpTools` so programs and dashboards can follow it.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import type { McpError } from "./McpError.js"

/**
 * - `Connecting`: the first connection is being made (`attempt` of the current run).
 * - `Connected`: a live session (`since` is epoch milliseconds on Effect's Clock).
 * - `Reconnecting`: the session was lost; `attempt` counts attempts since it was lost,
 *   `nextDelay` is the wait before the next one, `lastError` why the last one failed.
 * - `CircuitOpen`: the breaker rejects calls until `retryAfter` has passed.
 * - `Closed`: the layer is shutting down, or gave up on an error that retrying cannot fix.
 *
 * @since 0.1.0
 * @category models
 */
export type Status = Data.TaggedEnum<{
  Connecting: { readonly attempt: number }
  Connected: { readonly sessionId: string | undefined; readonly pid: number | undefined; readonly since: number }
  Reconnecting: { readonly attempt: number; readonly nextDelay: Duration.Duration; readonly lastError: McpError }
  CircuitOpen: { readonly retryAfter: Duration.Duration }
  Closed: { readonly error: McpError | undefined }
}>

/**
 * Constructors and matchers: `Status.Connected({ ... })`, `Status.$is("Connected")(s)`, `Status.$match`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Status = Data.taggedEnum<Status>()
