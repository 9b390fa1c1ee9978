/**
 * Many MCP servers from one config file. Reads the files people already have:
 *
 * - Claude Desktop (`claude_desktop_config.json`, Claude Code's `.mcp.json`):
 *   `{ "mcpServers": { name: { command, args, env, cwd } | { url, headers } } }`, with an optional `type`.
 * - VS Code (`.vscode/mcp.json`): `{ "servers": { name: { type: "stdio" | "http" | "sse", ... } } }`; the
 *   top-level `inputs` is ignored, and `type` is inferred from `command` / `url` when absent.
 *
 * plus this library's own keys on each server (`policy`, `health`, `breaker`, `tools`, `prefix`, `startup`,
 * and the transport options `stderr`, `shutdownGraceMillis`, `fallbackToSse`) and a top-level `concurrency`.
 *
 * Strings may contain `${env:NAME}`, read from the environment; `$${` is a literal `${`. Any other `${...}`
 * (VS Code's `${input:...}`, `${workspaceFolder}`, a shell-style `${NAME}`) is an error rather than being
 * passed on verbatim. `env` and `headers` values are held `Redacted`, and a value read from the environment
 * never appears in an error message (the `${env:NAME}` template is shown instead).
 *
 * Files are JSON with comments (`//`, `/* *\/`) and trailing commas, parsed with VS Code's own `jsonc-parser`;
 * a duplicate key is an error (plain `JSON.parse` would silently keep the last one).
 *
 * Errors are `McpConfigError`s for the first problem found:
 *
 * - `path` is the field path in the format's own top key, e.g. `mcpServers.github.env.TOKEN`,
 *   `servers.db.args[1]`, `mcpServers["my server"].url` (names that are not plain words are bracketed). With a
 *   `source` (as `load` gives), it is prefixed: `claude.json#mcpServers.github.url`; syntax errors are
 *   `claude.json:3:14` (line and column, 1-based); a file that cannot be read is the file path alone.
 * - `reason` says why, e.g. `"not a url" is not a URL`, so the message reads
 *   `invalid config at mcpServers.github.url: "not a url" is not a URL`.
 *
 * @since 0.1.0
 */
import type { PlatformError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import type { RetryPolicy } from "@mcp-resilience/policy"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as document from "./internal/config/document.js"
import * as glob from "./internal/config/glob.js"
import * as jsonc from "./internal/config/jsonc.js"
import { formatPath, withSource } from "./internal/config/messages.js"
import * as schemas from "./internal/config/schemas.js"
import { McpConfigError } from "./McpError.js"
import type * as McpServerConfig from "./McpServerConfig.js"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * Health checks of one server: a ping every `interval` (default 30 seconds), each bounded by `timeout`
 * (5 seconds); `misses` failed pings in a row (3) mark the session dead.
 *
 * @since 0.1.0
 * @category models
 */
export const HealthConfig = schemas.HealthConfig

/**
 * @since 0.1.0
 * @category models
 */
export interface HealthConfig extends Schema.Schema.Type<typeof HealthConfig> {}

/**
 * A breaker that opens after `threshold` failures in a row (default 5). Like every breaker: `breakDuration`
 * (default 5 seconds) open before a probe, `halfOpenProbes` (1) calls let through while half-open, and an
 * optional `slowCallThreshold` above which a call counts as a failure.
 *
 * @since 0.1.0
 * @category models
 */
export const ConsecutiveBreaker = schemas.ConsecutiveBreaker

/**
 * @since 0.1.0
 * @category models
 */
export interface ConsecutiveBreaker extends Schema.Schema.Type<typeof ConsecutiveBreaker> {}

/**
 * A breaker that opens when at least `ratio` (default 0.1) of the calls in the last `window` (30 seconds)
 * failed, once the window holds `minimumThroughput` calls (100).
 *
 * @since 0.1.0
 * @category models
 */
export const SamplingBreaker = schemas.SamplingBreaker

/**
 * @since 0.1.0
 * @category models
 */
export interface SamplingBreaker extends Schema.Schema.Type<typeof SamplingBreaker> {}

/**
 * A circuit breaker's settings as plain data; `strategy` defaults to `"consecutive"` in a config file.
 *
 * @since 0.1.0
 * @category models
 */
export const BreakerConfig = Schema.Union(ConsecutiveBreaker, SamplingBreaker)

/**
 * @since 0.1.0
 * @category models
 */
export type BreakerConfig = ConsecutiveBreaker | SamplingBreaker

/**
 * Which of a server's tools to expose: names or simple globs (`*` any run of characters, `?` one
 * character), matched against the server's own tool names (before any `prefix`). `allow` undefined
 * allows every tool; `deny` wins over `allow`. See {@link isToolAllowed}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ToolFilter {
  readonly allow: ReadonlyArray<string> | undefined
  readonly deny: ReadonlyArray<string>
}

/**
 * One server of a config file, with this library's settings filled in with their defaults.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerEntry {
  /** The key of the server in the file; also the server config's `name`. */
  readonly name: string
  readonly server: McpServerConfig.Stdio | McpServerConfig.Http | McpServerConfig.Sse
  /** `RetryPolicy.default` when the file gives none. */
  readonly policy: RetryPolicy.RetryPolicy
  /** `undefined` unless the file asks for health checks (`"health": true` or an object). */
  readonly health: HealthConfig | undefined
  /** `undefined` unless the file asks for a breaker (`"breaker": true` or an object). */
  readonly breaker: BreakerConfig | undefined
  readonly tools: ToolFilter
  /** Joined to the server's tool names with `McpToolset.PREFIX_SEPARATOR`: `"gh"` exposes `gh__list_issues`. */
  readonly prefix: string | undefined
  /** `"required"` (default): the toolset fails to start without this server; `"optional"`: it starts without it. */
  readonly startup: "required" | "optional"
}

