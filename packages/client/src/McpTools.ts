/**
 * The service programs use: the tools of one MCP server, called with deadlines, typed
 * failures, optional Schema decoding of `structuredContent`, spans and metrics.
 *
 * ```ts
 * const McpToolsLive = McpTools.layer({ server: McpServerConfig.stdio({ command: "node", args: ["server.js"] }) })
 * const program = Effect.gen(function*() {
 *   const tools = yield* McpTools
 *   return yield* tools.call("add", { a: 1, b: 2 })
 * })
 * program.pipe(Effect.provide(McpToolsLive))
 * ```
 *
 * @since 0.1.0
 */
import { CircuitBreaker, RetryPolicy } from "@mcp-resilience/policy"
import { type CallToolResult, type Tool, ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as ParseResult from "effect/ParseResult"
import * as Runtime from "effect/Runtime"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import { LazySubscriptionRef } from "./internal/lazyRef.js"
import { noCancel, sessionInternals, type StartCallTool } from "./internal/request.js"
import { type HealthOptions, make as makeSupervisor, type Session } from "./internal/supervisor.js"
import { toolsChanged } from "./internal/toolsChanged.js"
import type * as McpClient from "./McpClient.js"
import {
  isTransient,
  McpCircuitOpenError,
  type McpConnectError,
  McpDecodeError,
  McpTimeoutError,
  McpToolError
} from "./McpError.js"
import * as McpMetrics from "./McpMetrics.js"
import type * as McpServerConfig from "./McpServerConfig.js"
import { Status } from "./McpStatus.js"

/**
 * What a tool call can fail with.
 *
 * @since 0.1.0
 * @category errors
 */
export type CallError = McpClient.RequestError | McpClient.ConnectError | McpToolError | McpCircuitOpenError

/**
 * @since 0.1.0
 * @category models
 */
export interface CallOptions {
  /** The deadline of each attempt of this call; defaults to the layer's `callTimeout` (60 s). */
  readonly timeout?: Duration.DurationInput | undefined
  /**
   * Declares the call safe to repeat, so it may be retried after it could have reached the
   * server. Tools annotated `readOnlyHint` or `idempotentHint` are safe without it.
   */
  readonly idempotent?: boolean | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface CallOptionsWithSchema<A, I, R> extends CallOptions {
  /** Decodes the result's `structuredContent`; a mismatch fails with `McpDecodeError`. */
  readonly schema: Schema.Schema<A, I, R>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The server's name in logs and errors. */
  readonly server: string
  /** The current session, `undefined` while reconnecting. */
  readonly client: McpClient.McpClient | undefined
  /** The tools as last listed (at each connect, and after `notifications/tools/list_changed`). */
  readonly tools: Effect.Effect<ReadonlyArray<Tool>>
  /** The tool list now and at every change. */
  readonly toolsChanges: Stream.Stream<ReadonlyArray<Tool>>
  /** Lists the tools from the server and remembers them. */
  readonly list: Effect.Effect<ReadonlyArray<Tool>, CallError>
  /** The session's state now. */
  readonly status: Effect.Effect<Status>
  /** The session's state now and at every change. */
  readonly statusChanges: Stream.Stream<Status>
  /** How many sessions this layer has made (1 until the first reconnect). */
  readonly sessions: Effect.Effect<number>
  /**
   * Calls a tool. `isError: true` fails with `McpToolError` (reason `IsError`) carrying the
   * content; a name the server does not offer fails with `McpToolError` (reason `UnknownTool`)
   * listing the known names. With `schema`, `structuredContent` is decoded.
   *
   * A call is retried (under `callPolicy`) only when that is safe: it never reached the server
   * (no session, send failed, HTTP session expired), or the tool is read-only or idempotent.
   * Otherwise it runs at most once, and its error says whether it may have run (`maybeExecuted`).
   */
  readonly call: {
    <A, I, R>(
      name: string,
      args: Record<string, unknown> | undefined,
      options: CallOptionsWithSchema<A, I, R>
    ): Effect.Effect<A, CallError | McpDecodeError, R>
    (name: string, args?: Record<string, unknown>, options?: CallOptions): Effect.Effect<CallToolResult, CallError>
  }
  /**
   * Calls several tools at once (an agent's parallel tool calls), each exactly as {@link call}
   * would: its own deadline, retries when safe, metrics, `isError` and unknown names as
   * `McpToolError`. Returns every outcome, in the order of `calls`; it does not fail.
   * Interrupting it cancels the calls in flight (`notifications/cancelled`).
   *
   * Unlike `Effect.forEach(calls, (c) => tools.call(...), { concurrency })`, a batch runs in one
   * fiber: forking and joining a fiber per call costs about 15 µs, as much as a whole call
   * over stdio.
   */
  readonly callAll: (
    calls: ReadonlyArray<ToolCall>,
    options?: CallAllOptions
  ) => Effect.Effect<ReadonlyArray<Either.Either<CallToolResult, CallError>>>
}

/**
 * One call of {@link Service.callAll}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ToolCall {
  readonly name: string
  readonly arguments?: Record<string, unknown> | undefined
  readonly options?: CallOptions | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface CallAllOptions {
  /** How many calls may be in flight at once. Default `"unbounded"`: all of them. */
  readonly concurrency?: number | "unbounded" | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options extends McpClient.Options {
  /** The server to connect to. */
  readonly server: McpServerConfig.McpServerConfig
  /** The default deadline of each call attempt. Default 60 seconds. */
  readonly callTimeout?: Duration.DurationInput | undefined
  /** How safe calls are retried. Default: 3 attempts, 200 ms base, 2 s cap, full jitter, 2 min total. */
  readonly callPolicy?: RetryPolicy.RetryPolicy | undefined
  /** Tools to treat as idempotent in addition to those the server annotates. */
  readonly idempotentTools?: ReadonlyArray<string> | undefined
  /** Ping the server on a schedule; `misses` missed pings in a row replace the session. Off by default. */
  readonly health?: HealthOptions | undefined
  /** A session that lived at least this long is replaced with no wait. Default 60 seconds. */
  readonly resetAfter?: Duration.DurationInput | undefined
  /** `"required"` (default): the layer fails if the first connection fails. `"optional"`: it starts at once. */
  readonly startup?: "required" | "optional" | undefined
  /** Quiet time before a `tools/list_changed` notification triggers a refresh. Default 100 ms. */
  readonly refreshDebounce?: Duration.DurationInput | undefined
  /**
   * A circuit breaker for this server: calls and connection attempts go through it, and while it
   * is open they fail fast with `McpCircuitOpenError`. Off unless given; `{}` uses the defaults
   * (failure ratio 0.1 over 30 s with at least 100 calls, 5 s break).
   */
  readonly breaker?: Omit<CircuitBreaker.Options<McpCircuitOpenError>, "onRejected"> | undefined
}

/**
 * The default policy for retrying safe calls.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultCallPolicy: RetryPolicy.RetryPolicy = RetryPolicy.make({
  maxAttempts: 3,
  base: "200 millis",
  cap: "2 seconds",
  jitter: "full",
  attemptTimeout: "10 minutes",
  deadline: "2 minutes"
})

const decodeError = (server: string, tool: string, cause: unknown) =>
  new McpDecodeError({
    server,
    tool,
    detail: ParseResult.isParseError(cause) ? ParseResult.TreeFormatter.formatErrorSync(cause) : String(cause),
    cause
  })

const DEFAULT_CALL_TIMEOUT = Duration.seconds(60)

/** Effect's built-in tracer: its spans are plain records, and it propagates nothing into other code. */
const nativeTracer = Context.get(DefaultServices.liveServices, Tracer.Tracer)

/**
 * The session's callback `tools/call` when a call may take the fast path: a live session and
 * Effect's built-in tracer (another tracer, e.g. OpenTelemetry's, gets a span around every call).
 * Whether the tool is known is the caller's check.
 */
const fastStart = (services: Context.Context<DefaultServices.DefaultServices>, session: Session | undefined) =>
  session !== undefined && Context.get(services, Tracer.Tracer) === nativeTracer
    ? sessionInternals.get(session.client)?.startCall
    : undefined

/** A call's first attempt, made before `callRaw` by the batch of `callAll`. */
interface FirstAttempt {
  readonly exit: Exit.Exit<CallToolResult, McpClient.RequestError>
  /** When the call started, on the layer's clock. */
  readonly started: bigint
  readonly session: Session
}

/** The built-in tracer, with every span it makes starting at `startTime` (a span made late). */
const startingAt = (startTime: bigint): Tracer.Tracer =>
  Tracer.make({
    span: (name, parent, context, links, _startTime, kind, options) =>
      nativeTracer.span(name, parent, context, links, startTime, kind, options),
    context: nativeTracer.context
  })

/** The server says the HTTP session is unknown: per the specification, start a new one. */
const sessionExpired = (error: unknown): error is McpConnectError =>
  (error as McpConnectError)?._tag === "McpConnectError" && (error as McpConnectError).status === 404

/**
 * Connects under the policy and builds the supervised service; closing the scope closes the
 * session.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Service, McpClient.ConnectError, Scope.Scope> =>
  Effect.gen(function*() {
    const toolsRef = new LazySubscriptionRef<ReadonlyArray<Tool>>([])
    let byName = new Map<string, Tool>()
    // the service, once made: the key of its listener in `toolsChanged`
    const self: { service?: Service } = {}
    const remember = (tools: ReadonlyArray<Tool>) =>
      Effect.suspend(() => {
        byName = new Map(tools.map((tool) => [tool.name, tool]))
        const set = Effect.as(toolsRef.set(tools), tools)
        const listener = self.service === undefined ? undefined : toolsChanged.get(self.service)
        return listener === undefined ? set : Effect.zipLeft(set, listener())
      })
    const listOn = (session: Session) => Effect.flatMap(session.client.listTools(), remember)
    const debounce = options.refreshDebounce ?? Duration.millis(100)
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    // the span options of each tool, made once per session (they carry its session id)
    const spanOptions = new Map<string, Tracer.SpanOptions>()

    const onSession = (session: Session) =>
      Effect.gen(function*() {
        yield* listOn(session).pipe(
          Effect.catchAll((error) => Effect.logWarning(`could not list tools: ${error.message}`))
        )
        spanOptions.clear()
        // the refreshes in flight, stopped with the session (a set, not a `FiberSet`: about 3.5 KiB
        // less per session)
        const refreshes = new Set<Fiber.RuntimeFiber<unknown>>()
        yield* Scope.addFinalizer(session.scope, Effect.suspend(() => Fiber.interruptAll(refreshes)))
        let pending = false
        session.client.sdk.setNotificationHandler(ToolListChangedNotificationSchema, () => {
          if (pending) return
          pending = true
          const fiber = runFork(
            Effect.sleep(debounce).pipe(
              Effect.zipRight(Effect.sync(() => (pending = false))),
              Effect.zipRight(listOn(session)),
              Effect.tap((tools) => Effect.logDebug(`tool list changed: ${tools.length} tools`)),
              Effect.catchAll((error) => Effect.logWarning(`could not refresh tools: ${error.message}`)),
              Effect.annotateLogs("server", session.client.server)
            )
          )
          refreshes.add(fiber)
          fiber.addObserver(() => refreshes.delete(fiber))
        })
      })

    let serverName = "server"
    const breaker = options.breaker === undefined ? undefined : yield* CircuitBreaker.make({
      ...options.breaker,
      onRejected: ({ retryAfter }) => new McpCircuitOpenError({ server: serverName, retryAfter })
    })
    const outer = options.wrapAttempt
    const supervisor = yield* makeSupervisor({
      ...options,
      lazy: options.startup === "optional",
      onSession,
      ...(breaker === undefined ? {} : {
        wrapAttempt: <A>(attempt: Effect.Effect<A, McpClient.ConnectError>) =>
          breaker.execute(outer === undefined ? attempt : outer(attempt))
      })
    })
    serverName = supervisor.server
    /** Every call attempt goes through the breaker, when there is one. */
    const guard = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E | McpCircuitOpenError> =>
      breaker === undefined ? effect : breaker.execute(effect)
    if (breaker !== undefined) {
      // the status shows an open breaker, and the session again once it closes
      yield* breaker.state.changes.pipe(
        Stream.runForEach((state) => {
          if (state._tag === "Open") {
            const retryAfter = Duration.millis(Math.max(0, state.until - clock.unsafeCurrentTimeMillis()))
            return supervisor.status.set(Status.CircuitOpen({ retryAfter }))
          }
          const session = supervisor.current()
          return state._tag === "Closed" && session !== undefined
            ? supervisor.status.set(
              Status.Connected({
                sessionId: session.client.sessionId,
                pid: session.client.pid,
                since: clock.unsafeCurrentTimeMillis()
              })
            )
            : Effect.void
        }),
        Effect.forkScoped
      )
    }
    const clock = yield* Effect.clock
    const metrics = () => McpMetrics.forServer(supervisor.server)
    /** Records a call of `name`: its outcome, and its time from `started` to `now` on the layer's clock. */
    const recordCall = (
      name: string,
      outcome: McpMetrics.CallOutcome,
      started: bigint,
      now: bigint = clock.unsafeCurrentTimeNanos()
    ) => metrics().tool(name).record(outcome, Number(now - started) / 1e9)
    const defaultTimeout = Duration.toMillis(
      Duration.decode(options.callTimeout ?? options.requestTimeout ?? DEFAULT_CALL_TIMEOUT)
    )
    const timeoutOf = (options: CallOptions | undefined) =>
      options?.timeout === undefined ? defaultTimeout : Duration.toMillis(Duration.decode(options.timeout))
    const callPolicy = options.callPolicy ?? defaultCallPolicy
    const idempotentTools = new Set(options.idempotentTools ?? [])

    const list: Effect.Effect<ReadonlyArray<Tool>, CallError> = Effect.flatMap(
      supervisor.awaitSession(defaultTimeout, "tools/list"),
      listOn
    )

    const unknownTool = (name: string) =>
      new McpToolError({
        server: supervisor.server,
        tool: name,
        reason: "UnknownTool",
        content: [],
        knownTools: [...byName.keys()]
      })

    // the tool may have been added since the last list: look again once before failing
    const ensureKnown = (name: string): Effect.Effect<void, CallError> =>
      byName.has(name)
        ? Effect.void
        : Effect.flatMap(list, () => (byName.has(name) ? Effect.void : Effect.fail(unknownTool(name))))

    const safeToRepeat = (name: string, options: CallOptions | undefined) => {
      if (options?.idempotent === true || idempotentTools.has(name)) return true
      const annotations = byName.get(name)?.annotations
      return annotations?.readOnlyHint === true || annotations?.idempotentHint === true
    }

    /** Whether a failed attempt may be tried again. */
    const retryable = (name: string, options: CallOptions | undefined) => (error: unknown): boolean => {
      if (sessionExpired(error)) return true
      if (error instanceof McpTimeoutError && error.maybeExecuted === false) return false // waited out its deadline
      if (!isTransient(error)) return false
      // never reached the tool (no session, send failed, refused): safe whatever the tool does
      if ((error as { maybeExecuted?: boolean }).maybeExecuted === false) return true
      return safeToRepeat(name, options)
    }

    const attempt = (name: string, args: Record<string, unknown> | undefined, timeoutMillis: number) =>
      Effect.suspend(() => {
        const onSession = (session: Session) =>
          session.client.callTool(name, args, { timeout: Duration.millis(timeoutMillis) }).pipe(
            Effect.tapError((error) => (sessionExpired(error) ? supervisor.invalidate(session, error) : Effect.void))
          )
        const session = supervisor.current()
        return guard(
          session === undefined
            ? Effect.flatMap(supervisor.awaitSession(timeoutMillis, `tools/call ${name}`), onSession)
            : onSession(session)
        )
      })

    // No stack trace per call: capturing one costs about 3 µs (an `Error`), and it would point
    // here, inside the library, not at the caller
    const spanOptionsOf = (name: string) => {
      let found = spanOptions.get(name)
      if (found === undefined) {
        found = {
          kind: "client",
          attributes: {
            "mcp.method.name": "tools/call",
            "gen_ai.tool.name": name,
            "gen_ai.operation.name": "execute_tool",
            "mcp.server.name": supervisor.server,
            ...(supervisor.current()?.client.sessionId === undefined
              ? {}
              : { "mcp.session.id": supervisor.current()!.client.sessionId! })
          },
          captureStackTrace: false
        }
        spanOptions.set(name, found)
      }
      return found
    }

    const outcomeOf = (exit: Exit.Exit<CallToolResult, CallError>): McpMetrics.CallOutcome =>
      exit._tag === "Success"
        ? "success"
        : exit.cause._tag === "Fail"
        ? exit.cause.error._tag === "McpToolError"
          ? "tool_error"
          : exit.cause.error._tag === "McpTimeoutError"
          ? "timeout"
          : "error"
        : "error"

    /** After a failed attempt: tried again under `callPolicy` when that is safe, else failed as is. */
    const recover = (
      name: string,
      args: Record<string, unknown> | undefined,
      options: CallOptions | undefined,
      timeoutMillis: number,
      error: CallError
    ): Effect.Effect<CallToolResult, CallError> => {
      const canRetry = retryable(name, options)
      if (!canRetry(error)) return Effect.fail(error)
      const once = attempt(name, args, timeoutMillis)
      // replay the first failure into the policy, so its delays, Retry-After and attempt count apply
      let replayed = false
      const again = Effect.suspend(() => {
        if (replayed) return once
        replayed = true
        return Effect.fail(error)
      })
      return RetryPolicy.retry(again, callPolicy, {
        while: canRetry,
        ...(options_.budget === undefined ? {} : { budget: options_.budget }),
        onTimeout: ({ after }) =>
          new McpTimeoutError({ server: supervisor.server, operation: `tools/call ${name}`, after }),
        onRetry: (step) =>
          Effect.logWarning(
            `retrying tools/call ${name} (attempt ${step.attempt} of ${step.maxAttempts}) in ${
              Duration.format(step.delay)
            }: ${(step.error as Error).message}`
          ).pipe(Effect.annotateLogs({ server: supervisor.server, tool: name }))
      })
    }

    const toolError = (name: string, result: CallToolResult) =>
      new McpToolError({ server: supervisor.server, tool: name, reason: "IsError", content: result.content ?? [] })

    /**
     * One call: a span, metrics, at most one retry loop.
     *
     * The fast path (the usual case: a live session, a known tool, Effect's built-in tracer) is
     * one uninterruptible region that runs the session's request interruptibly and,
     * however it ends, cancels the request if it is still in flight (so the server gets
     * `notifications/cancelled`), records the metrics and ends the span: one region instead of one
     * each for the span, the metrics and the request's interruption hook.
     *
     * On that path the span is made only when something may read it: a failure (its error carries
     * the span) or a retry (its logs do). The built-in tracer keeps no record of its spans, so a
     * span that nobody reads is invisible, and making one (ids from `Math.random`, the attributes)
     * costs about a tenth of the call. A span made late starts when the call started: the tracer
     * is given the call's start time. Otherwise (no session yet, a tool not listed, another
     * tracer such as OpenTelemetry's, which propagates the current span into the SDK's
     * instrumented I/O) the span is made first and the whole call runs with it as its parent.
     */
    const callRaw = (
      name: string,
      args: Record<string, unknown> | undefined,
      options: CallOptions | undefined,
      first?: FirstAttempt
    ): Effect.Effect<CallToolResult, CallError> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.withFiberRuntime<CallToolResult, CallError>((fiber) => {
          const started = first?.started ?? clock.unsafeCurrentTimeNanos()
          const timeoutMillis = timeoutOf(options)
          const services = fiber.getFiberRef(DefaultServices.currentServices)
          const timing = fiber.getFiberRef(FiberRef.currentTracerTimingEnabled)
          const session = first?.session ?? supervisor.current()
          let cancel = noCancel
          // the first attempt on the fast path: a batch's, already made (and admitted by the
          // breaker); or the session's callback `tools/call`, whose cancel `finish` calls
          const start = byName.has(name) ? fastStart(services, session) : undefined
          const fast: Effect.Effect<CallToolResult, McpClient.RequestError | McpCircuitOpenError> | undefined =
            first !== undefined
              ? first.exit
              : start === undefined
              ? undefined
              : guard(Effect.async((resume) => {
                cancel = start(name, args, timeoutMillis, resume)
              }))
          const spanClock = Context.get(services, Clock.Clock)
          const spanStart = !timing
            ? BigInt(0)
            : spanClock === clock || first !== undefined
            ? started
            : spanClock.unsafeCurrentTimeNanos()
          let span: Tracer.Span | undefined
          // the span, made at first use: on the fast path only when something may read it, and then
          // starting when the call started (see above)
          const inSpan = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E> => {
            if (span !== undefined) return Effect.withParentSpan(effect, span)
            const made = Effect.makeSpan("mcp.tools.call", spanOptionsOf(name))
            return Effect.flatMap(
              fast === undefined ? made : Effect.withTracer(made, startingAt(spanStart)),
              (made) => {
                span = made
                return Effect.withParentSpan(effect, made)
              }
            )
          }
          const attempted: Effect.Effect<CallToolResult, CallError> = fast !== undefined
            ? Effect.catchAll(
              fast,
              (failed) => {
                // fail again inside the span, so that the error carries it
                const error = Cause.originalError(failed)
                return inSpan(
                  Effect.zipRight(
                    sessionExpired(error) ? supervisor.invalidate(session!, error) : Effect.void,
                    recover(name, args, options, timeoutMillis, error)
                  )
                )
              }
            )
            : inSpan(
              Effect.catchAll(
                Effect.zipRight(ensureKnown(name), attempt(name, args, timeoutMillis)),
                (error) => recover(name, args, options, timeoutMillis, error)
              )
            )
          const finish = (exit: Exit.Exit<CallToolResult, CallError>) => {
            cancel()
            recordCall(name, outcomeOf(exit), started)
            // as `Effect.useSpan` ends its span
            if (span !== undefined && span.status._tag !== "Ended") {
              span.end(timing ? spanClock.unsafeCurrentTimeNanos() : BigInt(0), exit)
            }
          }
          return Effect.matchCauseEffect(
            restore(Effect.flatMap(attempted, (result) =>
              result.isError === true
                ? inSpan(Effect.fail(toolError(name, result)))
                : Effect.succeed(result))),
            {
              onFailure: (cause) => {
                finish(Exit.failCause(cause))
                return Effect.failCause(cause)
              },
              onSuccess: (result) => {
                finish(Exit.succeed(result))
                return Effect.succeed(result)
              }
            }
          )
        })
      )
    const options_ = options

    /**
     * A call on the fast path of `callRaw` (a live session, a known tool, Effect's built-in
     * tracer) and with no breaker, which must see each call as it starts: one `Effect.async`
     * around the session's callback `tools/call`, instead of `callRaw`'s region, span opener and
     * exit handler, which this path does not need when the call succeeds. Interruption cancels
     * the request and counts the call as an error; any outcome but a result without `isError`
     * goes on through `callRaw` as the call's first attempt (retries, error, span).
     */
    const callOne = (
      name: string,
      args: Record<string, unknown> | undefined,
      options: CallOptions | undefined
    ): Effect.Effect<CallToolResult, CallError> =>
      Effect.withFiberRuntime((fiber) => {
        const session = supervisor.current()
        const start = breaker === undefined && byName.has(name)
          ? fastStart(fiber.getFiberRef(DefaultServices.currentServices), session)
          : undefined
        if (start === undefined) return callRaw(name, args, options)
        return Effect.async<CallToolResult, CallError>((resume) => {
          const started = clock.unsafeCurrentTimeNanos()
          let settled = false
          const cancel = start(name, args, timeoutOf(options), (exit) => {
            settled = true
            if (exit._tag === "Success" && exit.value.isError !== true) {
              recordCall(name, "success", started)
              resume(exit)
            } else {
              resume(callRaw(name, args, options, { exit, started, session: session! }))
            }
          })
          return Effect.sync(() => {
            if (settled) return
            cancel()
            recordCall(name, "error", started)
          })
        })
      })

    /**
     * The batch of {@link Service.callAll}: one fiber starts every call (at most `limit` at once)
     * through the session's callback `tools/call` and waits for all. A call that succeeds with
     * no `isError` is done (its metrics recorded); any other outcome goes through `callRaw` as
     * that call's first attempt, which retries it when safe and makes its error and span.
     */
    const batch = (
      session: Session,
      start: StartCallTool,
      calls: ReadonlyArray<ToolCall>,
      limit: number
    ): Effect.Effect<ReadonlyArray<Either.Either<CallToolResult, CallError>>> => {
      const n = calls.length
      const firsts = new Array<FirstAttempt>(n)
      // calls the breaker did not admit at their turn (not closed then): they go through `call`
      const deferred = new Array<boolean>(n).fill(false)
      // transitions of the breaker the outcomes caused, published after the batch
      const publishes: Array<Effect.Effect<void>> = []
      const run = Effect.async<void>((resume) => {
        const cancels = new Array<() => void>(n)
        const started = new Array<bigint>(n)
        let next = 0
        let inFlight = 0
        let settled = 0
        let resumed = false
        const fill = (): void => {
          while (next < n && inFlight < limit) {
            const i = next++
            const record = breaker?.admitClosed()
            if (breaker !== undefined && record === undefined) {
              deferred[i] = true
              settled++
              continue
            }
            const { arguments: args, name, options } = calls[i]
            started[i] = clock.unsafeCurrentTimeNanos()
            inFlight++
            cancels[i] = start(name, args, timeoutOf(options), (exit) => {
              firsts[i] = { exit, started: started[i], session }
              cancels[i] = noCancel
              inFlight--
              settled++
              const publish = record?.(exit._tag === "Success" ? undefined : exit.cause)
              if (publish !== undefined) publishes.push(publish)
              fill()
            })
          }
          if (settled === n && !resumed) {
            resumed = true
            resume(Effect.void)
          }
        }
        fill()
        return Effect.sync(() => {
          const now = clock.unsafeCurrentTimeNanos()
          for (let i = 0; i < next; i++) {
            if (firsts[i] !== undefined || deferred[i]) continue
            cancels[i]()
            recordCall(calls[i].name, "error", started[i], now)
          }
        })
      })
      return Effect.flatMap(run, () => {
        const out = new Array<Either.Either<CallToolResult, CallError>>(n)
        const rest: Array<number> = []
        const now = clock.unsafeCurrentTimeNanos()
        for (let i = 0; i < n; i++) {
          const first = firsts[i]
          if (first !== undefined && first.exit._tag === "Success" && first.exit.value.isError !== true) {
            recordCall(calls[i].name, "success", first.started, now)
            out[i] = Either.right(first.exit.value)
          } else {
            rest.push(i)
          }
        }
        const published = publishes.length === 0 ? Effect.void : Effect.all(publishes, { discard: true })
        if (rest.length === 0) return Effect.as(published, out)
        return Effect.zipRight(
          published,
          Effect.as(
            Effect.forEach(rest, (i) =>
              Effect.map(
                Effect.either(
                  deferred[i]
                    ? callOne(calls[i].name, calls[i].arguments, calls[i].options)
                    : callRaw(calls[i].name, calls[i].arguments, calls[i].options, firsts[i])
                ),
                (result) => {
                  out[i] = result
                }
              ), { concurrency: limit, discard: true }),
            out
          )
        )
      })
    }

    const callAll = (
      calls: ReadonlyArray<ToolCall>,
      options?: CallAllOptions
    ): Effect.Effect<ReadonlyArray<Either.Either<CallToolResult, CallError>>> =>
      Effect.withFiberRuntime((fiber) => {
        const n = calls.length
        if (n === 0) return Effect.succeed([])
        const concurrency = options?.concurrency ?? "unbounded"
        const limit = concurrency === "unbounded" ? n : Math.max(1, Math.floor(concurrency))
        const session = supervisor.current()
        // the batch takes the same fast path as `call`: a live session, known tools, the built-in
        // tracer (a breaker admits each call as it starts, see `batch`)
        const start = calls.every((call) => byName.has(call.name))
          ? fastStart(fiber.getFiberRef(DefaultServices.currentServices), session)
          : undefined
        return start === undefined
          ? Effect.forEach(calls, (call) => Effect.either(callOne(call.name, call.arguments, call.options)), {
            concurrency: limit
          })
          : batch(session!, start, calls, limit)
      })

    const call = (
      name: string,
      args?: Record<string, unknown>,
      options?: CallOptions | CallOptionsWithSchema<any, any, any>
    ): Effect.Effect<any, any, any> => {
      const raw = callOne(name, args, options)
      if (options === undefined || !("schema" in options)) return raw
      const decode = Schema.decodeUnknown(options.schema)
      return Effect.flatMap(raw, (result) =>
        result.structuredContent === undefined
          ? Effect.fail(decodeError(supervisor.server, name, "the tool returned no structuredContent"))
          : Effect.mapError(decode(result.structuredContent), (cause) => decodeError(supervisor.server, name, cause)))
    }

    const service = {
      get server() {
        return supervisor.server
      },
      get client() {
        return supervisor.current()?.client
      },
      tools: toolsRef.get,
      get toolsChanges() {
        return toolsRef.changes
      },
      list,
      status: supervisor.status.get,
      get statusChanges() {
        return supervisor.status.changes
      },
      sessions: Effect.sync(() => supervisor.sessions()),
      call: call as Service["call"],
      callAll
    } satisfies Service
    self.service = service
    return service
  })

/**
 * The tools of one MCP server, as a service.
 *
 * @since 0.1.0
 * @category models
 */
export class McpTools extends Context.Tag("@mcp-resilience/client/McpTools")<McpTools, Service>() {
  /**
   * @since 0.1.0
   * @category constructors
   */
  static readonly make = make
  /**
   * A layer that owns the supervised session for its lifetime: `Effect.provide(McpTools.layer(...))`.
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layer = (options: Options): Layer.Layer<McpTools, McpClient.ConnectError> =>
    Layer.scoped(McpTools, make(options))
}
