/**
 * Connecting: one attempt opens a transport and completes the handshake in a scope of its own;
 * {@link connect} runs attempts under the retry policy, with a span, metrics and a log line
 * per failed attempt, and hands back the session.
 *
 * 1. validate the config (a bad config fails at once, never retried);
 * 2. each attempt: fork a scope from the caller's, open the session in it (`session.open`),
 *    falling back to HTTP+SSE when asked and the endpoint looks like an old server; a failed
 *    or interrupted attempt closes its scope (its process stopped) at once;
 * 3. the attempts run under `RetryPolicy.retry` (backoff, per-attempt timeout, deadline,
 *    budget), each wrapped by `wrapAttempt` (the breaker, a handshake semaphore), and each
 *    waiting first for the `HandshakeLimiter` in context, if any.
 *
 * @internal
 */
import { type RetryBudget, RetryPolicy } from "@mcp-resilience/policy"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import type { ConnectError } from "../McpClient.js"
import { type McpConnectError, McpTimeoutError } from "../McpError.js"
import * as McpServerConfig from "../McpServerConfig.js"
import type { Deadlines } from "./deadlines.js"
import { describeError, reasonOf } from "./errors.js"
import { fleetKey, limitHandshakes } from "./fleet.js"
import { metricsFor, type ServerMetrics } from "./metrics.js"
import * as Session from "./session.js"
import { errorTypeOfCause, networkTransport } from "./telemetry.js"

/** What connecting can fail with. @internal */
export type { ConnectError }

/** @internal */
export interface ConnectOptions extends Session.OpenOptions {
  readonly policy?: RetryPolicy.RetryPolicy | undefined
  readonly budget?: RetryBudget.RetryBudget | undefined
  readonly onRetry?: ((step: RetryPolicy.RetryStep) => Effect.Effect<void>) | undefined
  readonly wrapAttempt?:
    | (<A>(attempt: Effect.Effect<A, ConnectError>) => Effect.Effect<A, ConnectError>)
    | undefined
  /** The server's metric updaters, when the caller keeps them; made here otherwise. */
  readonly metrics?: ServerMetrics | undefined
}

/** @internal */
export interface Connected {
  readonly session: Session.Session
  /** How many attempts it took. */
  readonly attempts: number
}

/**
 * A Streamable HTTP endpoint answering 400, 404 or 405 to the first POST may be an older
 * HTTP+SSE server: with `fallbackToSse` the same attempt tries SSE at the same URL, as the
 * specification's backwards-compatibility section suggests.
 */
const SSE_FALLBACK_STATUSES: ReadonlySet<number> = new Set([400, 404, 405])

const openWithFallback = (
  config: McpServerConfig.McpServerConfig,
  server: string,
  deadlines: Deadlines,
  options: ConnectOptions
) =>
  Session.open(config, server, deadlines, options).pipe(
    Effect.catchIf(
      (error): error is McpConnectError =>
        config._tag === "Http" && config.fallbackToSse && error._tag === "McpConnectError" &&
        error.status !== undefined && SSE_FALLBACK_STATUSES.has(error.status),
      (error) =>
        Effect.logInfo(`Streamable HTTP answered ${error.status}; trying HTTP+SSE`).pipe(
          Effect.annotateLogs("server", server),
          Effect.zipRight(Session.open(
            McpServerConfig.sse({
              name: server,
              url: (config as McpServerConfig.Http).url,
              headers: (config as McpServerConfig.Http).headers
            }),
            server,
            deadlines,
            options
          ))
        )
    )
  )

/** One attempt in a scope forked from `parent`: closed at once if the attempt fails. */
const attempt = (
  config: McpServerConfig.McpServerConfig,
  server: string,
  parent: Scope.Scope,
  deadlines: Deadlines,
  options: ConnectOptions
) =>
  Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(
      Scope.fork(parent, ExecutionStrategy.sequential),
      (scope) =>
        restore(Scope.extend(openWithFallback(config, server, deadlines, options), scope)).pipe(
          Effect.onExit((exit) => (Exit.isFailure(exit) ? Scope.close(scope, exit) : Effect.void))
        )
    )
  )

/**
 * Connects to `config` under the policy; the session lives until the current scope closes.
 *
 * @internal
 */
export const connect = (
  config: McpServerConfig.McpServerConfig,
  deadlines: Deadlines,
  options: ConnectOptions
): Effect.Effect<Connected, ConnectError, Scope.Scope> =>
  Effect.gen(function*() {
    const valid = yield* McpServerConfig.validate(config)
    const server = McpServerConfig.name(valid)
    const parent = yield* Effect.scope
    const started = yield* Clock.currentTimeMillis
    const metrics = options.metrics ?? metricsFor(server)
    const transport = networkTransport(valid)
    const spanAttributes = transport === undefined
      ? { "mcp.server.name": server }
      : { "mcp.server.name": server, "network.transport": transport }
    // a HandshakeLimiter in context caps handshakes per server (across the fleet with Redis)
    const limited = yield* limitHandshakes(fleetKey(valid))
    let attempts = 0

    const one = Effect.suspend(() => {
      const n = ++attempts
      const run = limited(attempt(valid, server, parent, deadlines, options))
      return (options.wrapAttempt === undefined ? run : options.wrapAttempt(run)).pipe(
        Effect.tapBoth({
          onFailure: () => Effect.sync(() => metrics.connectAttempt("failure")),
          onSuccess: () => Effect.sync(() => metrics.connectAttempt("success"))
        }),
        Effect.tapErrorCause((cause) => Effect.annotateCurrentSpan("error.type", errorTypeOfCause(cause))),
        Effect.withSpan("mcp.connect.attempt", {
          attributes: { ...spanAttributes, "mcp.connect.attempt": n }
        })
      )
    })

    const session = yield* RetryPolicy.retry(one, options.policy ?? RetryPolicy.default, {
      budget: options.budget,
      onTimeout: ({ after, kind }) =>
        new McpTimeoutError({ server, operation: kind === "attempt" ? "connect.attempt" : "connect", after }),
      onRetry: (step) =>
        Effect.logWarning(
          `connect attempt ${step.attempt - 1} of ${step.maxAttempts} failed: ${describeError(step.error)}; ` +
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
        Effect.logError(`could not connect after ${attempts} attempt(s): ${describeError(error)}`).pipe(
          Effect.annotateLogs({ server, attempts, reason: reasonOf(error) })
        )
      ),
      Effect.tapErrorCause((cause) => Effect.annotateCurrentSpan("error.type", errorTypeOfCause(cause))),
      Effect.withSpan("mcp.connect", { attributes: { ...spanAttributes, "mcp.transport": valid._tag } })
    )

    metrics.connectDuration(((yield* Clock.currentTimeMillis) - started) / 1000)
    yield* Effect.logInfo(`connected to ${session.serverInfo?.name ?? server} after ${attempts} attempt(s)`).pipe(
      Effect.annotateLogs({ server, attempts, sessionId: session.sessionId ?? "-", pid: session.pid ?? "-" })
    )
    return { session, attempts }
  })
