/**
 * The call pipeline: the one way a tool call runs. `call`, `callAll` and the decoding variant
 * of `McpTools` all go through {@link makeCall}.
 *
 * 1. the tool must be known (listed again once if it is not: it may be new);
 * 2. one attempt: the live session (or the next one, within the call's deadline), admitted by
 *    the breaker, sends `tools/call` with the call's deadline (`session.request`); for a
 *    task-based tool the attempt only creates the task;
 * 3. a failed attempt is classified: retried under the call policy only while that is safe
 *    (it never reached the server, or the tool is read-only/idempotent), else failed as is;
 *    a 404 (the HTTP session expired) or a refused connection also marks the session dead, so the
 *    supervisor replaces it;
 * 4. a created task is awaited (`tasks.ts`): never created again, only polled;
 * 5. an `isError: true` result becomes `McpToolError`;
 * 6. around it all: the client span `tools/call {tool}` (OpenTelemetry's MCP conventions: see
 *    `telemetry.ts`; its trace context goes to the server in `params._meta`), and the call's metrics.
 *
 * @internal
 */
import type { CircuitBreaker, RetryBudget } from "@mcp-resilience/policy"
import { RetryPolicy } from "@mcp-resilience/policy"
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js"
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Tracer from "effect/Tracer"
import {
  isTransient,
  type McpCircuitOpenError,
  type McpConnectError,
  McpTimeoutError,
  McpToolError
} from "../McpError.js"
import type { CallOutcome } from "../McpMetrics.js"
import { makeMemoryStore, type TaskStoreService } from "../McpTasks.js"
import type { ConnectError } from "./connect.js"
import type { ServerMetrics } from "./metrics.js"
import type { RequestError, RequestProgress, Session } from "./session.js"
import type { Supervisor } from "./supervisor.js"
import { awaitTask, isTaskCreated, settingsOf, type TaskCreated, type TaskSettings, usesTask } from "./tasks.js"
import { annotateSpan, errorTypeOfExit, isRpcCode, networkTransport, sessionTelemetry } from "./telemetry.js"
import type { ToolList } from "./toolList.js"

/** What a tool call can fail with. @internal */
export type CallError = RequestError | ConnectError | McpToolError | McpCircuitOpenError

/** @internal */
export interface CallSettings {
  /** The deadline of each attempt, in milliseconds. */
  readonly timeoutMillis: number
  /** The caller declares the call safe to repeat. */
  readonly idempotent: boolean
  /** The server's progress notifications: a listener, and whether they restart the deadline. */
  readonly progress?: RequestProgress | undefined
}

/** @internal */
export interface CallContext {
  readonly supervisor: Supervisor
  readonly tools: ToolList
  /** Lists the tools again (on the live session, or the next one). */
  readonly relist: Effect.Effect<unknown, CallError>
  readonly breaker: CircuitBreaker.CircuitBreaker<McpCircuitOpenError> | undefined
  readonly policy: RetryPolicy.RetryPolicy
  readonly budget: RetryBudget.RetryBudget | undefined
  /** Tools the user declared idempotent. */
  readonly idempotentTools: ReadonlySet<string>
  readonly metrics: ServerMetrics
  /** The layer's clock, which times the calls for the metrics. */
  readonly clock: Clock.Clock
  /** How task-based calls poll (see `tasks.ts`); the defaults when absent. */
  readonly tasks?: TaskSettings | undefined
  /** Where awaited tasks are kept; in memory when absent. */
  readonly taskStore?: TaskStoreService | undefined
}

/** The server says the HTTP session is unknown: per the specification, start a new one. */
const sessionExpired = (error: unknown): error is McpConnectError =>
  (error as McpConnectError)?._tag === "McpConnectError" && (error as McpConnectError).status === 404

/** The session is gone: the HTTP session expired, or nothing accepts connections any more. */
const sessionLost = (error: unknown): error is McpConnectError =>
  sessionExpired(error) || ((error as McpConnectError)?._tag === "McpConnectError" &&
    (error as McpConnectError).reason === "Refused")

const outcomeOf = (exit: Exit.Exit<unknown, CallError>): CallOutcome => {
  if (exit._tag === "Success") return "success"
  if (exit.cause._tag !== "Fail") return "error"
  const tag = exit.cause.error._tag
  return tag === "McpToolError" ? "tool_error" : tag === "McpTimeoutError" ? "timeout" : "error"
}

