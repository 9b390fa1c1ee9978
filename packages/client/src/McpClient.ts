/**
 * One MCP session: connect under a retry policy, then list and call tools with per-call
 * deadlines; closing the scope ends the session (child stopped, HTTP session deleted).
 *
 * @since 0.1.0
 */
import { type RetryBudget, RetryPolicy } from "@mcp-resilience/policy"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import type {
  CallToolResult,
  ClientCapabilities,
  Implementation,
  ServerCapabilities,
  Tool
} from "@modelcontextprotocol/sdk/types.js"
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv"
import type {
  JsonSchemaType,
  JsonSchemaValidator,
  jsonSchemaValidator
} from "@modelcontextprotocol/sdk/validation/types.js"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import { constVoid } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"
import { Deadlines } from "./internal/deadlines.js"
import { closedError, connectError, requestError } from "./internal/errors.js"
import { addFinalizer, bounded } from "./internal/release.js"
import { RequestSignal, sessionInternals, type StartCallTool } from "./internal/request.js"
import type { McpAuthError, McpCircuitOpenError, McpConfigError, McpProtocolError } from "./McpError.js"
import { type McpConnectError, McpTimeoutError } from "./McpError.js"
import * as McpMetrics from "./McpMetrics.js"
import * as McpServerConfig from "./McpServerConfig.js"
import { McpTransports, type OpenedTransport } from "./McpTransport.js"

/**
 * What connecting can fail with.
 *
 * @since 0.1.0
 * @category errors
 */
export type ConnectError = McpConnectError | McpTimeoutError | McpAuthError | McpConfigError | McpCircuitOpenError

/**
 * What a request on an open session can fail with.
 *
 * @since 0.1.0
 * @category errors
 */
export type RequestError = McpConnectError | McpTimeoutError | McpAuthError | McpProtocolError

/**
 * @since 0.1.0
 * @category models
 */
export interface RequestOptions {
  /** The deadline of this request; defaults to the client's `requestTimeout`. */
  readonly timeout?: Duration.DurationInput | undefined
}

/**
 * One live session with a server.
 *
 * @since 0.1.0
 * @category models
 */
export interface McpClient {
  /** The server's name in logs and errors. */
  readonly server: string
  /** The SDK client, for what this interface does not cover. Requests made on it directly get no deadline. */
  readonly sdk: Client
  readonly serverInfo: Implementation | undefined
  readonly capabilities: ServerCapabilities | undefined
  readonly instructions: string | undefined
  readonly protocolVersion: string | undefined
  /** The `Mcp-Session-Id` of HTTP sessions. */
  readonly sessionId: string | undefined
  /** The child's PID for stdio servers. */
  readonly pid: number | undefined
  /** How many connection attempts the session took. */
  readonly attempts: number
  /** Completes with the reason when the transport closes (process exit, reset, session deleted). */
  readonly closed: Effect.Effect<McpConnectError>
  /** `false` once the transport has closed. */
  readonly isOpen: () => boolean
  /** Lists every tool, following pagination. */
  readonly listTools: (options?: RequestOptions) => Effect.Effect<ReadonlyArray<Tool>, RequestError>
  /**
   * Calls a tool. Interruption and the deadline both cancel the request on the server
   * (`notifications/cancelled`). An `isError: true` result is returned as is.
   */
  readonly callTool: (
    name: string,
    args?: Record<string, unknown>,
    options?: RequestOptions
  ) => Effect.Effect<CallToolResult, RequestError>
  /** Sends `ping` and waits for the answer. */
  readonly ping: (options?: RequestOptions) => Effect.Effect<void, RequestError>
}

/**
 * The service tag, for programs that want one raw session in their context.
 *
 * @since 0.1.0
 * @category models
 */
export const McpClient: Context.Tag<McpClient, McpClient> = Context.GenericTag<McpClient>(
  "@mcp-resilience/client/McpClient"
)

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** How to connect: attempts, backoff, per-attempt timeout, total deadline. Default `RetryPolicy.default`. */
  readonly policy?: RetryPolicy.RetryPolicy | undefined
  /** The default deadline of each request. Default 60 seconds. */
  readonly requestTimeout?: Duration.DurationInput | undefined
  readonly clientInfo?: Implementation | undefined
  readonly capabilities?: ClientCapabilities | undefined
  /** Runs before each wait between connection attempts (for status displays). */
  readonly onRetry?: ((step: RetryPolicy.RetryStep) => Effect.Effect<void>) | undefined
  /** A retry budget shared with other connects and calls; when it is empty, retries stop. */
  readonly budget?: RetryBudget.RetryBudget | undefined
  /** Wraps each connection attempt (e.g. in a circuit breaker). */
  readonly wrapAttempt?:
    | (<A>(attempt: Effect.Effect<A, ConnectError>) => Effect.Effect<A, ConnectError>)
    | undefined
}

