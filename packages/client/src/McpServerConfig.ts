/**
 * How to reach an MCP server: a child process over stdio, Streamable HTTP (optionally
 * falling back to the older SSE transport), SSE, or an in-process server for tests.
 *
 * Constructors are plain and synchronous, so a Layer can be declared at module level;
 * {@link validate} (run by every connect) checks the fields and fails with
 * `McpConfigError` naming the field path and the reason.
 *
 * @since 0.1.0
 */
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
import * as Arr from "effect/Array"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Predicate from "effect/Predicate"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { DEFAULT_MAX_MESSAGE_BYTES } from "./internal/httpFetch.js"
import { redactUrl } from "./internal/redact.js"
import * as McpAuth from "./McpAuth.js"
import { McpConfigError } from "./McpError.js"

const NonEmpty = Schema.String.pipe(
  Schema.filter((s) => s.trim().length > 0 || "must not be empty")
)

/**
 * A URL with an `http:` or `https:` scheme.
 *
 * @since 0.1.0
 * @category models
 */
export const HttpUrl = Schema.String.pipe(
  Schema.filter((s) => {
    // the URL is shown redacted: it may carry a token in its query or userinfo
    if (!URL.canParse(s)) return `"${redactUrl(s)}" is not a URL`
    const url = new URL(s)
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      return `"${redactUrl(s)}" must use http: or https:, not ${url.protocol}`
    }
    return url.username === "" && url.password === "" ||
      `"${redactUrl(s)}" has credentials in it, which fetch refuses; send them in a header (e.g. Authorization)`
  })
)

/**
 * Header or environment values: held `Redacted` so they never reach logs, errors or spans.
 *
 * @since 0.1.0
 * @category models
 */
export const Secrets = Schema.Record({ key: Schema.String, value: Schema.Redacted(Schema.String) })

/**
 * The bound on one message an HTTP server sends (one JSON answer, one SSE event), in bytes:
 * from 1 KiB to 1 GiB.
 *
 * @since 0.1.0
 * @category models
 */
export const MaxMessageBytes = Schema.Int.pipe(Schema.between(1_024, 1_073_741_824))

/**
 * What to do with a stdio server's stderr: `"log"` reads it line by line into `Effect.logDebug`
 * and keeps the last lines for error messages; `"inherit"` passes it to ours; `"ignore"` drops it.
 *
 * @since 0.1.0
 * @category models
 */
export const StderrMode = Schema.Literal("log", "inherit", "ignore")

/**
 * A server started as a child process and spoken to over stdin/stdout. The child receives only
 * the SDK's safe default environment (`HOME`, `PATH`, `USER`, ...) plus `env`.
 *
 * @since 0.1.0
 * @category models
 */
export class Stdio extends Schema.TaggedClass<Stdio>("@mcp-resilience/client/McpServerConfig/Stdio")("Stdio", {
  name: Schema.optional(NonEmpty),
  command: NonEmpty,
  args: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  env: Schema.optionalWith(Secrets, { default: () => ({}) }),
  cwd: Schema.optional(NonEmpty),
  stderr: Schema.optionalWith(StderrMode, { default: () => "log" as const }),
  /** How long to wait after closing stdin, and again after SIGTERM, before the next signal. Milliseconds. */
  shutdownGraceMillis: Schema.optionalWith(Schema.Int.pipe(Schema.between(0, 60_000)), { default: () => 2_000 })
}) {}

/**
 * A server reached over Streamable HTTP. With `fallbackToSse`, a 4xx on the first POST makes the
 * client try the older HTTP+SSE transport at the same URL, as the MCP specification suggests.
 *
 * @since 0.1.0
 * @category models
 */
export class Http extends Schema.TaggedClass<Http>("@mcp-resilience/client/McpServerConfig/Http")("Http", {
  name: Schema.optional(NonEmpty),
  url: HttpUrl,
  headers: Schema.optionalWith(Secrets, { default: () => ({}) }),
  fallbackToSse: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  /** The bound on one answer or one SSE event the server sends, in bytes. Default 10 MiB, as the SDK's for stdio. */
  maxMessageBytes: Schema.optionalWith(MaxMessageBytes, { default: () => DEFAULT_MAX_MESSAGE_BYTES }),
  /** OAuth authorization (see `McpAuth`): the client obtains, refreshes and steps up its tokens. */
  auth: Schema.optional(McpAuth.Auth)
}) {}

