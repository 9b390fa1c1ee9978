/**
 * What opens a transport to a server: a service, so a test can swap in one that fails on
 * cue or hands out in-memory transports, and drive the connect schedule with `TestClock`
 * with no I/O at all.
 *
 * @since 0.1.0
 */
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js"
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import { Provider } from "./internal/auth/provider.js"
import { memoryStore } from "./internal/auth/stores.js"
import { authFetch, AuthSse, AuthStreamableHttp } from "./internal/auth/transport.js"
import { recordingFetch } from "./internal/httpFetch.js"
import { scrubber } from "./internal/redact.js"
import { acquireRelease, addFinalizer, bounded } from "./internal/release.js"
import { detachedRuntime } from "./internal/span.js"
import { defaultEnvironment, StdioTransport } from "./internal/stdioTransport.js"
import { Authorization, TokenStore } from "./McpAuth.js"
import { type McpAuthError, McpConnectError } from "./McpError.js"
import type * as McpServerConfig from "./McpServerConfig.js"

/**
 * What the last HTTP exchange said, kept by the fetch wrapper of HTTP transports.
 *
 * @since 0.1.0
 * @category models
 */
export interface HttpExchange {
  readonly status: number
  readonly retryAfter: Duration.Duration | undefined
  readonly sessionId: string | undefined
}

/**
 * A transport ready for `Client.connect`, with what the client needs to describe failures.
 *
 * @since 0.1.0
 * @category models
 */
export interface OpenedTransport {
  readonly transport: Transport
  /** The child's PID for stdio servers. */
  readonly pid?: (() => number | undefined) | undefined
  /** Why the transport closed, for error messages ("server process exited with code 1; stderr: ..."). */
  readonly describeClose?: (() => string | undefined) | undefined
  /** The last non-2xx HTTP answer, for HTTP transports. */
  readonly lastHttpError?: (() => HttpExchange | undefined) | undefined
  /** Replaces the secret values of the config (headers, env) in a text the server wrote. */
  readonly scrub?: ((text: string) => string) | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /**
   * Creates (but does not start) a transport to `config`; `Client.connect` starts it. Closing
   * the scope ends the session: stdio children are stopped, HTTP sessions deleted.
   */
  readonly open: (
    config: McpServerConfig.McpServerConfig,
    server: string
  ) => Effect.Effect<OpenedTransport, McpConnectError | McpAuthError, Scope.Scope>
}

/**
 * The transport factory in use. Defaults to {@link live}; provide another with
 * `Effect.provideService(McpTransports, fake)` or `Layer.succeed(McpTransports, fake)`.
 *
 * @since 0.1.0
 * @category models
 */
export class McpTransports extends Context.Reference<McpTransports>()("@mcp-resilience/client/McpTransports", {
  defaultValue: (): Service => live
}) {}

const unredact = (record: Readonly<Record<string, Redacted.Redacted<string>>>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(record)) out[k] = Redacted.value(v)
  return out
}

const HTTP_CLOSE_BOUND = Duration.seconds(2)

/** A step of a release, bounded in time (see `bounded`): fails with a `TimeoutException` after the bound. */
const boundedClose = <A, E>(close: Effect.Effect<A, E>) => bounded(close, HTTP_CLOSE_BOUND)

/**
 * DELETEs a Streamable HTTP session. Not the SDK's `terminateSession`: it sends the request
 * with the transport's own AbortSignal, which `Client.connect` has already aborted (it closes
 * the transport) when the handshake failed or was interrupted after the server had assigned
 * a session, so the session would stay open on the server; and it cannot be aborted when the
 * release's time bound runs out, leaving the request (and its socket) behind.
 */
const deleteSession = async (
  config: McpServerConfig.Http | McpServerConfig.Sse,
  transport: StreamableHTTPClientTransport,
  sessionId: string,
  signal: AbortSignal
): Promise<void> => {
  const headers = new Headers(unredact(config.headers))
  headers.set("mcp-session-id", sessionId)
  if (transport instanceof AuthStreamableHttp) {
    const tokens = await transport.provider.tokens()
    if (tokens !== undefined) headers.set("authorization", `Bearer ${tokens.access_token}`)
  }
  if (transport.protocolVersion !== undefined) headers.set("mcp-protocol-version", transport.protocolVersion)
  const response = await fetch(config.url, { method: "DELETE", headers, signal, redirect: "manual" })
  await response.body?.cancel()
  // 405: the server does not support ending sessions
  if (!response.ok && response.status !== 405) throw new Error(`DELETE of the session answered ${response.status}`)
}

