/**
 * A protocol that lets any error say whether it is worth retrying, how long the other side
 * asked to wait and whether it is a timeout, without `@mcp-resilience/policy` knowing about MCP.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Predicate from "effect/Predicate"

/**
 * The key under which an error states whether it is transient.
 *
 * @since 0.1.0
 * @category models
 */
export const TransientTypeId: unique symbol = Symbol.for("@mcp-resilience/policy/Transient")

/**
 * @since 0.1.0
 * @category models
 */
export type TransientTypeId = typeof TransientTypeId

/**
 * The key under which an error carries a server's `Retry-After`.
 *
 * @since 0.1.0
 * @category models
 */
export const RetryAfterTypeId: unique symbol = Symbol.for("@mcp-resilience/policy/RetryAfter")

/**
 * @since 0.1.0
 * @category models
 */
export type RetryAfterTypeId = typeof RetryAfterTypeId

/**
 * The key under which an error says it is a timeout: `true` makes a retry after it cost a retry
 * budget's `"timeout"` price (see `RetryPolicy.isTimeoutError`).
 *
 * Another package marks its timeout error with it, without `@mcp-resilience/policy` knowing the
 * error's name: `get [Transient.TimeoutTypeId]() { return true }`.
 *
 * @since 0.1.0
 * @category models
 */
export const TimeoutTypeId: unique symbol = Symbol.for("@mcp-resilience/policy/Timeout")

/**
 * @since 0.1.0
 * @category models
 */
export type TimeoutTypeId = typeof TimeoutTypeId

/**
 * Marks an error raised before anything was sent: a circuit breaker rejected the attempt. Its retry
 * costs a retry budget nothing (the server saw no request; the breaker, through `Retry-After`,
 * already sets the pace), so a fleet whose breaker is open does not spend its shared budget on
 * rejections and still has retries when the server is back.
 *
 * @since 0.1.0
 * @category models
 */
export const RejectedTypeId: unique symbol = Symbol.for("@mcp-resilience/policy/Rejected")

/**
 * @since 0.1.0
 * @category models
 */
export type RejectedTypeId = typeof RejectedTypeId

/**
 * An error that knows whether a retry may succeed, and optionally how long to wait first.
 *
 * @since 0.1.0
 * @category models
 */
export interface Transient {
  readonly [TransientTypeId]: boolean
  readonly [RetryAfterTypeId]?: Duration.Duration | undefined
  readonly [TimeoutTypeId]?: boolean | undefined
  readonly [RejectedTypeId]?: boolean | undefined
}

/**
 * `true` when `u` declares itself transient. Values that do not implement the protocol
 * (plain `Error`s, strings, defects) are not transient: retrying what we cannot classify
 * would repeat side effects blindly.
 *
 * @since 0.1.0
 * @category guards
 */
export const isTransient = (u: unknown): boolean =>
  Predicate.hasProperty(u, TransientTypeId) && (u as Transient)[TransientTypeId] === true

/**
 * The `Retry-After` an error carries, if any.
 *
 * @since 0.1.0
 * @category guards
 */
export const retryAfter = (u: unknown): Duration.Duration | undefined => {
  if (!Predicate.hasProperty(u, RetryAfterTypeId)) return undefined
  const value = (u as Transient)[RetryAfterTypeId]
  return Duration.isDuration(value) ? value : undefined
}

/**
 * `true` when `u` says it was raised before anything was sent (see {@link RejectedTypeId}).
 *
 * @since 0.1.0
 * @category guards
 */
export const isRejected = (u: unknown): boolean =>
  Predicate.hasProperty(u, RejectedTypeId) && (u as Transient)[RejectedTypeId] === true