/**
 * A server reached over the older HTTP+SSE transport.
 *
 * @since 0.1.0
 * @category models
 */
export class Sse extends Schema.TaggedClass<Sse>("@mcp-resilience/client/McpServerConfig/Sse")("Sse", {
  name: Schema.optional(NonEmpty),
  url: HttpUrl,
  headers: Schema.optionalWith(Secrets, { default: () => ({}) }),
  /** The bound on one SSE event the server sends, in bytes. Default 10 MiB. */
  maxMessageBytes: Schema.optionalWith(MaxMessageBytes, { default: () => DEFAULT_MAX_MESSAGE_BYTES }),
  /** OAuth authorization (see `McpAuth`). */
  auth: Schema.optional(McpAuth.Auth)
}) {}

/**
 * A server in this process, for tests and embedding: `connect` is called once per connection
 * attempt with the server side of a fresh linked in-memory transport pair (e.g.
 * `(transport) => makeServer().connect(transport)`).
 *
 * @since 0.1.0
 * @category models
 */
export interface InMemory {
  readonly _tag: "InMemory"
  readonly name: string
  readonly connect: (serverTransport: Transport) => Promise<void>
}

/**
 * @since 0.1.0
 * @category models
 */
export type McpServerConfig = Stdio | Http | Sse | InMemory

/**
 * The Schema of the serializable configs (all but in-memory).
 *
 * @since 0.1.0
 * @category models
 */
export const Serializable = Schema.Union(Stdio, Http, Sse)

/**
 * @since 0.1.0
 * @category constructors
 */
export interface StdioOptions {
  readonly name?: string
  readonly command: string
  readonly args?: ReadonlyArray<string>
  /** Plain strings are wrapped in `Redacted`. */
  readonly env?: Readonly<Record<string, string | Redacted.Redacted<string>>>
  readonly cwd?: string
  readonly stderr?: "log" | "inherit" | "ignore"
  readonly shutdownGraceMillis?: number
}

/**
 * @since 0.1.0
 * @category constructors
 */
export interface HttpOptions {
  readonly name?: string
  readonly url: string | URL
  /** Plain strings are wrapped in `Redacted`. */
  readonly headers?: Readonly<Record<string, string | Redacted.Redacted<string>>>
  readonly fallbackToSse?: boolean
  /** The bound on one answer or SSE event the server sends, in bytes. Default 10 MiB. */
  readonly maxMessageBytes?: number
  /** OAuth authorization: `McpAuth.authorizationCode(...)`, `.clientCredentials(...)`, `.privateKeyJwt(...)`, `.crossAppAccess(...)`. */
  readonly auth?: McpAuth.Auth
}

const redactAll = (record: Readonly<Record<string, string | Redacted.Redacted<string>>> | undefined) =>
  record === undefined ?
    undefined :
    Object.fromEntries(
      Object.entries(record).map(([k, v]) => [k, Redacted.isRedacted(v) ? v : Redacted.make(v)])
    ) as Record<string, Redacted.Redacted<string>>

const defined = <A extends object>(a: A): A =>
  Object.fromEntries(Object.entries(a).filter(([, v]) => v !== undefined)) as A

/**
 * A stdio server. Unchecked until connect; use {@link validate} to check it eagerly.
 *
 * @since 0.1.0
 * @category constructors
 */
export const stdio = (options: StdioOptions): Stdio =>
  Stdio.make(
    defined({
      ...options,
      args: options.args ?? [],
      env: redactAll(options.env) ?? {},
      stderr: options.stderr ?? "log",
      shutdownGraceMillis: options.shutdownGraceMillis ?? 2_000
    }) as any,
    { disableValidation: true }
  )

