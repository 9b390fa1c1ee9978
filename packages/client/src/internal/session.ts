/**
 * One live session: the SDK client, its transport, the deadlines of its requests and their
 * cancellation. {@link open} makes one connection attempt (transport + `initialize`) in the
 * current scope; {@link Session.request} is the one way anything talks to the server.
 *
 * A request is one `Effect.async` around the SDK's promise, with one entry in the session's
 * deadline queue and one small abort signal: its deadline or its interruption aborts the
 * signal, which makes the SDK send `notifications/cancelled`. No fiber and no timer per request.
 *
 * @internal
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import type { RequestOptions as SdkRequestOptions } from "@modelcontextprotocol/sdk/shared/protocol.js"
import {
  type CallToolResult,
  CallToolResultSchema,
  type ClientCapabilities,
  CreateTaskResultSchema,
  type Implementation,
  type Progress,
  type Task,
  type Tool,
  ToolListChangedNotificationSchema
} from "@modelcontextprotocol/sdk/types.js"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import { constVoid } from "effect/Function"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import type * as Tracer from "effect/Tracer"
import type { McpClient, RequestError } from "../McpClient.js"
import { type McpAuthError, type McpConnectError, McpTimeoutError } from "../McpError.js"
import type { Handlers as HandlerOptions } from "../McpHandlers.js"
import type * as McpServerConfig from "../McpServerConfig.js"
import { McpTransports, type OpenedTransport } from "../McpTransport.js"
import type { Deadlines } from "./deadlines.js"
import { closedError, connectError, requestError } from "./errors.js"
import * as Handlers from "./handlers.js"
import { OutputValidators } from "./outputSchemas.js"
import { addFinalizer, bounded } from "./release.js"
import { RequestSignal } from "./requestSignal.js"
import { detachedRuntime } from "./span.js"
import { traceMeta } from "./telemetry.js"

/** What a request on an open session can fail with. @internal */
export type { RequestError }

/** A live session: the facts of `McpClient`, and the one way to send it requests. @internal */
export interface Session extends
  Pick<
    McpClient,
    | "server"
    | "serverInfo"
    | "capabilities"
    | "instructions"
    | "protocolVersion"
    | "sessionId"
    | "pid"
    | "closed"
    | "isOpen"
  >
{
  /** Runs `listener` with the reason when the transport closes (at once if it has); no fiber waits. */
  readonly onClose: (listener: (reason: McpConnectError) => void) => void
  /** Runs `listener` on each `notifications/tools/list_changed`. */
  readonly onToolsChanged: (listener: () => void) => void
  /**
   * Sends one request (`target`, e.g. the tool's name, completes its name in errors: `tools/call
   * echo`): `send` receives the SDK's request options (the abort signal). Fails with
   * `McpTimeoutError` (`maybeExecuted: true`) at `timeoutMillis`; the deadline and interruption
   * both cancel the request on the server.
   */
  readonly request: <A>(
    method: string,
    timeoutMillis: number,
    send: (options: SdkRequestOptions, meta?: ProgressMeta) => Promise<A>,
    target?: string,
    progress?: RequestProgress
  ) => Effect.Effect<A, RequestError>
  /**
   * `tools/call`; with the call's `span`, sends its trace context in `params._meta`
   * (`traceparent`) and sets `jsonrpc.request.id` on it.
   */
  readonly callTool: (
    name: string,
    args: Record<string, unknown> | undefined,
    timeoutMillis: number,
    span?: Tracer.Span,
    progress?: RequestProgress
  ) => Effect.Effect<CallToolResult, RequestError>
  /**
   * {@link callTool} as a callback: sends the call at once and runs `done` once with its outcome,
   * unless the returned canceller runs first (it aborts the call: the server gets
   * `notifications/cancelled`, and `done` never runs). The call pipeline's first attempt uses it
   * (see `call.ts`).
   */
  readonly startCallTool: (
    name: string,
    args: Record<string, unknown> | undefined,
    timeoutMillis: number,
    span: Tracer.Span | undefined,
    progress: RequestProgress | undefined,
    done: (exit: Exit.Exit<CallToolResult, RequestError>) => void
  ) => () => void
  /** One page of `tools/list`. */
  readonly listToolsPage: (
    cursor: string | undefined,
    timeoutMillis: number
  ) => Effect.Effect<{ readonly tools: ReadonlyArray<Tool>; readonly nextCursor?: string | undefined }, RequestError>
  readonly ping: (timeoutMillis: number) => Effect.Effect<void, RequestError>
  /** `tools/call` with a `task` param: the server answers with the task it created. */
  readonly createToolTask: (
    name: string,
    args: Record<string, unknown> | undefined,
    ttlMillis: number | undefined,
    timeoutMillis: number
  ) => Effect.Effect<Task, RequestError>
  readonly getTask: (taskId: string, timeoutMillis: number) => Effect.Effect<Task, RequestError>
  readonly getTaskResult: (taskId: string, timeoutMillis: number) => Effect.Effect<CallToolResult, RequestError>
  readonly cancelTask: (taskId: string, timeoutMillis: number) => Effect.Effect<void, RequestError>
}

