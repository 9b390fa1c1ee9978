/**
 * Tasks (the experimental extension of MCP 2025-11-25): a tool that declares
 * `execution.taskSupport` answers a call with a task handle; the library then polls `tasks/get`
 * at the server's suggested interval, kept within the bounds below, and fetches the result with
 * `tasks/result`. The caller sees an ordinary call.
 *
 * ```ts
 * const options: McpTasks.TaskOptions = { minPollInterval: "500 millis", maxPollInterval: "5 seconds" }
 * ```
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"

/**
 * @since 0.1.0
 * @category models
 */
export interface TaskOptions {
  /** The shortest wait between two polls, whatever the server suggests. Default 250 ms. */
  readonly minPollInterval?: Duration.DurationInput | undefined
  /** The longest wait between two polls, whatever the server suggests. Default 10 seconds. */
  readonly maxPollInterval?: Duration.DurationInput | undefined
  /** The wait between polls when the server suggests none. Default 1 second. */
  readonly defaultPollInterval?: Duration.DurationInput | undefined
  /** The time-to-live asked for each task (the server may choose another). Default: the server's choice. */
  readonly ttl?: Duration.DurationInput | undefined
  /**
   * Use tasks for tools that offer them (`taskSupport: "optional"`) as well as for those that
   * require them. Default `true`.
   */
  readonly preferTasks?: boolean | undefined
}

/**
 * The default bounds and interval of polling.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaults = {
  minPollInterval: "250 millis",
  maxPollInterval: "10 seconds",
  defaultPollInterval: "1 second"
} as const
