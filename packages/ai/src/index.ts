/**
 * MCP tools for `@effect/ai`: a toolkit per model turn from the servers' current tools, typed
 * failures the model can read, at-most-once calls, and a scripted model for tests.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as McpAgent from "./McpAgent.js"

/**
 * @since 0.1.0
 */
export { McpToolkit } from "./McpToolkit.js"

/**
 * The types of the `McpToolkit` module (service, options, tool info, results, failures).
 *
 * @since 0.1.0
 */
export type * as McpToolkitTypes from "./McpToolkit.js"

/**
 * @since 0.1.0
 */
export * as ScriptedModel from "./ScriptedModel.js"