/**
 * What a request does with the server's progress notifications: `onProgress` sees each one; with
 * `resetTimeout`, each also restarts the request's deadline, never past `maxTotalMillis` from its
 * start. @internal
 */
export interface RequestProgress {
  readonly onProgress: (progress: Progress) => void
  readonly resetTimeout?: { readonly maxTotalMillis: number } | undefined
}

/** The `_meta` a request with progress carries: `send` puts it in the request's params. @internal */
export interface ProgressMeta {
  readonly progressToken: string
}

/** @internal */
export interface OpenOptions {
  readonly clientInfo?: Implementation | undefined
  readonly capabilities?: ClientCapabilities | undefined
  /** Answers to server-to-client requests; their capabilities are merged into `capabilities`. */
  readonly handlers?: HandlerOptions | undefined
  /** The deepest output schema accepted (see `outputSchemas.ts`). Default 64. */
  readonly maxSchemaDepth?: number | undefined
  /** The most output-schema validators cached (see `outputSchemas.ts`): `maxTools`. Default 10,000. */
  readonly maxCachedValidators?: number | undefined
}

/** The SDK's own request timer is kept out of the way: Effect enforces every deadline. */
const SDK_TIMEOUT = 2_147_483_647

const DEFAULT_CLIENT_INFO: Implementation = { name: "mcp-resilience", version: "0.1.0" }

/** How long a release waits for notifications still being sent (see `flushNotificationsOnRelease`). */
const NOTIFICATION_FLUSH_BOUND = Duration.seconds(1)

/**
 * Makes the release wait (at most {@link NOTIFICATION_FLUSH_BOUND}) for the notifications the
 * SDK is still sending: a call interrupted just before the program ends sends
 * `notifications/cancelled`, over HTTP a POST of its own that closing the transport would abort.
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
 * Opens a transport to `config` and completes the handshake, in the current scope; closing the
 * scope ends the session (child stopped, HTTP session deleted).
 *
 * @internal
 */
export const open = (
  config: McpServerConfig.McpServerConfig,
  server: string,
  deadlines: Deadlines,
  options: OpenOptions
): Effect.Effect<Session, McpConnectError | McpAuthError, Scope.Scope> =>
  Effect.gen(function*() {
    const transports = yield* McpTransports
    const opened = yield* transports.open(config, server)
    yield* flushNotificationsOnRelease(opened)
    const runFork = Runtime.runFork(yield* detachedRuntime)
    const sdk = new Client(options.clientInfo ?? DEFAULT_CLIENT_INFO, {
      capabilities: { ...Handlers.capabilitiesOf(options.handlers), ...options.capabilities },
      jsonSchemaValidator: new OutputValidators(
        options.maxSchemaDepth ?? 64,
        (message) => runFork(Effect.logWarning(message).pipe(Effect.annotateLogs("server", server))),
        options.maxCachedValidators
      )
    })
    const afterHandshake = yield* Handlers.install(sdk, server, options.handlers)
    const closed = Deferred.unsafeMake<McpConnectError>(FiberId.none)
    let reason: McpConnectError | undefined
    let listeners: Array<(reason: McpConnectError) => void> = []
    sdk.onclose = () => {
      if (reason !== undefined) return
      reason = closedError(server, opened.describeClose?.() ?? "the transport closed")
      Deferred.unsafeDone(closed, Exit.succeed(reason))
      const waiting = listeners
      listeners = []
      for (const listener of waiting) listener(reason)
    }
    sdk.onerror = constVoid
    // the version `initialize` settled on: the SDK tells the transport (only HTTP keeps it)
    let protocolVersion: string | undefined
    const transport = opened.transport
    const setProtocolVersion = transport.setProtocolVersion?.bind(transport)
    transport.setProtocolVersion = (version) => {
      protocolVersion = version
      setProtocolVersion?.(version)
    }
    yield* Effect.tryPromise({
      try: (signal) => sdk.connect(opened.transport, { signal, timeout: SDK_TIMEOUT }),
      catch: (cause) => connectError(server, opened, cause)
    })
    let open = true
    yield* addFinalizer(Effect.sync(() => {
      open = false
    }))
    yield* afterHandshake
    return makeSession(server, sdk, opened, deadlines, {
      protocolVersion,
      closed: Deferred.await(closed),
      isOpen: () => open && reason === undefined,
      onClose: (listener) => {
        if (reason === undefined) listeners.push(listener)
        else listener(reason)
      }
    })
  })