/**
 * A Streamable HTTP server. Unchecked until connect; use {@link validate} to check it eagerly.
 *
 * @since 0.1.0
 * @category constructors
 */
export const http = (options: HttpOptions): Http =>
  Http.make(
    defined({
      ...options,
      url: String(options.url),
      headers: redactAll(options.headers) ?? {},
      fallbackToSse: options.fallbackToSse ?? false,
      maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES
    }) as any,
    { disableValidation: true }
  )

/**
 * An HTTP+SSE server (the transport before Streamable HTTP).
 *
 * @since 0.1.0
 * @category constructors
 */
export const sse = (options: Omit<HttpOptions, "fallbackToSse">): Sse =>
  Sse.make(
    defined({
      ...options,
      url: String(options.url),
      headers: redactAll(options.headers) ?? {},
      maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES
    }) as any,
    { disableValidation: true }
  )

/**
 * An in-process server.
 *
 * @since 0.1.0
 * @category constructors
 */
export const inMemory = (options: Omit<InMemory, "_tag">): InMemory => ({ _tag: "InMemory", ...options })

/**
 * A readable name for logs and errors: the config's `name`, else the command or the host.
 *
 * @since 0.1.0
 * @category models
 */
export const name = (config: McpServerConfig): string => {
  if (config.name !== undefined) return config.name
  switch (config._tag) {
    case "Stdio":
      return config.command.split(/[\\/]/).pop() || config.command
    case "Http":
    case "Sse":
      return URL.canParse(config.url) ? new URL(config.url).host : config.url
    case "InMemory":
      return config.name
  }
}

/**
 * Turns a Schema parse failure into an `McpConfigError` naming the first bad field's path
 * (prefixed with `prefix`) and the reason.
 *
 * @since 0.1.0
 * @category errors
 */
export const configError = (error: ParseResult.ParseError, prefix = ""): McpConfigError => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  const first = issues[0]
  const path = [prefix, ...(first?.path ?? []).map(String)].filter((s) => s !== "").join(".")
  const rest = issues.length > 1 ? ` (and ${issues.length - 1} more)` : ""
  return new McpConfigError({ path, reason: `${first?.message ?? error.message}${rest}` })
}

const decodeSerializable = Schema.decodeUnknownEither(Serializable, { errors: "all", onExcessProperty: "error" })

/**
 * Decodes a server config from plain data (a parsed JSON file). `_tag` selects the transport.
 *
 * @since 0.1.0
 * @category constructors
 */
export const decode = (input: unknown, path = ""): Effect.Effect<Stdio | Http | Sse, McpConfigError> =>
  Either.match(decodeSerializable(input), {
    onLeft: (error) => Effect.fail(configError(error, path)),
    onRight: Effect.succeed
  })

const encodeForCheck = (config: Stdio | Http | Sse): unknown => {
  const { _tag, ...fields } = config as unknown as Record<string, unknown>
  const unwrap = (r: unknown) =>
    Predicate.isRecord(r) ?
      Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Redacted.isRedacted(v) ? Redacted.value(v) : v])) :
      r
  return defined({
    _tag,
    ...fields,
    env: unwrap(fields.env),
    headers: unwrap(fields.headers),
    auth: unwrap(fields.auth)
  })
}

/**
 * Checks a config built with the constructors. Fails with `McpConfigError`, e.g.
 * `invalid config at command: must not be empty`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const validate = (config: McpServerConfig): Effect.Effect<McpServerConfig, McpConfigError> => {
  if (config._tag === "InMemory") {
    return typeof config.connect === "function" && typeof config.name === "string" && config.name !== ""
      ? Effect.succeed(config)
      : Effect.fail(
        new McpConfigError({ path: "connect", reason: "an in-memory server needs a name and a connect function" })
      )
  }
  if (!Predicate.isRecord(config) || !Arr.contains(["Stdio", "Http", "Sse"], (config as any)._tag)) {
    return Effect.fail(new McpConfigError({ path: "_tag", reason: "expected a server config made by McpServerConfig" }))
  }
  return decode(encodeForCheck(config)).pipe(Effect.as(config))
}
