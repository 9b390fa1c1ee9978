/**
 * Task-based tool calls (MCP 2025-11-25, experimental). The call pipeline creates the task with
 * one `tools/call` (retried only while that is safe, like any call); from then on the task id is
 * the call, and only polling is retried:
 *
 * 1. `tasks/get` on the live session (or the next one: the id outlives a reconnect), retried
 *    under the call policy while its failure is transient;
 * 2. `working`: wait the server's `pollInterval`, kept within `[minPollInterval, maxPollInterval]`
 *    (`defaultPollInterval` when the server suggests none), and poll again;
 * 3. `input_required`, `completed`, `failed`: `tasks/result`, which delivers the server's queued
 *    requests (elicitation: the session's handlers answer them) and then the result;
 * 4. `cancelled`: `McpToolError` `TaskCancelled`; an id the server no longer knows (expired,
 *    unknown, lost with the server's memory): `McpToolError` `TaskNotFound`, never retried;
 * 5. the caller interrupted: `tasks/cancel` (bounded) before the interruption completes.
 *
 * @internal
 */
import { RetryPolicy } from "@mcp-resilience/policy"
import type { CallToolResult, Task, Tool } from "@modelcontextprotocol/sdk/types.js"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { isTransient, McpTimeoutError, McpToolError } from "../McpError.js"
import { defaults, type TaskOptions, type TaskStoreService } from "../McpTasks.js"
import type { CallError } from "./call.js"
import type { RequestError, Session } from "./session.js"
import type { Supervisor } from "./supervisor.js"

/** A task the server created for a call: what the pipeline hands to {@link awaitTask}. @internal */
export interface TaskCreated {
  readonly _tag: "TaskCreated"
  readonly task: Task
}

/** @internal */
export const isTaskCreated = (u: unknown): u is TaskCreated => (u as TaskCreated)?._tag === "TaskCreated"

/** Every task setting, decided, in milliseconds. @internal */
export interface TaskSettings {
  readonly minPollMillis: number
  readonly maxPollMillis: number
  readonly defaultPollMillis: number
  readonly ttlMillis: number | undefined
  readonly preferTasks: boolean
}

const millis = (d: Duration.DurationInput) => Duration.toMillis(Duration.decode(d))

/** @internal */
export const settingsOf = (options: TaskOptions | undefined): TaskSettings => ({
  minPollMillis: millis(options?.minPollInterval ?? defaults.minPollInterval),
  maxPollMillis: millis(options?.maxPollInterval ?? defaults.maxPollInterval),
  defaultPollMillis: millis(options?.defaultPollInterval ?? defaults.defaultPollInterval),
  ttlMillis: options?.ttl === undefined ? undefined : millis(options.ttl),
  preferTasks: options?.preferTasks ?? true
})

/** Whether a call of `tool` on `session` goes through a task. @internal */
export const usesTask = (session: Session, tool: Tool | undefined, settings: TaskSettings): boolean => {
  if (session.capabilities?.tasks?.requests?.tools?.call === undefined) return false
  const support = (tool as { execution?: { taskSupport?: string } } | undefined)?.execution?.taskSupport
  return support === "required" || (support === "optional" && settings.preferTasks)
}

/** The wait before the next poll: the server's suggestion within the bounds. @internal */
export const pollDelay = (task: Task, settings: TaskSettings): number =>
  Math.min(settings.maxPollMillis, Math.max(settings.minPollMillis, task.pollInterval ?? settings.defaultPollMillis))

/** How long `tasks/result` may take: it waits for the task to end, and for the user to answer. */
const RESULT_TIMEOUT_MIN = 10 * 60_000
/** How long interruption waits for `tasks/cancel`. */
const CANCEL_TIMEOUT = 5_000

/** @internal */
export interface TaskContext {
  readonly supervisor: Supervisor
  readonly policy: RetryPolicy.RetryPolicy
  readonly settings: TaskSettings
  /** Where the task is kept while it is awaited (written at the start, removed at the end). */
  readonly store: TaskStoreService
}

/**
 * Polls the task until it ends and returns its result; interrupting it cancels the task on the
 * server. @internal
 */
