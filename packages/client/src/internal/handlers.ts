/**
 * The handlers of server-to-client requests on one session's SDK client: the capabilities they
 * imply, their installation, and how each run is bounded.
 *
 * Each request from the server runs its handler as a fiber of the session's `FiberSet` (closing
 * the session interrupts it), under the handler deadline, and only while fewer than
 * `maxInFlight` are running. The SDK's abort signal (the server cancelled, or the transport
 * closed) interrupts the fiber. Whatever the handler does, the server gets an answer: its result,
 * or a JSON-RPC error; nothing reaches the session's own error paths.
 *
 * @internal
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js"
import {
  type ClientCapabilities,
  CreateMessageRequestSchema,
  type ElicitRequestFormParams,
  ElicitRequestSchema,
  ErrorCode,
  ListRootsRequestSchema,
  type Root
} from "@modelcontextprotocol/sdk/types.js"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberId from "effect/FiberId"
import * as FiberSet from "effect/FiberSet"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Subscribable from "effect/Subscribable"
import { DEFAULT_MAX_IN_FLIGHT, DEFAULT_TIMEOUT, HandlerError, type Handlers } from "../McpHandlers.js"
import { addFinalizer } from "./release.js"
import { detachedRuntime } from "./span.js"

/** The capabilities the given handlers imply. @internal */
export const capabilitiesOf = (handlers: Handlers | undefined): ClientCapabilities => {
  if (handlers === undefined) return {}
  const capabilities: ClientCapabilities = {}
  const elicitation = handlers.elicitation
  if (elicitation?.form !== undefined || elicitation?.url !== undefined) {
    capabilities.elicitation = {
      ...(elicitation.form === undefined ? {} : { form: { applyDefaults: elicitation.applyDefaults ?? true } }),
      ...(elicitation.url === undefined ? {} : { url: {} })
    }
  }
  if (handlers.sampling !== undefined) capabilities.sampling = {}
  if (handlers.roots !== undefined) {
    capabilities.roots = Subscribable.isSubscribable(handlers.roots) ? { listChanged: true } : {}
  }
  return capabilities
}

/** A JSON-RPC error answer: the SDK sends `{ code, message }` of a plain Error as is. */
const rpcError = (code: number, message: string) => Object.assign(new Error(message), { code })

const rootsOf = (roots: NonNullable<Handlers["roots"]>): Effect.Effect<ReadonlyArray<Root>> =>
  Subscribable.isSubscribable(roots)
    ? (roots as Subscribable.Subscribable<ReadonlyArray<Root>>).get
    : Effect.succeed(roots as ReadonlyArray<Root>)

/**
 * Sets the request handlers on `sdk` (before `connect`: the SDK checks them against the declared
 * capabilities). Returns what to run once the handshake is done: the roots watcher.
 *
 * @internal
 */
export const install = (
  sdk: Client,
  server: string,
  handlers: Handlers | undefined
): Effect.Effect<Effect.Effect<void, never, Scope.Scope>, never, Scope.Scope> =>
  Effect.gen(function*() {
    if (handlers === undefined) return Effect.void
    const fibers = yield* FiberSet.make<unknown, unknown>()
    // closed before the set interrupts its fibers: a request that comes after runs no handler
    let closed = false
    yield* addFinalizer(Effect.sync(() => (closed = true)))
    // the handlers run later, outside the connect attempt's span (see `detachedRuntime`)
    const runFork = Runtime.runFork(yield* detachedRuntime)
    const run = <A, E>(effect: Effect.Effect<A, E>) => {
      const fiber = runFork(Effect.suspend(() => closed ? Effect.interrupt : effect))
      FiberSet.unsafeAdd(fibers, fiber)
      return fiber
    }
    const timeout = Duration.decode(handlers.timeout ?? DEFAULT_TIMEOUT)
    const maxInFlight = handlers.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT
    let inFlight = 0

    /** Runs one handler for one request: bounded in number and time, interrupted by `signal`. */
    const answer = <A>(method: string, handler: Effect.Effect<A, unknown>, signal: AbortSignal): Promise<A> => {
      if (inFlight >= maxInFlight) {
        return Promise.reject(
          rpcError(ErrorCode.InternalError, `too many ${method} requests in flight (maxInFlight: ${maxInFlight})`)
        )
      }
      inFlight++
      return new Promise<A>((resolve, reject) => {
        const fiber = run(handler.pipe(
          Effect.timeoutFail({
            duration: timeout,
            onTimeout: () =>
              new HandlerError({
                code: ErrorCode.RequestTimeout,
                message: `the client's ${method} handler timed out after ${Duration.format(timeout)}`
              })
          }),
          Effect.tapErrorCause((cause) =>
            Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logWarning(
              `the ${method} handler failed: ${describe(Cause.squash(cause))}; the server is answered with an error`
            ).pipe(Effect.annotateLogs({ server, method }))
          )
        ))
        const onAbort = () => fiber.unsafeInterruptAsFork(FiberId.none)
        signal.addEventListener("abort", onAbort, { once: true })
        fiber.addObserver((exit) => {
          inFlight--
          signal.removeEventListener("abort", onAbort)
          if (exit._tag === "Success") return resolve(exit.value)
          const error = Cause.squash(exit.cause)
          if (error instanceof HandlerError) return reject(rpcError(error.code, error.message))
          reject(rpcError(ErrorCode.InternalError, `the client's ${method} handler failed`))
        })
      })
    }

    const elicitation = handlers.elicitation
    if (elicitation?.form !== undefined || elicitation?.url !== undefined) {
      sdk.setRequestHandler(ElicitRequestSchema, (request, extra) => {
        const params = request.params
        // the SDK checked the mode against the advertised capabilities (which `capabilities` may widen)
        const handler = params.mode === "url"
          ? elicitation.url?.(params)
          : elicitation.form?.(params as ElicitRequestFormParams)
        return handler === undefined
          ? Promise.reject(rpcError(ErrorCode.InvalidParams, `the client has no handler for ${params.mode} mode`))
          : answer("elicitation/create", handler, extra.signal)
      })
    }
    const sampling = handlers.sampling
    if (sampling !== undefined) {
      sdk.setRequestHandler(
        CreateMessageRequestSchema,
        (request, extra) => answer("sampling/createMessage", sampling(request.params), extra.signal)
      )
    }
    const roots = handlers.roots
    if (roots === undefined) return Effect.void
    sdk.setRequestHandler(
      ListRootsRequestSchema,
      (_request, extra) =>
        answer("roots/list", Effect.map(rootsOf(roots), (list) => ({ roots: [...list] })), extra.signal)
    )
    if (!Subscribable.isSubscribable(roots)) return Effect.void
    // after the handshake: each change of the user's roots is a notifications/roots/list_changed
    return (roots as Subscribable.Subscribable<ReadonlyArray<Root>>).changes.pipe(
      Stream.drop(1),
      Stream.runForEach(() => Effect.ignore(Effect.tryPromise(() => sdk.sendRootsListChanged()))),
      Effect.forkScoped,
      Effect.asVoid
    )
  })

/**
 * What a handler failed with, for the log: a `HandlerError`'s message (meant for the server
 * anyway), else the error's tag or name, never its message (it may hold a secret).
 */
const describe = (error: unknown): string => {
  if (error instanceof HandlerError) return error.message
  if (typeof error === "object" && error !== null) {
    const tag = (error as { _tag?: unknown })._tag
    if (typeof tag === "string") return tag
    if (error instanceof Error) return error.name
  }
  return typeof error
}
