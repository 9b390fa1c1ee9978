/**
 * MCP servers as Effect Layers: connect under a retry policy, call tools with deadlines and
 * typed errors, and always clean up.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as McpAuth from "./McpAuth.js"

/**
 * @since 0.1.0
 */
export * as McpClient from "./McpClient.js"

/**
 * @since 0.1.0
 */
export * as McpError from "./McpError.js"

/**
 * @since 0.1.0
 */
export * as McpHandlers from "./McpHandlers.js"

/**
 * @since 0.1.0
 */
export * as McpMetrics from "./McpMetrics.js"

/**
 * @since 0.1.0
 */
export * as McpProgress from "./McpProgress.js"

/**
 * @since 0.1.0
 */
export * as McpServerConfig from "./McpServerConfig.js"

/**
 * @since 0.1.0
 */
export * as McpStatus from "./McpStatus.js"

/**
 * @since 0.1.0
 */
export { McpToolset } from "./McpToolset.js"

/**
 * The types of the `McpToolset` module (service, options, entries).
 *
 * @since 0.1.0
 */
export type * as McpToolsetTypes from "./McpToolset.js"

/**
 * @since 0.1.0
 */
export * as McpTasks from "./McpTasks.js"

/**
 * @since 0.1.0
 */
export * as McpToolsetConfig from "./McpToolsetConfig.js"

/**
 * @since 0.1.0
 */
export * as McpTransport from "./McpTransport.js"

/**
 * @since 0.1.0
 */
export { McpTools } from "./McpTools.js"

/**
 * The types of the `McpTools` module (service, options, errors).
 *
 * @since 0.1.0
 */
export type * as McpToolsTypes from "./McpTools.js"

/**
 * @since 0.1.0
 */
export {
  McpAuthError,
  McpCircuitOpenError,
  McpConfigError,
  McpConnectError,
  McpDecodeError,
  McpProtocolError,
  McpTimeoutError,
  McpToolError
} from "./McpError.js"