/**
 * A decoded config file: its servers in file order, and how many to start at once (top-level
 * `concurrency`, default 4).
 *
 * @since 0.1.0
 * @category models
 */
export interface ToolsetConfig {
  readonly servers: ReadonlyArray<ServerEntry>
  readonly concurrency: number
}

/**
 * Options of {@link decode} and {@link load}.
 *
 * @since 0.1.0
 * @category models
 */
export interface DecodeOptions {
  /** Where `${env:NAME}` is read; default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined
  /** A name for the input (a file path), prefixed to error paths as `source#field.path`. */
  readonly source?: string | undefined
}

// -----------------------------------------------------------------------------
// constructors
// -----------------------------------------------------------------------------

/**
 * Decodes a parsed config file (Claude Desktop's or VS Code's format, see the module's documentation),
 * reading `${env:NAME}` from `options.env` (default `process.env`). Fails with `McpConfigError` for the
 * first problem, e.g. `invalid config at mcpServers.github.command: missing (a stdio server needs a command
 * to run)`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const decode = (input: unknown, options: DecodeOptions = {}): Effect.Effect<ToolsetConfig, McpConfigError> =>
  Effect.suspend(() =>
    Either.match(document.decodeDocument(input, options.env ?? process.env), {
      onLeft: ({ path, reason }) =>
        Effect.fail(new McpConfigError({ path: withSource(formatPath(path), options.source), reason })),
      onRight: (config): Effect.Effect<ToolsetConfig> => Effect.succeed(config)
    })
  )

/**
 * Parses the text of a config file: JSON with comments and trailing commas (as VS Code's `mcp.json` allows,
 * with VS Code's own parser, `jsonc-parser`); a duplicate key is an error. Fails with `McpConfigError` at
 * `source:line:column`, e.g.
 * `invalid config at mcp.json:3:14: invalid JSON: expected "," or "}" after a property value, found "\""`.
 * The message never quotes the file beyond the one offending character.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parse = (text: string, source?: string): Effect.Effect<unknown, McpConfigError> =>
  Effect.suspend(() =>
    Either.match(jsonc.parseJsonc(text), {
      onLeft: ({ column, line, message }) =>
        Effect.fail(
          new McpConfigError({
            path: source === undefined ? `${line}:${column}` : `${source}:${line}:${column}`,
            reason: `invalid JSON: ${message}`
          })
        ),
      onRight: Effect.succeed
    })
  )

const readError = (path: string, error: PlatformError): McpConfigError => {
  if (error._tag === "SystemError" && error.reason === "NotFound") {
    return new McpConfigError({ path, reason: "file not found" })
  }
  if (error._tag === "SystemError" && error.reason === "PermissionDenied") {
    return new McpConfigError({ path, reason: "permission denied" })
  }
  const detail = error.description ?? (error._tag === "SystemError" ? error.reason : error.message)
  return new McpConfigError({ path, reason: `cannot read the file: ${detail}` })
}

/**
 * Reads, parses ({@link parse}) and decodes ({@link decode}) a config file with `@effect/platform`'s
 * `FileSystem`. Error paths start with the file path (or `options.source`): `mcp.json` when it cannot be
 * read (`file not found`), `mcp.json:3:14` for a syntax error, `mcp.json#servers.db.url` for a bad field.
 *
 * @since 0.1.0
 * @category constructors
 */
export const load: (
  path: string,
  options?: DecodeOptions
) => Effect.Effect<ToolsetConfig, McpConfigError, FileSystem.FileSystem> = Effect.fn("McpToolsetConfig.load")(
  function*(path: string, options: DecodeOptions = {}) {
    const source = options.source ?? path
    const fs = yield* FileSystem.FileSystem
    const text = yield* Effect.mapError(fs.readFileString(path), (error) => readError(source, error))
    const input = yield* parse(text, source)
    return yield* decode(input, { ...options, source })
  }
)

// -----------------------------------------------------------------------------
// guards
// -----------------------------------------------------------------------------

/**
 * Whether a server's tool (by its own name, before any prefix) passes the server's `tools` filter: not
 * matched by `deny`, and matched by `allow` when `allow` is given.
 *
 * @since 0.1.0
 * @category guards
 */
export const isToolAllowed = (tools: ToolFilter, name: string): boolean => glob.isAllowed(tools, name)