/**
 * The SDK's own request timer is kept out of the way: Effect enforces every deadline.
 */
const SDK_TIMEOUT = 2_147_483_647

const DEFAULT_CLIENT_INFO: Implementation = { name: "mcp-resilience", version: "0.1.0" }

const DEFAULT_REQUEST_TIMEOUT = Duration.seconds(60)

interface Attempt {
  readonly sdk: Client
  readonly opened: OpenedTransport
  readonly closed: Deferred.Deferred<McpConnectError>
  /** Runs `listener` with the reason when the transport closes, at once if it has. */
  readonly whenClosed: (listener: (reason: McpConnectError) => void) => void
  readonly open: { value: boolean }
}

/** How long a release waits for notifications still being sent (see `flushNotificationsOnRelease`). */
const NOTIFICATION_FLUSH_BOUND = Duration.seconds(1)

/**
 * Keeps track of the notifications the SDK is still sending on `opened` (it does not wait for
 * them), and makes the release wait for them, at most {@link NOTIFICATION_FLUSH_BOUND}, before
 * the transport is closed. A call interrupted just before its program ends sends
 * `notifications/cancelled`; over HTTP that is a POST of its own, which closing the transport at
 * once would abort, and the server would keep running a tool nobody waits for.
 */
const flushNotificationsOnRelease = (opened: OpenedTransport) =>
  Effect.suspend(() => {
    const transport = opened.transport
    const inFlight = new Set<Promise<unknown>>()
    const send = transport.send.bind(transport)
    transport.send = (message, options) => {
      const sent = send(message, options)
      if (!("id" in message)) {
        const settled = sent.then(constVoid, constVoid)
        inFlight.add(settled)
        void settled.then(() => inFlight.delete(settled))
      }
      return sent
    }
    return addFinalizer(Effect.suspend(() =>
      inFlight.size === 0
        ? Effect.void
        : Effect.ignore(bounded(Effect.promise(() => Promise.all(inFlight)), NOTIFICATION_FLUSH_BOUND))
    ))
  })

/**
 * The SDK client's output-schema checks, with the validator made on first use. The SDK's
 * `Client` makes its own Ajv instance up front (about 18 KiB of heap per session, the largest
 * single item of a session), yet uses it only for tools that declare an `outputSchema`. Here a
 * session makes the SDK's own `AjvJsonSchemaValidator` the first time a listed tool has one, so
 * the checks are the SDK's and a session whose tools declare none never pays for it. It stays
 * one instance per session, like the SDK's: a shared one would keep every compiled schema of
 * every session, as Ajv caches them by schema object.
 */
class LazyValidator implements jsonSchemaValidator {
  private ajv: AjvJsonSchemaValidator | undefined
  getValidator<T>(schema: JsonSchemaType): JsonSchemaValidator<T> {
    return (this.ajv ??= new AjvJsonSchemaValidator()).getValidator(schema)
  }
}

/** Opens a transport to `config` and completes the handshake, in the current scope. */
const handshake = (config: McpServerConfig.McpServerConfig, server: string, options: Options) =>
  Effect.gen(function*() {
    const transports = yield* McpTransports
    const opened = yield* transports.open(config, server)
    yield* flushNotificationsOnRelease(opened)
    const sdk = new Client(options.clientInfo ?? DEFAULT_CLIENT_INFO, {
      capabilities: options.capabilities ?? {},
      jsonSchemaValidator: new LazyValidator()
    })
    const closed = Deferred.unsafeMake<McpConnectError>(FiberId.none)
    const open = { value: true }
    let reason: McpConnectError | undefined
    let listeners: Array<(reason: McpConnectError) => void> = []
    sdk.onclose = () => {
      if (reason !== undefined) return
      open.value = false
      reason = closedError(server, opened.describeClose?.() ?? "the transport closed")
      Deferred.unsafeDone(closed, Exit.succeed(reason))
      const waiting = listeners
      listeners = []
      for (const listener of waiting) listener(reason)
    }
    const whenClosed = (listener: (reason: McpConnectError) => void) => {
      if (reason === undefined) listeners.push(listener)
      else listener(reason)
    }
    sdk.onerror = () => {}
    yield* Effect.tryPromise({
      try: (signal) => sdk.connect(opened.transport, { signal, timeout: SDK_TIMEOUT }),
      catch: (cause) => connectError(server, opened, cause)
    })
    yield* addFinalizer(Effect.sync(() => {
      open.value = false
    }))
    return { sdk, opened, closed, whenClosed, open } satisfies Attempt
  })

/**
 * A Streamable HTTP endpoint answering 400, 404 or 405 to the first POST may be an older
 * HTTP+SSE server: with `fallbackToSse` the same attempt tries SSE at the same URL, as the
 * specification's backwards-compatibility section suggests.
 */
