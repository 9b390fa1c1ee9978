/**
 * Fault injection for MCP: a faulty transport, flaky servers and `TestClock` helpers, to test Effect programs
 * against misbehaving MCP servers.
 *
 * @since 0.1.0
 */

/**
 * A transport wrapper that drops, delays, duplicates, reorders or corrupts messages, closes, or fails to start.
 *
 * @since 0.1.0
 * @category constructors
 */
export * as FaultyTransport from "./FaultyTransport.js"

/**
 * MCP servers that follow a script of failures, in memory, as a stdio child or over HTTP.
 *
 * @since 0.1.0
 * @category constructors
 */
export * as FlakyServer from "./FlakyServer.js"

/**
 * A transports service that fails the first connects with typed errors, then opens the server.
 *
 * @since 0.1.0
 * @category constructors
 */
export * as ScriptedTransports from "./ScriptedTransports.js"

/**
 * Run effects under `TestClock` until they complete; count attempts.
 *
 * @since 0.1.0
 * @category combinators
 */
export * as VirtualTime from "./VirtualTime.js"

/**
 * Leak checks: the live processes whose command line carries a token.
 *
 * @since 0.1.0
 * @category constructors
 */
export * as Processes from "./Processes.js"
