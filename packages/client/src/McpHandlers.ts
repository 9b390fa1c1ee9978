/**
 * Answers to the requests a server sends the client: elicitation (ask the user), sampling (ask
 * the model) and roots (which folders the server may use). Handlers are Effect functions given
 * in the `handlers` option of `McpTools.layer` or `McpClient.make`; the client advertises the
 * capabilities that follow from what is given, and installs the handlers on every session, so
 * they survive reconnection.
 *
 * ```ts
 * const handlers: McpHandlers.Handlers = {
 *   elicitation: {
 *     form: (params) => Effect.succeed({ action: "accept", content: { name: "Ada" } })
 *   },
 *   timeout: "2 minutes"
 * }
 * ```
 *
 * A handler that fails answers the server with a JSON-RPC error (its own code and message when it
 * fails with {@link HandlerError}, a generic one otherwise); one that runs past `timeout` is
 * interrupted and answered with a timeout error; past `maxInFlight` requests at once, the server is
 * answered with an error at once. None of these affects the session.
 *
 * @since 0.1.0
 */
import type {
  CreateMessageRequestParams,
  CreateMessageResult,
  CreateMessageResultWithTools,
  ElicitRequestFormParams,
  ElicitRequestURLParams,
  ElicitResult,
  Root
} from "@modelcontextprotocol/sdk/types.js"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Subscribable from "effect/Subscribable"

/**
 * Fail a handler with this to answer the server with a JSON-RPC error of this `code` and
 * `message` (e.g. `-32602` invalid params). Any other failure is answered with `-32603` and a
 * message that only names the method, so nothing of the handler's error reaches the server.
 *
 * @since 0.1.0
 * @category errors
 */
export class HandlerError extends Schema.TaggedError<HandlerError>()("HandlerError", {
  code: Schema.Int,
  message: Schema.String
}) {}

/**
 * Elicitation: the server asks the user for input, through a form (`requestedSchema`, a flat
 * JSON Schema) or by sending them to a URL. Give the modes you support; the client advertises
 * exactly those.
 *
 * @since 0.1.0
 * @category models
 */
export interface Elicitation {
  /** Form mode: answer `accept` with `content`, or `decline`, or `cancel`. */
  readonly form?: ((params: ElicitRequestFormParams) => Effect.Effect<ElicitResult, unknown>) | undefined
  /** URL mode: open `params.url` for the user, then answer `accept` (consent), `decline` or `cancel`. */
  readonly url?: ((params: ElicitRequestURLParams) => Effect.Effect<ElicitResult, unknown>) | undefined
  /**
   * Fill the fields an accepted form left out with the `default` of their schema. Default `true`
   * (advertised as `elicitation.form.applyDefaults`).
   */
  readonly applyDefaults?: boolean | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Handlers {
  readonly elicitation?: Elicitation | undefined
  /** Sampling: the server asks for an LLM completion of `params.messages`. */
  readonly sampling?:
    | ((
      params: CreateMessageRequestParams
    ) => Effect.Effect<CreateMessageResult | CreateMessageResultWithTools, unknown>)
    | undefined
  /**
   * The roots the server may use: a fixed list, or a `SubscriptionRef` (any `Subscribable`) whose
   * every change is sent to the server as `notifications/roots/list_changed` (advertised as
   * `roots.listChanged`).
   */
  readonly roots?: ReadonlyArray<Root> | Subscribable.Subscribable<ReadonlyArray<Root>> | undefined
  /** The deadline of each handler run; past it the server gets a timeout error. Default 10 minutes. */
  readonly timeout?: Duration.DurationInput | undefined
  /**
   * Requests from the server being handled at once; past it the server is answered with an error
   * at once (a server is untrusted: it may flood the client). Default 16.
   */
  readonly maxInFlight?: number | undefined
}

/**
 * A root: a `file://` URI and an optional name.
 *
 * @since 0.1.0
 * @category models
 */
export type { Root }

/**
 * The default deadline of a handler run: a person may take a while to answer a form.
 *
 * @since 0.1.0
 * @category constructors
 */
export const DEFAULT_TIMEOUT: Duration.DurationInput = "10 minutes"

/**
 * The default bound on server requests handled at once.
 *
 * @since 0.1.0
 * @category constructors
 */
export const DEFAULT_MAX_IN_FLIGHT = 16