/** Progress tokens are ours (the SDK's `onprogress` loses a notification that arrives with the response). */
const PROGRESS_TOKEN_PREFIX = "mcp-resilience-"

/** The SDK's handler tables, read to drop what it would ignore anyway (absent in another SDK version: nothing dropped). */
interface SdkHandlerTables {
  readonly _notificationHandlers?: unknown
  readonly fallbackNotificationHandler?: unknown
  readonly _progressHandlers?: unknown
}

/**
 * Routes `notifications/progress` for our tokens to their listeners as each message arrives, in
 * order with the responses (the SDK handles notifications a microtask later, after a response
 * that came in the same chunk has already dropped its progress handler). Others go to the SDK,
 * except notifications it would ignore: the SDK first runs four schema checks on every message
 * (about 40 µs for a notification, whose failed checks build errors), so a server flooding
 * `notifications/message` would otherwise keep the event loop busy and delay every deadline.
 */
const routeInbound = (opened: OpenedTransport, sdk: Client): Map<string, (progress: Progress) => void> => {
  const listeners = new Map<string, (progress: Progress) => void>()
  const tables = sdk as unknown as SdkHandlerTables
  const handlers = tables._notificationHandlers instanceof Map ? tables._notificationHandlers : undefined
  const sdkProgress = tables._progressHandlers instanceof Map ? tables._progressHandlers : undefined
  /** Whether the SDK would do nothing with this notification. */
  const ignored = (method: string, params: { readonly progressToken?: unknown } | undefined) => {
    if (method === "notifications/progress") {
      return sdkProgress !== undefined && !sdkProgress.has(Number(params?.progressToken)) // the SDK keys them by number
    }
    return handlers !== undefined && !handlers.has(method) && tables.fallbackNotificationHandler === undefined
  }
  const transport = opened.transport
  const sdkOnMessage = transport.onmessage
  transport.onmessage = (message, extra) => {
    if ("method" in message && !("id" in message)) {
      const params = message.params as (Progress & { progressToken?: unknown }) | undefined
      if (listeners.size > 0 && message.method === "notifications/progress") {
        const { progressToken, ...progress } = params ?? ({} as Progress & { progressToken?: unknown })
        const listener = typeof progressToken === "string" ? listeners.get(progressToken) : undefined
        if (listener !== undefined && typeof progress.progress === "number") return listener(progress)
      }
      if (ignored(message.method, params)) return
    }
    sdkOnMessage?.(message, extra)
  }
  return listeners
}

