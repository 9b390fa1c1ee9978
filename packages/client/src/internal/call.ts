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
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
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
import { forEachEither } from "./batch.js"
import type { ConnectError } from "./connect.js"
import type { ServerMetrics } from "./metrics.js"
import type { RequestError, RequestProgress, Session } from "./session.js"
import { makeSpanOf } from "./span.js"
import type { Live, Supervisor } from "./supervisor.js"
import {
  awaitTask,
  isTaskCreated,
  resumeTask,
  settingsOf,
  type TaskCreated,
  type TaskSettings,
  usesTask
} from "./tasks.js"
import { annotateSpan, errorTypeOfExit, isRpcCode, networkTransport, sessionTelemetry } from "./telemetry.js"
import type { ToolList } from "./toolList.js"

/** One call of a batch. @internal */
export interface CallItem {
  readonly name: string
  readonly args: Record<string, unknown> | undefined
  readonly settings: CallSettings
}

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

/** The `gen_ai.tool.name` of the metrics of calls to tools the server does not list (OTel's `_OTHER`). */
const UNLISTED_TOOL = "_OTHER"

/** @internal */
export const makeCall = (context: CallContext) => {
  const { breaker, clock, metrics, supervisor, tools } = context
  const server = supervisor.server
  const taskSettings = context.tasks ?? settingsOf(undefined)
  // a store in memory is made when the first task-based call needs one
  let memoryStore: TaskStoreService | undefined
  const taskContext = {
    supervisor,
    policy: context.policy,
    settings: taskSettings,
    get store() {
      return context.taskStore ?? (memoryStore ??= makeMemoryStore())
    }
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

  /**
   * 6. Per known tool, made once: the span's name and the attributes that do not depend on the
   * session.
   */
  let spans: Map<string, { readonly name: string; readonly options: Tracer.SpanOptions }> | undefined
  const spanOf = (name: string) => {
    let made = spans?.get(name)
    if (made === undefined) {
      const transport = networkTransport(supervisor.config)
      made = {
        name: `tools/call ${name}`,
        options: {
          kind: "client",
          captureStackTrace: false,
          attributes: {
            "mcp.method.name": "tools/call",
            "gen_ai.tool.name": name,
            "gen_ai.operation.name": "execute_tool",
            ...(transport === undefined ? {} : { "network.transport": transport })
          }
        }
      }
      // names the server does not list are not kept: a caller (a model) may try any name
      if (tools.has(name)) (spans ??= new Map()).set(name, made)
    }
    return made
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

  /** 2. One attempt on `live`, through the breaker; a lost session is marked dead for the supervisor. */
  const attemptOn = (
    live: Live,
    name: string,
    args: Record<string, unknown> | undefined,
    settings: CallSettings,
    span: Tracer.Span
  ): Effect.Effect<CallToolResult | TaskCreated, CallError> => {
    annotateSpan(span, telemetryOf(live.session))
    const send = Effect.tapError(sendOn(live.session, name, args, settings, span), (error) => {
      if (sessionLost(error)) live.kill(error)
      return Effect.void
    })
    return breaker === undefined ? send : breaker.execute(send)
  }

  /**
   * 1 and 2. One attempt: on the live session when the tool is known; else, inside the call's
   * span (it may list the tools, wait and log), once the tool is known and a session is up.
   */
  const attempt = (
    name: string,
    args: Record<string, unknown> | undefined,
    settings: CallSettings,
    span: Tracer.Span
  ): Effect.Effect<CallToolResult | TaskCreated, CallError> => {
    const live = supervisor.current()
    if (live !== undefined && tools.has(name)) return attemptOn(live, name, args, settings, span)
    return Effect.withParentSpan(
      Effect.flatMap(
        Effect.zipRight(
          ensureKnown(name),
          Effect.suspend(() => {
            const live = supervisor.current()
            return live === undefined
              ? supervisor.awaitSession(settings.timeoutMillis, `tools/call ${name}`)
              : Effect.succeed(live)
          })
        ),
        (live) => attemptOn(live, name, args, settings, span)
      ),
      span
    )
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

  /** 4 and 5. A created task is awaited; an `isError: true` result fails (in the call's span, which its error carries). */
  const settle = (
    name: string,
    created: CallToolResult | TaskCreated,
    settings: CallSettings,
    span: Tracer.Span
  ): Effect.Effect<CallToolResult, CallError> => {
    if (isTaskCreated(created)) {
      // a created task is never created again: from here on only its polling is retried
      return Effect.flatMap(
        Effect.withParentSpan(awaitTask(taskContext, name, created.task, settings.timeoutMillis), span),
        (result) => settle(name, result, settings, span)
      )
    }
    return created.isError === true
      ? Effect.withParentSpan(
        Effect.fail(new McpToolError({ server, tool: name, reason: "IsError", content: created.content ?? [] })),
        span
      )
      : Effect.succeed(created)
  }

  /** 6. The call's outcome in its metrics and on its span, which it ends. */
  const finish = (
    name: string,
    span: Tracer.Span,
    started: bigint,
    endClock: Clock.Clock | undefined,
    exit: Exit.Exit<unknown, CallError>
  ) => {
    const type = errorTypeOfExit(exit)
    if (type !== undefined) {
      span.attribute("error.type", type)
      if (isRpcCode(type)) span.attribute("rpc.response.status_code", type)
    }
    const seconds = Number(clock.unsafeCurrentTimeNanos() - started) / 1e9
    // a name the server does not list (a caller, e.g. a model, may try any) makes no series of its own
    metrics.tool(tools.has(name) ? name : UNLISTED_TOOL).record(
      outcomeOf(exit),
      type,
      seconds,
      telemetryOf(supervisor.current()?.session)
    )
    // as `Effect.useSpan` ends its span: at the caller's clock, or at 0 with the tracer's timing off
    if (span.status._tag !== "Ended") {
      span.end(endClock === undefined ? BigInt(0) : endClock.unsafeCurrentTimeNanos(), exit)
    }
    return Effect.void
  }

  /**
   * Starts one call from `fiber` (its tracer, parent span and clock) and hands `done`, once, the
   * rest of the call as an Effect for the caller to run: an `Exit` when the call is over, else
   * what is left of steps 2 to 6. Returns the canceller while the first attempt is in flight.
   *
   * The span is made at once, and ended once with the metrics recorded (`finish`). It is the
   * parent only of the steps that may trace or log (listing, waiting for a session, retrying,
   * awaiting a task) and of the failures, whose errors carry it.
   *
   * The pipeline's one shortcut: a first attempt on the live session for a known tool, with no
   * breaker and no task, is sent from here (`Session.startCallTool`), inside the caller's
   * `Effect.async`, with no Effect operation and no fiber of its own; only its failures continue
   * as Effects, through the same steps. That lets `callAll` run a whole batch in one fiber; the
   * figures that justify it are under "The call pipeline's shortcut" in `docs/benchmarks.md`.
   */
  const begin = (
    fiber: Fiber.RuntimeFiber<unknown, unknown>,
    name: string,
    args: Record<string, unknown> | undefined,
    settings: CallSettings,
    done: (rest: Effect.Effect<CallToolResult, CallError>) => void
  ): (() => void) | undefined => {
    const made = spanOf(name)
    const span = makeSpanOf(fiber, made.name, made.options)
    const started = clock.unsafeCurrentTimeNanos()
    // as `Effect.useSpan` ends its span: at the caller's clock, or at 0 with the tracer's timing off
    const endClock = fiber.getFiberRef(FiberRef.currentTracerTimingEnabled)
      ? Context.get(fiber.getFiberRef(DefaultServices.currentServices), Clock.Clock)
      : undefined
    const ended = (rest: Effect.Effect<CallToolResult, CallError>) =>
      Effect.onExit(rest, (exit) => finish(name, span, started, endClock, exit))
    const retry = (error: CallError) => Effect.withParentSpan(retryWhileSafe(name, args, settings, span, error), span)
    const settled = (created: CallToolResult | TaskCreated) => settle(name, created, settings, span)
    const live = supervisor.current()
    if (
      breaker !== undefined || live === undefined || !tools.has(name) ||
      usesTask(live.session, tools.get(name), taskSettings)
    ) {
      done(ended(Effect.flatMap(Effect.catchAll(attempt(name, args, settings, span), retry), settled)))
      return undefined
    }
    annotateSpan(span, telemetryOf(live.session))
    const cancel = live.session.startCallTool(name, args, settings.timeoutMillis, span, settings.progress, (exit) => {
      if (exit._tag === "Success") {
        if (exit.value.isError === true) return done(ended(settled(exit.value)))
        try {
          finish(name, span, started, endClock, exit)
        } catch (defect) {
          // a tracer whose span cannot end: the call dies with it, as it would in `Effect.onExit`
          return done(Effect.die(defect))
        }
        return done(exit)
      }
      if (exit.cause._tag !== "Fail") return done(ended(exit))
      const error = exit.cause.error
      if (sessionLost(error)) live.kill(error)
      done(ended(Effect.flatMap(retry(error), settled)))
    })
    return () => {
      cancel()
      finish(name, span, started, endClock, Exit.interrupt(fiber.id()))
    }
  }

  /** One call: steps 1 to 6 (see {@link begin}). */
  const call = (
    name: string,
    args: Record<string, unknown> | undefined,
    settings: CallSettings
  ): Effect.Effect<CallToolResult, CallError> =>
    Effect.withFiberRuntime((fiber) =>
      Effect.async<CallToolResult, CallError>((resume) => {
        const cancel = begin(fiber, name, args, settings, resume)
        return cancel === undefined ? undefined : Effect.sync(cancel)
      })
    )

  /**
   * The calls of a batch, at most `concurrency` at once, each one's outcome in order; the first
   * attempts all run from one fiber (see {@link begin} and `batch.ts`).
   */
  const callAll = (
    calls: ReadonlyArray<CallItem>,
    concurrency: number | "unbounded"
  ): Effect.Effect<Array<Either.Either<CallToolResult, CallError>>> =>
    forEachEither(calls, (fiber, item, done) => begin(fiber, item.name, item.args, item.settings, done), concurrency)

  /** Awaits a task a call created earlier (by its id), as a task-based call awaits its own. */
  const resume = (tool: string, taskId: string, timeoutMillis: number) =>
    resumeTask(taskContext, tool, taskId, timeoutMillis)

  return { call, callAll, awaitTask: resume }
}
