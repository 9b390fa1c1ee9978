/**
 * The `mcp-resilience` command line (`probe`, `call`, `watch`, `demo`), and the demo job it runs.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as Cli from "./Cli.js"

/**
 * @since 0.1.0
 */
export * as Demo from "./Demo.js"
