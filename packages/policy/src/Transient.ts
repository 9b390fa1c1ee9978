/**
 * A protocol that lets any error say whether it is worth retrying and how long the
 * other side asked to wait, without `@mcp-resilience/policy` knowing about MCP.
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
 * An error that knows whether a retry may succeed, and optionally how long to wait first.
 *
 * @since 0.1.0
 * @category models
 */
export interface Transient {
  readonly [TransientTypeId]: boolean
  readonly [RetryAfterTypeId]?: Duration.Duration | undefined
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