const SSE_FALLBACK_STATUSES: ReadonlySet<number> = new Set([400, 404, 405])

/**
 * One connection attempt in its own scope: a failed or interrupted attempt closes it at once
 * (its process stopped); a successful one stays open until `parent` closes.
 */
const attempt = (
  config: McpServerConfig.McpServerConfig,
  server: string,
  parent: Scope.Scope,
  options: Options
) =>
  Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(Scope.fork(parent, ExecutionStrategy.sequential), (scope) =>
      restore(
        handshake(config, server, options).pipe(
          Effect.catchIf(
            (error) =>
              config._tag === "Http" && config.fallbackToSse && error._tag === "McpConnectError" &&
              error.status !== undefined && SSE_FALLBACK_STATUSES.has(error.status),
            (error) =>
              Effect.logInfo(`Streamable HTTP answered ${(error as McpConnectError).status}; trying HTTP+SSE`).pipe(
                Effect.annotateLogs("server", server),
                Effect.zipRight(
                  handshake(
                    McpServerConfig.sse({
                      name: server,
                      url: (config as McpServerConfig.Http).url,
                      headers: (config as McpServerConfig.Http).headers
                    }),
                    server,
                    options
                  )
                )
              )
          ),
          Scope.extend(scope)
        )
      ).pipe(
        Effect.onExit((exit) => (Exit.isFailure(exit) ? Scope.close(scope, exit) : Effect.void))
      ))
  )

