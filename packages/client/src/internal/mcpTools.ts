/**
 * The body of `McpTools.make`: a supervisor that keeps one live session, the server's tool
 * list, an optional circuit breaker, and the call pipeline over them.
 *
 * 1. the breaker (if any) is made first: it also wraps every connection attempt;
 * 2. the supervisor connects (or, with `startup: "optional"`, starts connecting in the
 *    background) and hands each new session to the tool list, which lists and watches it;
 * 3. the breaker's state shows in the status;
 * 4. `call` = the pipeline of `call.ts`, plus Schema decoding when asked; `callAll` = `call` for
 *    each, at most `concurrency` at once.
 *
 * @internal
 */
import { CircuitBreaker, RetryPolicy } from "@mcp-resilience/policy"
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Runtime from "effect/Runtime"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { TokenStore } from "../McpAuth.js"
import { McpCircuitOpenError, McpDecodeError } from "../McpError.js"
import * as McpServerConfig from "../McpServerConfig.js"
import { Status } from "../McpStatus.js"
import { TaskStore } from "../McpTasks.js"
import type { CallAllOptions, CallOptions, CallOptionsWithSchema, Options, Service } from "../McpTools.js"
import { memoryStore } from "./auth/stores.js"
import { makeCall } from "./call.js"
import { clientCache } from "./client.js"
import type { ConnectError } from "./connect.js"
import { fleetKey, sharedBreaker, sharedBudget } from "./fleet.js"
import { limitsOf } from "./limits.js"
import { metricsFor } from "./metrics.js"
import { eventsOf, type Progress, progressOf } from "./progress.js"
import * as Supervisor from "./supervisor.js"
import { settingsOf } from "./tasks.js"
import * as ToolList from "./toolList.js"

/**
 * The default policy for retrying safe calls.
 *
 * @internal
 */
export const defaultCallPolicy: RetryPolicy.RetryPolicy = RetryPolicy.make({
  maxAttempts: 3,
  base: "200 millis",
  cap: "2 seconds",
  jitter: "full",
  attemptTimeout: "10 minutes",
  deadline: "2 minutes"
})

const DEFAULT_CALL_TIMEOUT = Duration.seconds(60)

const millis = (duration: Duration.DurationInput) => Duration.toMillis(Duration.decode(duration))

const decodeError = (server: string, tool: string, cause: unknown) =>
  new McpDecodeError({
    server,
    tool,
    detail: ParseResult.isParseError(cause) ? ParseResult.TreeFormatter.formatErrorSync(cause) : String(cause),
    cause
  })

/** What `McpToolset` needs beyond the service: the subscription to tool-list changes. @internal */
export interface Made {
  readonly service: Service
  readonly onToolsChanged: (listener: () => Effect.Effect<void>) => void
}