const openHttp = (config: McpServerConfig.Http | McpServerConfig.Sse, server: string) =>
  acquireRelease(
    Effect.gen(function*() {
      // a GET stream that cannot be reopened means the server is gone: closing the transport ends the
      // session, and the supervisor replaces it (with health checks off too)
      let current: Transport | undefined
      const recorder = recordingFetch(config.maxMessageBytes, () => void current?.close())
      // a header's value, and its credentials alone (the token after `Bearer `)
      const scrub = scrubber(
        Object.values(config.headers).flatMap((v) => [Redacted.value(v), ...Redacted.value(v).split(/\s+/).slice(1)])
      )
      const requestInit: RequestInit = { headers: unredact(config.headers) }
      const url = new URL(config.url)
      if (config.auth !== undefined) {
        const provider = new Provider({
          server,
          url: url.href,
          auth: config.auth,
          // McpTools and McpClient provide one; a transport opened on its own keeps its tokens itself
          store: Option.getOrElse(yield* Effect.serviceOption(TokenStore), memoryStore),
          authorization: yield* Authorization,
          runtime: yield* detachedRuntime
        })
        const options = { requestInit, fetch: authFetch(provider, recorder.fetchFn) }
        // the provider's own requests (the identity provider's token exchange) go the same way
        provider.fetchFn = options.fetch
        const transport = config._tag === "Http"
          ? new AuthStreamableHttp(url, options, provider)
          : new AuthSse(url, options, provider)
        current = transport
        return { transport, lastHttpError: recorder.last, scrub } satisfies OpenedTransport
      }
      const transport = config._tag === "Http"
        ? new StreamableHTTPClientTransport(url, { requestInit, fetch: recorder.fetchFn })
        // the SDK's SSE transport uses `fetch` for the event stream too, adding `requestInit`'s headers
        : new SSEClientTransport(url, { requestInit, fetch: recorder.fetchFn })
      current = transport
      return { transport, lastHttpError: recorder.last, scrub } satisfies OpenedTransport
    }),
    ({ transport }) =>
      Effect.gen(function*() {
        if (transport instanceof StreamableHTTPClientTransport && transport.sessionId !== undefined) {
          // the specification asks clients to DELETE the session they no longer need
          const sessionId = transport.sessionId
          yield* boundedClose(Effect.tryPromise((signal) => deleteSession(config, transport, sessionId, signal))).pipe(
            Effect.catchAll((error) => Effect.logDebug("could not delete the HTTP session", error)),
            Effect.annotateLogs("server", server)
          )
        }
        yield* boundedClose(Effect.tryPromise(() => transport.close())).pipe(Effect.ignore)
      })
  )

const openStdio = (config: McpServerConfig.Stdio, server: string) =>
  Effect.gen(function*() {
    const runFork = Runtime.runFork(yield* detachedRuntime)
    const transport = new StdioTransport({
      scrub: scrubber(Object.values(config.env).map(Redacted.value)),
      command: config.command,
      args: config.args,
      env: { ...defaultEnvironment(), ...unredact(config.env) },
      cwd: config.cwd,
      stderr: config.stderr,
      after: (millis, f) => runFork(Effect.delay(Effect.sync(f), Duration.millis(millis))),
      onStderrLine: (line) => runFork(Effect.logDebug(line).pipe(Effect.annotateLogs({ server, stream: "stderr" }))),
      onInvalidMessage: (line, error) =>
        runFork(
          Effect.logWarning("ignored a line on stdout that is not a JSON-RPC message").pipe(
            Effect.annotateLogs({
              server,
              line: line.slice(0, 200),
              error: error instanceof Error ? error.message.slice(0, 200) : String(error)
            })
          )
        )
    })
    yield* addFinalizer(transport.terminate(Duration.millis(config.shutdownGraceMillis)))
    return {
      transport,
      pid: () => transport.pid,
      describeClose: () => (transport.exited || transport.outputClosed ? transport.describeExit() : undefined)
    } satisfies OpenedTransport
  })

const openInMemory = (config: McpServerConfig.InMemory, server: string) =>
  Effect.gen(function*() {
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
    yield* Effect.tryPromise({
      try: () => config.connect(serverSide),
      catch: (cause) =>
        new McpConnectError({
          server,
          reason: "Refused",
          detail: "the in-memory server did not accept the connection",
          cause
        })
    })
    // made when it runs: a session keeps no finalizer built ahead
    yield* addFinalizer(Effect.suspend(() =>
      boundedClose(Effect.promise(() => Promise.allSettled([clientSide.close(), serverSide.close()]))).pipe(
        Effect.ignore
      )
    ))
    return { transport: clientSide } satisfies OpenedTransport
  })

/**
 * The real transports: child processes over stdio, Streamable HTTP, SSE, and in-memory pairs.
 *
 * @since 0.1.0
 * @category constructors
 */
export const live: Service = {
  open: (config, server) => {
    switch (config._tag) {
      case "Stdio":
        return openStdio(config, server)
      case "Http":
      case "Sse":
        return openHttp(config, server)
      case "InMemory":
        return openInMemory(config, server)
    }
  }
}
