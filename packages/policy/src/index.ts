/**
 * Backoff schedules, retry policies and the transient-error protocol for Effect.
 *
 * @since 0.1.0
 */

/**
 * Capped exponential backoff schedules with AWS-style jitter.
 *
 * @since 0.1.0
 * @category constructors
 */
export * as Backoff from "./Backoff.js"

/**
 * Retry policies as plain, decodable data, and the `retry` combinator.
 *
 * @since 0.1.0
 * @category combinators
 */
export * as RetryPolicy from "./RetryPolicy.js"

/**
 * The protocol by which an error says it is transient and carries a `Retry-After`.
 *
 * @since 0.1.0
 * @category guards
 */
export * as Transient from "./Transient.js"
