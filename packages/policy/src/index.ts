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
 * Circuit breakers with pluggable strategies, observable state and growing break durations.
 *
 * @since 0.1.0
 * @category combinators
 */
export * as CircuitBreaker from "./CircuitBreaker.js"

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

/**
 * Retry budgets that bound retry amplification across calls and reconnects.
 *
 * @since 0.1.0
 * @category models
 */
export * as RetryBudget from "./RetryBudget.js"

/**
 * Where a circuit breaker's state lives when breakers (processes) share it: in memory, or Redis.
 *
 * @since 0.1.0
 * @category models
 */
export * as CircuitBreakerStore from "./CircuitBreakerStore.js"

/**
 * Where a retry budget's tokens live when clients (processes) share one bucket per server.
 *
 * @since 0.1.0
 * @category models
 */
export * as RetryBudgetStore from "./RetryBudgetStore.js"

/**
 * A cap on handshakes per second per server, in memory or shared through Redis.
 *
 * @since 0.1.0
 * @category models
 */
export * as HandshakeLimiter from "./HandshakeLimiter.js"
