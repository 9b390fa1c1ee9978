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
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

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

/**
 * A task a call is waiting for: enough to poll it again after a restart.
 *
 * @since 0.1.0
 * @category models
 */
export interface TaskRecord {
  readonly server: string
  readonly tool: string
  readonly taskId: string
  /** When the task was created, in milliseconds on the layer's clock. */
  readonly createdAt: number
}

/**
 * Where the tasks being awaited are kept: written when a task is created, removed when its call
 * ends. A program that restarts lists the tasks of a server and resumes them with
 * `McpTools.awaitTask`. Provide a durable implementation (a file, Redis) with `Layer.succeed`.
 *
 * @since 0.1.0
 * @category models
 */
export interface TaskStoreService {
  readonly put: (record: TaskRecord) => Effect.Effect<void>
  readonly remove: (server: string, taskId: string) => Effect.Effect<void>
  readonly list: (server: string) => Effect.Effect<ReadonlyArray<TaskRecord>>
}

/**
 * The optional task store service; without it each `McpTools` keeps its tasks in memory.
 *
 * @since 0.1.0
 * @category models
 */
export class TaskStore extends Context.Tag("@mcp-resilience/client/TaskStore")<TaskStore, TaskStoreService>() {}

/**
 * A task store in memory (the default when none is provided).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemoryStore = (): TaskStoreService => {
  const records = new Map<string, TaskRecord>()
  const key = (server: string, taskId: string) => `${server}\u0000${taskId}`
  return {
    put: (record) => Effect.sync(() => void records.set(key(record.server, record.taskId), record)),
    remove: (server, taskId) => Effect.sync(() => void records.delete(key(server, taskId))),
    list: (server) => Effect.sync(() => [...records.values()].filter((record) => record.server === server))
  }
}

/**
 * A layer with an in-memory {@link TaskStore}, shared by every `McpTools` that uses it.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<TaskStore> = Layer.sync(TaskStore, makeMemoryStore)
