/**
 * One MCP session: connect under a retry policy, then list and call tools with per-call
 * deadlines; closing the scope ends the session (child stopped, HTTP session deleted).
 *
 * @since 0.1.0
 */
import type { RetryBudget, RetryPolicy } from "@mcp-resilience/policy"
import type {
  CallToolResult,
  ClientCapabilities,
  Implementation,
  ServerCapabilities,
  Tool
} from "@modelcontextprotocol/sdk/types.js"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import { fromSession } from "./internal/client.js"
import { connect } from "./internal/connect.js"
import { Deadlines, DeadlineTimer } from "./internal/deadlines.js"
import { fleetKey, sharedBudget } from "./internal/fleet.js"
import { addFinalizer } from "./internal/release.js"
import { TokenStore } from "./McpAuth.js"
import type { McpAuthError, McpCircuitOpenError, McpConfigError, McpProtocolError } from "./McpError.js"
import type { McpConnectError, McpTimeoutError } from "./McpError.js"
import type * as McpHandlers from "./McpHandlers.js"
import type * as McpServerConfig from "./McpServerConfig.js"

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
  /**
   * Answers to the server's requests (elicitation, sampling, roots), installed on every session;
   * the capabilities they imply are advertised. See `McpHandlers`.
   */
  readonly handlers?: McpHandlers.Handlers | undefined
  /** Runs before each wait between connection attempts (for status displays). */
  readonly onRetry?: ((step: RetryPolicy.RetryStep) => Effect.Effect<void>) | undefined
  /** A retry budget shared with other connects and calls; when it is empty, retries slow to its probe pace. */
  readonly budget?: RetryBudget.RetryBudget | undefined
  /** Wraps each connection attempt (e.g. in a circuit breaker). */
  readonly wrapAttempt?:
    | (<A>(attempt: Effect.Effect<A, ConnectError>) => Effect.Effect<A, ConnectError>)
    | undefined
}

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
    const clock = yield* Effect.clock
    const deadlines = new Deadlines(DeadlineTimer.of(clock), Runtime.runFork(yield* Effect.runtime<never>()))
    // a RetryBudgetStore in context shares the budget per server (across the fleet with Redis)
    const budget = yield* sharedBudget(fleetKey(config), options.budget)
    // OAuth tokens: the TokenStore provided, else one in memory for this client's attempts alone
    const tokens = Option.getOrElse(yield* Effect.serviceOption(TokenStore), TokenStore.memory)
    const { attempts, session } = yield* connect(config, deadlines, { ...options, budget }).pipe(
      Effect.provideService(TokenStore, tokens)
    )
    // added last, so it runs first when the session closes: nothing of it expires during its release
    yield* addFinalizer(deadlines.shutdown)
    return fromSession(session, attempts, options.requestTimeout)
  })

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