/**
 * Connects to `config` under the policy and returns the session; closing the scope closes it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  config: McpServerConfig.McpServerConfig,
  options: Options = {}
): Effect.Effect<McpClient, ConnectError, Scope.Scope> =>
  Effect.gen(function*() {
    const valid = yield* McpServerConfig.validate(config)
    const server = McpServerConfig.name(valid)
    const policy = options.policy ?? RetryPolicy.default
    const parent = yield* Effect.scope
    const clock = yield* Effect.clock
    const start = clock.unsafeCurrentTimeMillis()
    let attempts = 0
    const metrics = McpMetrics.forServer(server)

    const one = Effect.suspend(() => {
      attempts++
      const n = attempts
      const run = attempt(valid, server, parent, options)
      return (options.wrapAttempt === undefined ? run : options.wrapAttempt(run)).pipe(
        Effect.tapBoth({
          onFailure: () => Effect.sync(() => metrics.connectAttempt("failure")),
          onSuccess: () => Effect.sync(() => metrics.connectAttempt("success"))
        }),
        Effect.withSpan("mcp.connect.attempt", {
          attributes: { "mcp.server.name": server, "mcp.connect.attempt": n }
        })
      )
    })

    const connected = yield* RetryPolicy.retry(one, policy, {
      ...(options.budget === undefined ? {} : { budget: options.budget }),
      onTimeout: ({ after, kind }) =>
        new McpTimeoutError({ server, operation: kind === "attempt" ? "connect.attempt" : "connect", after }),
      onRetry: (step) =>
        Effect.logWarning(
          `connect attempt ${step.attempt - 1} of ${step.maxAttempts} failed: ${describe(step.error)}; ` +
            `next attempt in ${Duration.format(step.delay)}`
        ).pipe(
          Effect.annotateLogs({
            server,
            attempt: step.attempt - 1,
            maxAttempts: step.maxAttempts,
            delay: Duration.format(step.delay),
            reason: reasonOf(step.error)
          }),
          Effect.zipRight(options.onRetry === undefined ? Effect.void : options.onRetry(step))
        )
    }).pipe(
      Effect.tapError((error) =>
        Effect.logError(`could not connect after ${attempts} attempt(s): ${describe(error)}`).pipe(
          Effect.annotateLogs({ server, attempts, reason: reasonOf(error) })
        )
      ),
      Effect.withSpan("mcp.connect", {
        attributes: { "mcp.server.name": server, "mcp.transport": valid._tag }
      })
    )

    const now = yield* Clock.currentTimeMillis
    metrics.connectDuration(now - start)
    const runtime = yield* Effect.runtime<never>()
    const client = fromSession(server, connected, attempts, new Deadlines(clock, Runtime.runFork(runtime)), options)
    yield* addFinalizer(client.deadlines.shutdown)
    yield* Effect.logInfo(
      `connected to ${connected.sdk.getServerVersion()?.name ?? server} after ${attempts} attempt(s)`
    ).pipe(
      Effect.annotateLogs({
        server,
        attempts,
        sessionId: client.service.sessionId ?? "-",
        pid: client.service.pid ?? "-"
      })
    )
    return client.service
  })

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error))

const reasonOf = (error: unknown): string => {
  if (typeof error !== "object" || error === null) return "unknown"
  const e = error as { _tag?: string; reason?: string }
  return e.reason === undefined ? e._tag ?? "unknown" : `${e._tag}.${e.reason}`
}

const fromSession = (
  server: string,
  session: Attempt,
  attempts: number,
  deadlines: Deadlines,
  options: Options
): { readonly service: McpClient; readonly deadlines: Deadlines } => {
  const { opened, sdk } = session
  const defaultTimeout = Duration.toMillis(Duration.decode(options.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT))
  const timeoutOf = (o: RequestOptions | undefined) =>
    o?.timeout === undefined ? defaultTimeout : Duration.toMillis(Duration.decode(o.timeout))

  /**
   * The hot path: starts one request with one {@link RequestSignal} and one entry in the
   * session's deadline queue; no fiber and no timer. Expiry aborts, which makes the SDK send
   * `notifications/cancelled`. Returns the cancel function (which does the same for
   * interruption, and nothing once the request has settled).
   */
  const start = <A>(
    resume: (exit: Exit.Exit<A, RequestError>) => void,
    operation: () => string,
    method: string,
    timeoutMillis: number,
    run: (signal: AbortSignal) => Promise<A>
  ): () => void => {
    const signal = new RequestSignal()
    let done = false
    const entry = deadlines.add(timeoutMillis, () => {
      if (done) return
      done = true
      try {
        signal.abort("timeout")
      } finally {
        // the call ends at its deadline even if an abort listener throws
        resume(
          Exit.fail(
            new McpTimeoutError({
              server,
              operation: operation(),
              after: Duration.millis(timeoutMillis),
              maybeExecuted: true
            })
          )
        )
      }
    })
    run(signal as unknown as AbortSignal).then(
      (value) => {
        if (done) return
        done = true
        deadlines.remove(entry)
        resume(Exit.succeed(value))
      },
      (cause) => {
        if (done) return
        done = true
        deadlines.remove(entry)
        resume(Exit.fail(requestError(server, method, opened, cause)))
      }
    )
    return () => {
      if (done) return
      done = true
      deadlines.remove(entry)
      signal.abort("interrupted")
    }
  }

  /** A request whose interruption cancels it. */
  const request = <A>(
    operation: () => string,
    method: string,
    timeoutMillis: number,
    run: (signal: AbortSignal) => Promise<A>
  ): Effect.Effect<A, RequestError> =>
    Effect.async<A, RequestError>((resume) => Effect.sync(start(resume, operation, method, timeoutMillis, run)))

  const callTool = (name: string, args: Record<string, unknown> | undefined) => (signal: AbortSignal) =>
    sdk.callTool({ name, arguments: args ?? {} }, undefined, { signal, timeout: SDK_TIMEOUT }) as Promise<
      CallToolResult
    >

  /** `tools/call` as a callback, for `McpTools` (see {@link StartCallTool}). */
  const startCall: StartCallTool = (name, args, timeoutMillis, onExit) =>
    start(onExit, () => `tools/call ${name}`, "tools/call", timeoutMillis, callTool(name, args))

  const listTools = (o?: RequestOptions) =>
    Effect.suspend(() => {
      const timeout = timeoutOf(o)
      const tools: Array<Tool> = []
      const page = (cursor: string | undefined): Effect.Effect<ReadonlyArray<Tool>, RequestError> =>
        request(() => "tools/list", "tools/list", timeout, (signal) =>
          sdk.listTools(cursor === undefined ? undefined : { cursor }, { signal, timeout: SDK_TIMEOUT })).pipe(
            Effect.flatMap((result) => {
              tools.push(...result.tools)
              return result.nextCursor === undefined || result.nextCursor === cursor
                ? Effect.succeed(tools)
                : page(result.nextCursor)
            })
          )
      return page(undefined)
    })

  const service: McpClient = {
    server,
    sdk,
    serverInfo: sdk.getServerVersion(),
    capabilities: sdk.getServerCapabilities(),
    instructions: sdk.getInstructions(),
    protocolVersion: (opened.transport as { protocolVersion?: string }).protocolVersion,
    sessionId: opened.transport.sessionId,
    pid: opened.pid?.(),
    attempts,
    closed: Deferred.await(session.closed),
    isOpen: () => session.open.value,
    listTools,
    callTool: (name, args, o) => request(() => `tools/call ${name}`, "tools/call", timeoutOf(o), callTool(name, args)),
    ping: (o) =>
      request(() => "ping", "ping", timeoutOf(o), (signal) => sdk.ping({ signal, timeout: SDK_TIMEOUT })).pipe(
        Effect.asVoid
      )
  }
  sessionInternals.set(service, { startCall, whenClosed: session.whenClosed })
  return { service, deadlines }
}

/**
 * A layer with one raw session in context.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  config: McpServerConfig.McpServerConfig,
  options?: Options
): Layer.Layer<McpClient, ConnectError> => Layer.scoped(McpClient, make(config, options))