/** @internal */
export const make = (options: Options): Effect.Effect<Made, ConnectError, Scope.Scope> =>
  Effect.gen(function*() {
    const server = McpServerConfig.name(options.server)
    const clock = yield* Effect.clock
    const defaultTimeout = millis(options.callTimeout ?? options.requestTimeout ?? DEFAULT_CALL_TIMEOUT)

    // 1. the breaker, which also wraps connection attempts; with a CircuitBreakerStore or a
    //    RetryBudgetStore in context, its state and the budget are shared under the server's key
    const key = fleetKey(options.server)
    const budget = yield* sharedBudget(key, options.budget)
    const breaker = options.breaker === undefined ? undefined : yield* CircuitBreaker.make({
      ...options.breaker,
      shared: yield* sharedBreaker(key),
      onRejected: ({ retryAfter }) => new McpCircuitOpenError({ server, retryAfter })
    })
    const outer = options.wrapAttempt
    const wrapAttempt = breaker === undefined
      ? outer
      : <A>(attempt: Effect.Effect<A, ConnectError>) => breaker.execute(outer === undefined ? attempt : outer(attempt))

    // 2. the supervisor, handing each new session to the tool list
    const limits = limitsOf(options.limits)
    // OAuth tokens go to the TokenStore provided, else to one in memory for this layer alone
    const authorized = "auth" in options.server && options.server.auth !== undefined
    const tokenStore = authorized ? Option.getOrElse(yield* Effect.serviceOption(TokenStore), memoryStore) : undefined
    const withTokens = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
      tokenStore === undefined ? effect : Effect.provideService(effect, TokenStore, tokenStore)
    // the tool list's refreshes and the supervisor's reconnects run as root fibers of this runtime,
    // which has the token store: a reconnect uses the tokens the layer already has
    const runFork = Runtime.runFork(yield* withTokens(Effect.runtime<never>()))
    const tools = yield* ToolList.make({
      runFork,
      debounce: Duration.decode(options.refreshDebounce ?? ToolList.DEFAULT_DEBOUNCE),
      timeoutMillis: defaultTimeout,
      limits
    })
    // one set of metric updaters for the connects and the calls
    const metrics = metricsFor(server)
    const supervised = yield* Supervisor.make({
      ...options,
      runFork,
      metrics,
      budget,
      maxSchemaDepth: limits.maxSchemaDepth,
      maxCachedValidators: limits.maxTools,
      wrapAttempt,
      lazy: options.startup === "optional",
      onSession: tools.watch
    }).pipe(withTokens)
    const list = Effect.flatMap(supervised.awaitSession(defaultTimeout, "tools/list"), tools.listOn)

    // 3. an open breaker shows in the status, and the session again once it closes
    if (breaker !== undefined) {
      yield* breaker.state.changes.pipe(
        Stream.runForEach((state) =>
          state._tag === "Open"
            ? supervised.status.set(
              Status.CircuitOpen({
                retryAfter: Duration.millis(Math.max(0, state.until - clock.unsafeCurrentTimeMillis()))
              })
            )
            : state._tag === "Closed"
            ? supervised.showConnected
            : Effect.void
        ),
        Effect.forkScoped
      )
    }

    // 4. the call pipeline; task-based calls keep their tasks in the TaskStore (in memory by default)
    const pipeline = makeCall({
      supervisor: supervised,
      tools,
      relist: list,
      breaker,
      policy: options.callPolicy ?? defaultCallPolicy,
      budget,
      idempotentTools: new Set(options.idempotentTools ?? []),
      metrics,
      clock,
      tasks: settingsOf(options.tasks),
      taskStore: Option.getOrUndefined(yield* Effect.serviceOption(TaskStore))
    })
    const awaitTask = (tool: string, taskId: string, callOptions?: CallOptions) =>
      pipeline.awaitTask(
        tool,
        taskId,
        callOptions?.timeout === undefined ? defaultTimeout : millis(callOptions.timeout)
      )
    const callSettings = (callOptions: CallOptions | undefined, onProgress?: (progress: Progress) => void) => {
      const timeoutMillis = callOptions?.timeout === undefined ? defaultTimeout : millis(callOptions.timeout)
      return {
        timeoutMillis,
        idempotent: callOptions?.idempotent === true,
        progress: progressOf(timeoutMillis, callOptions, onProgress)
      }
    }
    const callRaw = (
      name: string,
      args: Record<string, unknown> | undefined,
      callOptions: CallOptions | undefined,
      onProgress?: (progress: Progress) => void
    ) => pipeline.call(name, args, callSettings(callOptions, onProgress))

    const callWithProgress = (name: string, args?: Record<string, unknown>, callOptions?: CallOptions) =>
      eventsOf((onProgress) => callRaw(name, args, callOptions, onProgress))

    const call = (
      name: string,
      args?: Record<string, unknown>,
      callOptions?: CallOptions | CallOptionsWithSchema<any, any, any>
    ): Effect.Effect<any, any, any> => {
      const raw = callRaw(name, args, callOptions)
      if (callOptions === undefined || !("schema" in callOptions)) return raw
      const decode = Schema.decodeUnknown(callOptions.schema)
      return Effect.flatMap(raw, (result: CallToolResult) =>
        result.structuredContent === undefined
          ? Effect.fail(decodeError(server, name, "the tool returned no structuredContent"))
          : Effect.mapError(decode(result.structuredContent), (cause) => decodeError(server, name, cause)))
    }

    const callAll = (calls: Parameters<Service["callAll"]>[0], callAllOptions?: CallAllOptions) =>
      pipeline.callAll(
        calls.map((c) => ({ name: c.name, args: c.arguments, settings: callSettings(c.options) })),
        callAllOptions?.concurrency ?? "unbounded"
      )

    const clientOf = clientCache()
    const service: Service = {
      server,
      get client() {
        const live = supervised.current()
        return clientOf(live?.session, live?.attempts ?? 0)
      },
      tools: tools.current,
      get toolsChanges() {
        return tools.changes
      },
      list,
      status: supervised.status.get,
      get statusChanges() {
        return supervised.status.changes
      },
      sessions: Effect.sync(() => supervised.sessions()),
      call: call as Service["call"],
      callWithProgress,
      awaitTask,
      callAll
    }
    return { service, onToolsChanged: tools.subscribe }
  })
