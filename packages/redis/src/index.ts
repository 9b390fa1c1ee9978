/**
 * Fleet-wide circuit breakers, retry budgets and handshake limits for mcp-resilience, through Redis.
 *
 * @since 0.1.0
 */

/**
 * The Redis layer that provides `CircuitBreakerStore`, `RetryBudgetStore` and `HandshakeLimiter`
 * to every client of the program, and its status.
 *
 * @since 0.1.0
 * @category layers
 */
export * as RedisFleet from "./RedisFleet.js"