export const awaitTask = (
  context: TaskContext,
  tool: string,
  created: Task,
  timeoutMillis: number
): Effect.Effect<CallToolResult, CallError> => {
  const { policy, settings, supervisor } = context
  const server = supervisor.server
  const taskId = created.taskId

  /** One request on the live session, or the next one: a task id is not lost with a session. */
  const onSession = <A>(operation: string, f: (session: Session) => Effect.Effect<A, RequestError>) =>
    Effect.suspend(() => {
      const live = supervisor.current()
      return Effect.flatMap(
        live === undefined ? supervisor.awaitSession(timeoutMillis, `${operation} ${taskId}`) : Effect.succeed(live),
        (live) => f(live.session)
      )
    })

  const notFound = (error: CallError): CallError =>
    error._tag === "McpProtocolError" && error.code === -32602
      ? new McpToolError({ server, tool, reason: "TaskNotFound", content: [], taskId })
      : error

  /** Polling reads state: retried under the call policy while the failure is transient. */
  const retried = <A>(
    operation: string,
    f: (session: Session) => Effect.Effect<A, RequestError>
  ): Effect.Effect<A, CallError> => {
    const once: Effect.Effect<A, CallError> = Effect.mapError(onSession(operation, f), notFound)
    return RetryPolicy.retry(once, policy, {
      while: (error: CallError) => isTransient(error),
      onTimeout: ({ after }) => new McpTimeoutError({ server, operation: `${operation} ${taskId}`, after })
    })
  }

  const result = retried(
    "tasks/result",
    (session) => session.getTaskResult(taskId, Math.max(timeoutMillis, RESULT_TIMEOUT_MIN))
  )

  const step = (task: Task): Effect.Effect<CallToolResult, CallError> => {
    switch (task.status) {
      case "completed":
      case "failed":
      case "input_required":
        return result
      case "cancelled":
        return Effect.fail(new McpToolError({ server, tool, reason: "TaskCancelled", content: [], taskId }))
      default:
        return Effect.sleep(Duration.millis(pollDelay(task, settings))).pipe(
          Effect.zipRight(retried("tasks/get", (session) => session.getTask(taskId, timeoutMillis))),
          Effect.flatMap(step)
        )
    }
  }

  return context.store.put({ server, tool, taskId, createdAt: Date.parse(created.createdAt) || 0 }).pipe(
    Effect.zipRight(step(created)),
    // ended one way or the other (a restart never gets here: the record stays for the next run)
    Effect.ensuring(context.store.remove(server, taskId)),
    Effect.onInterrupt(() =>
      onSession("tasks/cancel", (session) => session.cancelTask(taskId, CANCEL_TIMEOUT)).pipe(
        Effect.timeout(Duration.millis(CANCEL_TIMEOUT)),
        Effect.ignore,
        Effect.annotateLogs({ server, tool, taskId })
      )
    ),
    Effect.withSpan(`tasks/await ${tool}`, { kind: "client", attributes: { "mcp.task.id": taskId } })
  )
}

/**
 * Resumes a task created earlier (by this program before a restart, see `TaskStore`): reads it
 * with `tasks/get`, then awaits it as a call would. An `isError` result is `McpToolError`.
 *
 * @internal
 */
export const resumeTask = (
  context: TaskContext,
  tool: string,
  taskId: string,
  timeoutMillis: number
): Effect.Effect<CallToolResult, CallError> => {
  const server = context.supervisor.server
  const first: Effect.Effect<Task, CallError> = Effect.suspend(() => {
    const live = context.supervisor.current()
    return Effect.flatMap(
      live === undefined ? context.supervisor.awaitSession(timeoutMillis, `tasks/get ${taskId}`) : Effect.succeed(live),
      (live) => live.session.getTask(taskId, timeoutMillis)
    )
  }).pipe(
    Effect.mapError((error): CallError =>
      error._tag === "McpProtocolError" && error.code === -32602
        ? new McpToolError({ server, tool, reason: "TaskNotFound", content: [], taskId })
        : error
    )
  )
  return first.pipe(
    Effect.tapError((error) => error._tag === "McpToolError" ? context.store.remove(server, taskId) : Effect.void),
    Effect.flatMap((task) => awaitTask(context, tool, task, timeoutMillis)),
    Effect.flatMap((result) =>
      result.isError === true
        ? Effect.fail(new McpToolError({ server, tool, reason: "IsError", content: result.content ?? [] }))
        : Effect.succeed(result)
    )
  )
}