/** @internal */
export const makeCall = (context: CallContext) => {
  const { breaker, clock, metrics, supervisor, tools } = context
  const server = supervisor.server
  const taskSettings = context.tasks ?? settingsOf(undefined)
  const taskContext = {
    supervisor,
    policy: context.policy,
    settings: taskSettings,
    store: context.taskStore ?? makeMemoryStore()
  }

  /** 1. Known, or listed again once: the tool may have appeared since the last list. */
  const ensureKnown = (name: string): Effect.Effect<void, CallError> =>
    tools.has(name) ? Effect.void : Effect.flatMap(context.relist, () =>
      tools.has(name)
        ? Effect.void
        : Effect.fail(
          new McpToolError({ server, tool: name, reason: "UnknownTool", content: [], knownTools: tools.names() })
        ))

  /** The attributes of the session serving the calls, made again when another one does. */
  let telemetry = sessionTelemetry(supervisor.config, server, undefined)
  const telemetryOf = (session: Session | undefined) => {
    if (session !== undefined && session !== telemetry.session) {
      telemetry = sessionTelemetry(supervisor.config, server, session)
    }
    return telemetry
  }

  /** 5. The span's attributes that do not depend on the session, made once per known tool. */
  const spanOptions = new Map<string, Tracer.SpanOptions>()
  const spanOptionsOf = (name: string): Tracer.SpanOptions => {
    let options = spanOptions.get(name)
    if (options === undefined) {
      const transport = networkTransport(supervisor.config)
      options = {
        kind: "client",
        captureStackTrace: false,
        attributes: {
          "mcp.method.name": "tools/call",
          "gen_ai.tool.name": name,
          "gen_ai.operation.name": "execute_tool",
          ...(transport === undefined ? {} : { "network.transport": transport })
        }
      }
      // names the server does not list are not kept: a caller (a model) may try any name
      if (tools.has(name)) spanOptions.set(name, options)
    }
    return options
  }

  /** 2. What an attempt sends: the call, or, for a task-based tool, the request that creates its task. */
  const sendOn = (
    session: Session,
    name: string,
    args: Record<string, unknown> | undefined,
    settings: CallSettings,
    span: Tracer.Span
  ): Effect.Effect<CallToolResult | TaskCreated, RequestError> =>
    usesTask(session, tools.get(name), taskSettings)
      // the task is awaited after the retries: a created task is never created again
      ? Effect.map(
        session.createToolTask(name, args, taskSettings.ttlMillis, settings.timeoutMillis),
        (task): TaskCreated => ({ _tag: "TaskCreated", task })
      )
      : session.callTool(name, args, settings.timeoutMillis, span, settings.progress)

  /** 2. One attempt on the live session (or the next one), through the breaker. */
  const attempt = (
    name: string,
    args: Record<string, unknown> | undefined,
    settings: CallSettings,
    span: Tracer.Span
  ) => {
    const timeoutMillis = settings.timeoutMillis
    const send = Effect.suspend(() => {
      const live = supervisor.current()
      const session = live === undefined
        ? supervisor.awaitSession(timeoutMillis, `tools/call ${name}`)
        : Effect.succeed(live)
      return Effect.flatMap(
        session,
        (live) => {
          annotateSpan(span, telemetryOf(live.session))
          return Effect.tapError(sendOn(live.session, name, args, settings, span), (error) =>
            Effect.sync(() => {
              if (sessionLost(error)) live.kill(error)
            }))
        }
      )
    })
    return breaker === undefined ? send : breaker.execute(send)
  }

  /** 3. Whether a failed attempt may be tried again. */
  const retryable = (name: string, settings: CallSettings) => (error: CallError): boolean => {
    if (sessionExpired(error)) return true
    if (error._tag === "McpTimeoutError" && error.maybeExecuted === false) return false // waited out its deadline
    if (!isTransient(error)) return false
    // never reached the tool (no session, send failed, refused): safe whatever the tool does
    if ((error as { maybeExecuted?: boolean }).maybeExecuted === false) return true
    if (settings.idempotent || context.idempotentTools.has(name)) return true
    const annotations = tools.get(name)?.annotations
    return annotations?.readOnlyHint === true || annotations?.idempotentHint === true
  }

  /** 3. After a failed first attempt: the policy's retries, when safe, with the failure replayed into it. */
  const retryWhileSafe = (
    name: string,
    args: Record<string, unknown> | undefined,
    settings: CallSettings,
    span: Tracer.Span,
    error: CallError
  ): Effect.Effect<CallToolResult | TaskCreated, CallError> => {
    const canRetry = retryable(name, settings)
    if (!canRetry(error)) return Effect.fail(error)
    let replayed = false
    const again = Effect.suspend(() => {
      if (replayed) return attempt(name, args, settings, span)
      replayed = true
      return Effect.fail(error)
    })
    return RetryPolicy.retry(again, context.policy, {
      while: canRetry,
      budget: context.budget,
      onTimeout: ({ after }) => new McpTimeoutError({ server, operation: `tools/call ${name}`, after }),
      onRetry: (step) =>
        Effect.logWarning(
          `retrying tools/call ${name} (attempt ${step.attempt} of ${step.maxAttempts}) in ${
            Duration.format(step.delay)
          }: ${(step.error as Error).message}`
        ).pipe(Effect.annotateLogs({ server, tool: name }))
    })
  }

  /** The whole call: steps 1 to 5. */
  return (
    name: string,
    args: Record<string, unknown> | undefined,
    settings: CallSettings
  ): Effect.Effect<CallToolResult, CallError> =>
    Effect.useSpan(`tools/call ${name}`, spanOptionsOf(name), (span) => {
      const started = clock.unsafeCurrentTimeNanos()
      return ensureKnown(name).pipe(
        Effect.zipRight(attempt(name, args, settings, span)),
        Effect.catchAll((error) => retryWhileSafe(name, args, settings, span, error)),
        // a created task is never created again: from here on only its polling is retried
        Effect.flatMap((created) =>
          isTaskCreated(created)
            ? awaitTask(taskContext, name, created.task, settings.timeoutMillis)
            : Effect.succeed(created)
        ),
        Effect.flatMap((result) =>
          result.isError === true
            ? Effect.fail(new McpToolError({ server, tool: name, reason: "IsError", content: result.content ?? [] }))
            : Effect.succeed(result)
        ),
        Effect.onExit((exit) =>
          Effect.sync(() => {
            const type = errorTypeOfExit(exit)
            if (type !== undefined) {
              span.attribute("error.type", type)
              if (isRpcCode(type)) span.attribute("rpc.response.status_code", type)
            }
            const seconds = Number(clock.unsafeCurrentTimeNanos() - started) / 1e9
            metrics.tool(name).record(outcomeOf(exit), type, seconds, telemetryOf(supervisor.current()?.session))
          })
        ),
        Effect.withParentSpan(span)
      )
    })
}