const makeSession = (
  server: string,
  sdk: Client,
  opened: OpenedTransport,
  deadlines: Deadlines,
  lifecycle: Pick<Session, "protocolVersion" | "closed" | "isOpen" | "onClose">
): Session => {
  const progressListeners = routeInbound(opened, sdk)
  /** Progress tokens of this session's requests (unique within the session, as the spec asks). */
  let progressTokens = 0
  // the id of the last request sent, for `jsonrpc.request.id`: the SDK numbers a request and
  // hands it to the transport synchronously, within the call that starts it
  let sentId: string | number | undefined
  const transport = opened.transport
  const sendMessage = transport.send.bind(transport)
  transport.send = (message, options) => {
    if ("method" in message && "id" in message) sentId = message.id
    return sendMessage(message, options)
  }

  /**
   * Starts one request and calls `resume` once with its outcome; returns the canceller, which
   * aborts the request while it is in flight (the SDK then sends `notifications/cancelled`).
   */
  const start = <A>(
    resume: (exit: Exit.Exit<A, RequestError>) => void,
    method: string,
    target: string | undefined,
    timeoutMillis: number,
    send: (options: SdkRequestOptions, meta?: ProgressMeta) => Promise<A>,
    progress: RequestProgress | undefined
  ): () => void => {
    const signal = new RequestSignal()
    let done = false
    const maxTotal = progress?.resetTimeout?.maxTotalMillis ?? Number.POSITIVE_INFINITY
    const startedAt = progress?.resetTimeout === undefined ? 0 : deadlines.now()
    /** The deadline from now: the attempt's timeout, cut at the total bound (`after` is the one that applies). */
    let after = Math.min(timeoutMillis, maxTotal)
    const expire = () => {
      if (done) return
      done = true
      try {
        signal.abort("timeout")
      } finally {
        // the request ends at its deadline even if an abort listener throws
        resume(Exit.fail(
          new McpTimeoutError({
            server,
            operation: target === undefined ? method : `${method} ${target}`,
            after: Duration.millis(after),
            maybeExecuted: true
          })
        ))
      }
    }
    let entry = deadlines.add(after, expire)
    const token = progress === undefined ? undefined : `${PROGRESS_TOKEN_PREFIX}${++progressTokens}`
    const settle = (exit: Exit.Exit<A, RequestError>) => {
      if (done) return
      done = true
      deadlines.remove(entry)
      if (token !== undefined) progressListeners.delete(token)
      resume(exit)
    }
    const onProgress = progress === undefined ? undefined : (notification: Progress) => {
      if (done) return
      if (progress.resetTimeout !== undefined) {
        const left = maxTotal - (deadlines.now() - startedAt)
        deadlines.remove(entry)
        after = left < timeoutMillis ? maxTotal : timeoutMillis
        entry = deadlines.add(Math.max(0, Math.min(timeoutMillis, left)), expire)
      }
      try {
        progress.onProgress(notification)
      } catch {
        // a listener's failure is its own: the request goes on
      }
    }
    if (token !== undefined) progressListeners.set(token, onProgress!)
    const failed = (cause: unknown) => settle(Exit.fail(requestError(server, method, opened, cause)))
    try {
      send(
        { signal: signal as unknown as AbortSignal, timeout: SDK_TIMEOUT },
        token === undefined ? undefined : { progressToken: token }
      ).then((value) => settle(Exit.succeed(value)), failed)
    } catch (cause) {
      // a send that throws instead of rejecting fails the request in the same way
      failed(cause)
    }
    return () => {
      if (done) return
      done = true
      deadlines.remove(entry)
      if (token !== undefined) progressListeners.delete(token)
      signal.abort("interrupted")
    }
  }

  const request = <A>(
    method: string,
    timeoutMillis: number,
    send: (options: SdkRequestOptions, meta?: ProgressMeta) => Promise<A>,
    target?: string,
    progress?: RequestProgress
  ) =>
    Effect.async<A, RequestError>((resume) => Effect.sync(start(resume, method, target, timeoutMillis, send, progress)))

  /** Sends `tools/call`, with the span's trace context in `_meta`, and sets its request id on the span. */
  const sendCallTool = (name: string, args: Record<string, unknown> | undefined, span: Tracer.Span | undefined) =>
  (
    o: SdkRequestOptions,
    meta?: ProgressMeta
  ): Promise<CallToolResult> => {
    const trace = span === undefined ? undefined : traceMeta(span)
    const _meta = trace === undefined && meta === undefined ? undefined : { ...trace, ...meta }
    sentId = undefined
    const result = sdk.callTool(
      _meta === undefined ? { name, arguments: args ?? {} } : { name, arguments: args ?? {}, _meta },
      undefined,
      o
    ) as Promise<CallToolResult>
    if (span !== undefined && sentId !== undefined) span.attribute("jsonrpc.request.id", String(sentId))
    return result
  }

  return {
    server,
    serverInfo: sdk.getServerVersion(),
    capabilities: sdk.getServerCapabilities(),
    instructions: sdk.getInstructions(),
    sessionId: opened.transport.sessionId,
    pid: opened.pid?.(),
    ...lifecycle,
    onToolsChanged: (listener) => sdk.setNotificationHandler(ToolListChangedNotificationSchema, listener),
    request,
    callTool: (name, args, timeoutMillis, span, progress) =>
      request("tools/call", timeoutMillis, sendCallTool(name, args, span), name, progress),
    startCallTool: (name, args, timeoutMillis, span, progress, done) =>
      start(done, "tools/call", name, timeoutMillis, sendCallTool(name, args, span), progress),
    listToolsPage: (cursor, timeoutMillis) =>
      request("tools/list", timeoutMillis, (o) => sdk.listTools(cursor === undefined ? undefined : { cursor }, o)),
    ping: (timeoutMillis) => Effect.asVoid(request("ping", timeoutMillis, (o) => sdk.ping(o))),
    createToolTask: (name, args, ttlMillis, timeoutMillis) =>
      request(
        "tools/call",
        timeoutMillis,
        (o) =>
          sdk.request(
            {
              method: "tools/call",
              params: { name, arguments: args ?? {}, task: ttlMillis === undefined ? {} : { ttl: ttlMillis } }
            },
            CreateTaskResultSchema,
            o
          ).then((created) => created.task),
        name
      ),
    getTask: (taskId, timeoutMillis) =>
      request("tasks/get", timeoutMillis, (o) => sdk.experimental.tasks.getTask(taskId, o), taskId),
    getTaskResult: (taskId, timeoutMillis) =>
      request(
        "tasks/result",
        timeoutMillis,
        (o) => sdk.experimental.tasks.getTaskResult(taskId, CallToolResultSchema, o) as Promise<CallToolResult>,
        taskId
      ),
    cancelTask: (taskId, timeoutMillis) =>
      Effect.asVoid(request("tasks/cancel", timeoutMillis, (o) => sdk.experimental.tasks.cancelTask(taskId, o), taskId))
  }
}
