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
 * Files are JSON with comments (`//`, `/* *\/`) and trailing commas, as VS Code allows; a duplicate key is an
 * error (plain `JSON.parse` would silently keep the last one).
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
import { RetryPolicy } from "@mcp-resilience/policy"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { McpConfigError } from "./McpError.js"
import * as McpServerConfig from "./McpServerConfig.js"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

const PositiveInt = Schema.Int.pipe(Schema.greaterThanOrEqualTo(1))

const PositiveDuration = RetryPolicy.DurationField.pipe(
  Schema.filter((d) => (Duration.isFinite(d) && Duration.toMillis(d) > 0) || "must be a positive, finite duration")
)

/**
 * Health checks of one server: a ping every `interval` (default 30 seconds), each bounded by `timeout`
 * (5 seconds); `misses` failed pings in a row (3) mark the session dead.
 *
 * @since 0.1.0
 * @category models
 */
export const HealthConfig = Schema.Struct({
  interval: Schema.optionalWith(PositiveDuration, { exact: true, default: () => Duration.seconds(30) }),
  timeout: Schema.optionalWith(PositiveDuration, { exact: true, default: () => Duration.seconds(5) }),
  misses: Schema.optionalWith(PositiveInt, { exact: true, default: () => 3 })
})

/**
 * @since 0.1.0
 * @category models
 */
export interface HealthConfig extends Schema.Schema.Type<typeof HealthConfig> {}

const breakerCommon = {
  /** How long the breaker stays open before a probe; default 5 seconds. */
  breakDuration: Schema.optionalWith(RetryPolicy.DurationField, { exact: true, default: () => Duration.seconds(5) }),
  /** Probe calls let through while half-open; default 1. */
  halfOpenProbes: Schema.optionalWith(PositiveInt, { exact: true, default: () => 1 }),
  /** A call slower than this counts as a failure; no default. */
  slowCallThreshold: Schema.optionalWith(PositiveDuration, { exact: true })
}

/**
 * A breaker that opens after `threshold` failures in a row (default 5).
 *
 * @since 0.1.0
 * @category models
 */
export const ConsecutiveBreaker = Schema.Struct({
  strategy: Schema.Literal("consecutive"),
  threshold: Schema.optionalWith(PositiveInt, { exact: true, default: () => 5 }),
  ...breakerCommon
})

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
export const SamplingBreaker = Schema.Struct({
  strategy: Schema.Literal("sampling"),
  ratio: Schema.optionalWith(
    Schema.Number.pipe(Schema.filter((n) => (n > 0 && n <= 1) || `must be in (0, 1], actual ${n}`)),
    { exact: true, default: () => 0.1 }
  ),
  window: Schema.optionalWith(PositiveDuration, { exact: true, default: () => Duration.seconds(30) }),
  minimumThroughput: Schema.optionalWith(PositiveInt, { exact: true, default: () => 100 }),
  ...breakerCommon
})

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
  /** Prepended to the server's tool names, e.g. `"gh_"`. */
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
// problems and messages
// -----------------------------------------------------------------------------

type Path = ReadonlyArray<string | number>

interface Problem {
  readonly path: Path
  readonly reason: string
}

/** Thrown by the decoders below and caught by `decode` only: the first problem ends decoding. */
class ProblemFailure implements Problem {
  constructor(readonly path: Path, readonly reason: string) {}
}

const problem = (path: Path, reason: string): never => {
  throw new ProblemFailure(path, reason)
}

const plainSegment = /^[A-Za-z0-9_$-]+$/

const formatPath = (path: Path): string =>
  path.map((segment, i) =>
    typeof segment === "number"
      ? `[${segment}]`
      : plainSegment.test(segment)
      ? (i === 0 ? segment : `.${segment}`)
      : `[${JSON.stringify(segment)}]`
  ).join("")

const quote = (s: string): string => JSON.stringify(s)

const kind = (u: unknown): string =>
  u === null
    ? "null"
    : u === undefined
    ? "undefined"
    : Array.isArray(u)
    ? "an array"
    : typeof u === "object"
    ? "an object"
    : typeof u === "number" && Number.isNaN(u)
    ? "NaN"
    : `a ${typeof u}`

/** A value for a message: strings quoted, scalars as they are, anything else by its kind. */
const describe = (u: unknown): string => {
  switch (typeof u) {
    case "string":
      return quote(u.length > 1_000 ? `${u.slice(0, 1_000)}...` : u)
    case "number":
    case "boolean":
      return String(u)
    case "bigint":
      return `${u}n`
    default:
      return kind(u)
  }
}

const list = (items: ReadonlyArray<string>): string =>
  items.length <= 1 ? items.join("") : `${items.slice(0, -1).join(", ")} or ${items[items.length - 1]}`

const lowerFirst = (s: string): string => s.startsWith("Expected ") ? `e${s.slice(1)}` : s

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions). */
const distance = (a: string, b: string): number => {
  const rows: Array<Array<number>> = []
  for (let i = 0; i <= a.length; i++) {
    const row: Array<number> = [i]
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        row.push(j)
        continue
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let d = Math.min(rows[i - 1][j] + 1, row[j - 1] + 1, rows[i - 1][j - 1] + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d = Math.min(d, rows[i - 2][j - 2] + 1)
      }
      row.push(d)
    }
    rows.push(row)
  }
  return rows[a.length][b.length]
}

/** The candidate a near miss was meant to be, if one is close enough. */
const suggest = (
  input: string,
  candidates: ReadonlyArray<string>,
  synonyms: Readonly<Record<string, string>> = {}
): string | undefined => {
  if (input.length > 64) return undefined
  const lower = input.toLowerCase()
  for (const [from, to] of Object.entries(synonyms)) {
    if (from.toLowerCase() === lower && candidates.includes(to)) return to
  }
  let best: string | undefined
  let bestDistance = Infinity
  for (const candidate of candidates) {
    const d = distance(lower, candidate.toLowerCase())
    const limit = candidate.length >= 6 ? 2 : 1
    if (d <= limit && d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  return best
}

const didYouMean = (suggestion: string | undefined): string =>
  suggestion === undefined ? "" : ` (did you mean ${quote(suggestion)}?)`

const expectedActual = /^Expected (.+), actual (.+)$/s
const quotedWord = /^"([^"\\]*)"$/

/**
 * The first problem of a Schema parse failure, at the given path. Failures of a union's members at the same
 * place are merged into one `expected A or B, actual x`, with a suggestion for a near-miss literal.
 */
const fromParseError = (error: ParseResult.ParseError, path: Path): Problem => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  const first = issues[0]
  if (first === undefined) return { path, reason: lowerFirst(error.message) }
  const at = first.path
  const here = issues.filter((issue) => issue.path.length === at.length && issue.path.every((p, i) => p === at[i]))
  const fullPath = [...path, ...at.map((p) => typeof p === "symbol" ? String(p) : p)]
  if (here.length > 1) {
    const parsed = here.map((issue) => expectedActual.exec(issue.message))
    const actual = parsed[0]?.[2]
    if (parsed.every((m) => m !== null && m[2] === actual) && actual !== undefined) {
      // an optional field's union also lists `undefined`, which a config file cannot write
      const alternatives = [...new Set(parsed.map((m) => m![1]))].filter((alt) => alt !== "undefined")
      const words = alternatives.map((alt) => quotedWord.exec(alt)?.[1])
      const actualWord = quotedWord.exec(actual)?.[1]
      const hint = actualWord !== undefined && words.every((w) => w !== undefined)
        ? didYouMean(suggest(actualWord, words as Array<string>))
        : ""
      return { path: fullPath, reason: `expected ${list(alternatives)}, actual ${actual}${hint}` }
    }
  }
  return { path: fullPath, reason: lowerFirst(first.message) }
}

const decodeWith = <A, I>(schema: Schema.Schema<A, I>) => {
  const decode = Schema.decodeUnknownEither(schema, { errors: "all", onExcessProperty: "error" })
  return (input: unknown, path: Path): A => {
    const result = decode(input)
    if (Either.isRight(result)) return result.right
    const { path: at, reason } = fromParseError(result.left, path)
    return problem(at, reason)
  }
}

// -----------------------------------------------------------------------------
// plain data helpers
// -----------------------------------------------------------------------------

type Obj = Readonly<Record<string, unknown>>

const isObject = (u: unknown): u is Obj => typeof u === "object" && u !== null && !Array.isArray(u)

const has = (obj: Obj, key: string): boolean => Object.hasOwn(obj, key) && obj[key] !== undefined

const get = (obj: Obj, key: string): unknown => Object.hasOwn(obj, key) ? obj[key] : undefined

/** Builds an object with own properties only (a `__proto__` key stays a plain key). */
const fromEntries = (entries: Iterable<readonly [string, unknown]>): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [key, value] of entries) {
    Object.defineProperty(out, key, { value, writable: true, enumerable: true, configurable: true })
  }
  return out
}

const withoutUndefined = (entries: ReadonlyArray<readonly [string, unknown]>): Record<string, unknown> =>
  fromEntries(entries.filter(([, value]) => value !== undefined))

interface KeyRules {
  readonly known: ReadonlyArray<string>
  readonly ignored?: ReadonlyArray<string>
  readonly synonyms?: Readonly<Record<string, string>>
  /** A reason for a key that is recognised but not accepted here. */
  readonly special?: (key: string) => string | undefined
}

const checkKeys = (obj: Obj, path: Path, rules: KeyRules): void => {
  for (const key of Object.keys(obj)) {
    if (rules.known.includes(key) || rules.ignored?.includes(key)) continue
    const special = rules.special?.(key)
    if (special !== undefined) return problem([...path, key], special)
    const suggestion = suggest(key, rules.known, rules.synonyms)
    return problem(
      [...path, key],
      suggestion === undefined
        ? `unknown key; expected one of ${rules.known.join(", ")}`
        : `unknown key${didYouMean(suggestion)}`
    )
  }
}

const literal = <L extends string>(
  u: unknown,
  path: Path,
  options: ReadonlyArray<L>,
  what: string
): L => {
  if (typeof u === "string" && (options as ReadonlyArray<string>).includes(u)) return u as L
  const expected = list(options.map(quote))
  if (typeof u !== "string") return problem(path, `expected ${expected}, actual ${describe(u)}`)
  const hint = /stream/i.test(u) && options.includes("http" as L) ? "http" : suggest(u, options)
  return problem(path, `unknown ${what} ${quote(u)}${didYouMean(hint)}; expected ${expected}`)
}

const string = (u: unknown, path: Path): string =>
  typeof u === "string" ? u : problem(path, `expected a string, actual ${describe(u)}`)

const optional = <A>(u: unknown, decode: (u: unknown) => A): A | undefined => u === undefined ? undefined : decode(u)

const stringArray = (u: unknown, path: Path, what: string): ReadonlyArray<string> => {
  if (!Array.isArray(u)) return problem(path, `expected an array of ${what}, actual ${describe(u)}`)
  for (let i = 0; i < u.length; i++) {
    if (typeof u[i] !== "string") return problem([...path, i], `expected a string, actual ${describe(u[i])}`)
  }
  return u as ReadonlyArray<string>
}

/** `env` and `headers`: values are secrets, so a message names their kind, never their value. */
const secretRecord = (u: unknown, path: Path): Record<string, string> => {
  if (!isObject(u)) return problem(path, `expected an object mapping names to strings, actual ${kind(u)}`)
  for (const key of Object.keys(u)) {
    const value = u[key]
    if (typeof value !== "string") {
      const hint = typeof value === "number" || typeof value === "boolean" ? "; quote it" : ""
      return problem([...path, key], `expected a string, actual ${kind(value)}${hint}`)
    }
  }
  return u as Record<string, string>
}

// -----------------------------------------------------------------------------
// ${env:NAME}
// -----------------------------------------------------------------------------

type Env = Readonly<Record<string, string | undefined>>

/** What interpolation read from the environment, so that error messages can hide it. */
interface Secrets {
  /** Interpolated strings, with the template they came from. */
  readonly strings: Array<readonly [resolved: string, template: string]>
  /** Each value read, with the variable's name. */
  readonly values: Array<readonly [value: string, name: string]>
}

const envName = /^[A-Za-z_][A-Za-z0-9_]*$/

/** VS Code's predefined variables that make sense in `mcp.json`. */
const vsCodeVariables: ReadonlyArray<string> = [
  "workspaceFolder",
  "workspaceFolderBasename",
  "workspaceRoot",
  "userHome",
  "cwd",
  "pathSeparator",
  "/",
  "file",
  "fileDirname",
  "fileBasename",
  "relativeFile"
]

const short = (s: string): string => s.length > 60 ? `${s.slice(0, 57)}...` : s

const interpolate = (s: string, path: Path, env: Env, secrets: Secrets): string => {
  if (!s.includes("$")) return s
  let out = ""
  let read = false
  let i = 0
  while (i < s.length) {
    if (s.startsWith("$${", i)) {
      out += "${"
      i += 3
      continue
    }
    if (!s.startsWith("${", i)) {
      out += s[i]
      i += 1
      continue
    }
    const end = s.indexOf("}", i + 2)
    if (end < 0) return problem(path, `unterminated "\${" (write "$\${" for a literal "\${")`)
    const inner = s.slice(i + 2, end)
    const variable = quote(short(`\${${inner}}`))
    if (inner.startsWith("env:")) {
      const name = inner.slice(4)
      if (!envName.test(name)) return problem(path, `${variable} does not name an environment variable`)
      const value = Object.hasOwn(env, name) ? env[name] : undefined
      if (typeof value !== "string") return problem(path, `environment variable ${name} is not set`)
      secrets.values.push([value, name])
      out += value
      read = true
    } else if (inner.startsWith("input:")) {
      return problem(
        path,
        `${variable} is not supported: VS Code prompts for inputs, this loader cannot; use \${env:NAME}`
      )
    } else if (vsCodeVariables.includes(inner) || /^(config|command):/.test(inner)) {
      return problem(path, `${variable} is a VS Code variable, which this loader does not replace; use \${env:NAME}`)
    } else {
      const hint = envName.test(inner) ? ` (did you mean "\${env:${inner}}"?)` : ""
      return problem(
        path,
        `${variable} is not supported${hint}; only \${env:NAME} is replaced (write "$\${" for a literal "\${")`
      )
    }
    i = end + 1
  }
  if (read) secrets.strings.push([out, s])
  return out
}

const maxDepth = 64

const interpolateDeep = (u: unknown, path: Path, env: Env, secrets: Secrets): unknown => {
  if (typeof u === "string") return interpolate(u, path, env, secrets)
  if (typeof u !== "object" || u === null) return u
  if (path.length > maxDepth) return problem(path, "nested too deeply")
  if (Array.isArray(u)) {
    const out: Array<unknown> = []
    for (let i = 0; i < u.length; i++) {
      out.push(interpolateDeep(u[i], [...path, i], env, secrets))
    }
    return out
  }
  const entries: Array<readonly [string, unknown]> = []
  for (const key of Object.keys(u)) {
    entries.push([key, interpolateDeep((u as Obj)[key], [...path, key], env, secrets)])
  }
  return fromEntries(entries)
}

const replaceAll = (text: string, search: string, replacement: string): string =>
  search === "" ? text : text.split(search).join(replacement)

/** Puts the `${env:NAME}` templates back where a message quotes a value read from the environment. */
const scrub = (reason: string, secrets: Secrets): string => {
  let out = reason
  const strings = [...secrets.strings].sort((a, b) => b[0].length - a[0].length)
  for (const [resolved, template] of strings) {
    out = replaceAll(out, quote(resolved), quote(template))
    out = replaceAll(out, `"${resolved}"`, quote(template))
    if (resolved.length >= 4) out = replaceAll(out, resolved, template)
  }
  const values = [...secrets.values].sort((a, b) => b[0].length - a[0].length)
  for (const [value, name] of values) {
    if (value.length >= 4) {
      out = replaceAll(out, value, `\${env:${name}}`)
      out = replaceAll(out, quote(value).slice(1, -1), `\${env:${name}}`)
    }
  }
  return out
}

// -----------------------------------------------------------------------------
// one server
// -----------------------------------------------------------------------------

type Format = "mcpServers" | "servers"

const transportKeys = ["type", "command", "args", "env", "cwd", "url", "headers", "auth"] as const
const optionKeys = ["stderr", "shutdownGraceMillis", "fallbackToSse"] as const
const ownKeys = ["policy", "health", "breaker", "tools", "prefix", "startup"] as const
const serverKeys: ReadonlyArray<string> = [...transportKeys, ...optionKeys, ...ownKeys]
const stdioOnly: ReadonlyArray<string> = ["command", "args", "env", "cwd", "stderr", "shutdownGraceMillis"]
const httpOnly: ReadonlyArray<string> = ["url", "headers", "fallbackToSse", "auth"]
const serverTypes = ["stdio", "http", "sse"] as const
type ServerType = typeof serverTypes[number]

/** Keys of other tools' files that are accepted and ignored: VS Code's development mode. */
const ignoredKeys: Readonly<Record<Format, ReadonlyArray<string>>> = { mcpServers: [], servers: ["dev"] }

const serverSynonyms: Readonly<Record<string, string>> = {
  cmd: "command",
  executable: "command",
  arguments: "args",
  argv: "args",
  environment: "env",
  transport: "type",
  transportType: "type",
  endpoint: "url",
  serverUrl: "url",
  uri: "url",
  workingDirectory: "cwd",
  retry: "policy",
  retryPolicy: "policy",
  circuitBreaker: "breaker",
  healthCheck: "health",
  toolPrefix: "prefix",
  allowedTools: "tools"
}

const unsupportedServerKey = (key: string): string | undefined =>
  key === "envFile"
    ? `is not supported; put the variables in "env" (values may use \${env:NAME})`
    : undefined

const needs = (type: ServerType): string =>
  type === "stdio" ? "missing (a stdio server needs a command to run)" : `missing (an ${type} server needs a url)`

const serverType = (entry: Obj, path: Path): ServerType => {
  const hasCommand = has(entry, "command")
  const hasUrl = has(entry, "url")
  if (hasCommand && hasUrl) return problem(path, "has both command and url; give one")
  const type = get(entry, "type") === undefined
    ? undefined
    : literal(get(entry, "type"), [...path, "type"], serverTypes, "type")
  if (type === undefined && !hasCommand && !hasUrl) {
    if (stdioOnly.some((key) => has(entry, key))) return problem([...path, "command"], needs("stdio"))
    if (httpOnly.some((key) => has(entry, key))) return problem([...path, "url"], needs("http"))
    return problem(path, `needs "command" (to start a stdio server) or "url" (to reach an http server)`)
  }
  return checkTransportKeys(entry, path, type ?? (hasCommand ? "stdio" : "http"))
}

/** Rejects the other transport's keys, and requires the key that names this transport's target. */
const checkTransportKeys = (entry: Obj, path: Path, type: ServerType): ServerType => {
  const keys = Object.keys(entry).filter((key) => has(entry, key))
  for (const key of keys) {
    if (type === "stdio" && httpOnly.includes(key)) {
      return problem([...path, key], `applies only to http and sse servers, but this is a stdio server`)
    }
    if (type !== "stdio" && stdioOnly.includes(key)) {
      return problem([...path, key], `applies only to stdio servers, but this is an ${type} server`)
    }
    if (type === "sse" && key === "fallbackToSse") {
      return problem([...path, key], `applies only to http servers, but this is an sse server`)
    }
  }
  if (type === "stdio" && !has(entry, "command")) return problem([...path, "command"], needs("stdio"))
  if (type !== "stdio" && !has(entry, "url")) return problem([...path, "url"], needs(type))
  return type
}

const decodeStdio = decodeWith(McpServerConfig.Stdio)
const decodeHttp = decodeWith(McpServerConfig.Http)
const decodeSse = decodeWith(McpServerConfig.Sse)

const decodeServer = (
  entry: Obj,
  name: string,
  path: Path
): McpServerConfig.Stdio | McpServerConfig.Http | McpServerConfig.Sse => {
  const type = serverType(entry, path)
  const at = (key: string) => [...path, key]
  if (type === "stdio") {
    const fields = withoutUndefined([
      ["_tag", "Stdio"],
      ["name", name],
      ["command", string(get(entry, "command"), at("command"))],
      ["args", optional(get(entry, "args"), (u) => stringArray(u, at("args"), "strings"))],
      ["env", optional(get(entry, "env"), (u) => secretRecord(u, at("env")))],
      ["cwd", optional(get(entry, "cwd"), (u) => string(u, at("cwd")))],
      ["stderr", get(entry, "stderr")],
      ["shutdownGraceMillis", get(entry, "shutdownGraceMillis")]
    ])
    return decodeStdio(fields, path)
  }
  const fields = withoutUndefined([
    ["_tag", type === "http" ? "Http" : "Sse"],
    ["name", name],
    ["url", string(get(entry, "url"), at("url"))],
    ["headers", optional(get(entry, "headers"), (u) => secretRecord(u, at("headers")))],
    ["fallbackToSse", get(entry, "fallbackToSse")],
    // OAuth (`McpAuth.Auth`): `{ "_tag": "ClientCredentials", "clientId": ..., "clientSecret": "${env:SECRET}" }`
    ["auth", get(entry, "auth")]
  ])
  return (type === "http" ? decodeHttp(fields, path) : decodeSse(fields, path))
}

const policyKeys: ReadonlyArray<string> = Object.keys(RetryPolicy.RetryPolicy.fields)
const decodePolicyFields = decodeWith(RetryPolicy.RetryPolicy)

const decodePolicy = (u: unknown, path: Path): RetryPolicy.RetryPolicy => {
  if (u === undefined) return RetryPolicy.RetryPolicy.default
  if (!isObject(u)) return problem(path, `expected an object of retry settings, actual ${describe(u)}`)
  checkKeys(u, path, {
    known: policyKeys,
    synonyms: {
      attempts: "maxAttempts",
      retries: "maxAttempts",
      maxRetries: "maxAttempts",
      timeout: "attemptTimeout",
      totalTimeout: "deadline",
      maxDelay: "cap",
      initialDelay: "base",
      multiplier: "factor"
    }
  })
  return decodePolicyFields(u, path)
}

const healthKeys: ReadonlyArray<string> = Object.keys(HealthConfig.fields)
const decodeHealthFields = decodeWith(HealthConfig)

const decodeHealth = (u: unknown, path: Path): HealthConfig | undefined => {
  if (u === undefined || u === false) return undefined
  if (u === true) return decodeHealthFields({}, path)
  if (!isObject(u)) {
    return problem(path, `expected an object (or true for the defaults), actual ${describe(u)}`)
  }
  checkKeys(u, path, { known: healthKeys, synonyms: { every: "interval", period: "interval" } })
  return decodeHealthFields(u, path)
}

const strategies = ["consecutive", "sampling"] as const
const consecutiveKeys: ReadonlyArray<string> = Object.keys(ConsecutiveBreaker.fields)
const samplingKeys: ReadonlyArray<string> = Object.keys(SamplingBreaker.fields)
const decodeConsecutive = decodeWith(ConsecutiveBreaker)
const decodeSampling = decodeWith(SamplingBreaker)

const decodeBreaker = (u: unknown, path: Path): BreakerConfig | undefined => {
  if (u === undefined || u === false) return undefined
  if (u === true) return decodeConsecutive({ strategy: "consecutive" }, path)
  if (!isObject(u)) {
    return problem(path, `expected an object (or true for the defaults), actual ${describe(u)}`)
  }
  const strategy = get(u, "strategy") === undefined
    ? "consecutive"
    : literal(get(u, "strategy"), [...path, "strategy"], strategies, "strategy")
  const [known, other, otherName] = strategy === "consecutive"
    ? [consecutiveKeys, samplingKeys, "sampling"]
    : [samplingKeys, consecutiveKeys, "consecutive"]
  checkKeys(u, path, {
    known,
    synonyms: { failureThreshold: "threshold", failureRatio: "ratio", samplingDuration: "window" },
    special: (key) =>
      other.includes(key)
        ? `applies only to strategy ${quote(otherName)}, but this breaker's strategy is ${quote(strategy)}`
        : undefined
  })
  const input = fromEntries([...Object.entries(u), ["strategy", strategy]])
  return (strategy === "consecutive" ? decodeConsecutive(input, path) : decodeSampling(input, path))
}

const patterns = (u: unknown, path: Path): ReadonlyArray<string> => {
  const items = stringArray(u, path, `tool names or patterns such as "get_*"`)
  const empty = items.findIndex((item) => item.trim() === "")
  if (empty >= 0) return problem([...path, empty], "must not be empty")
  return items
}

const decodeTools = (u: unknown, path: Path): ToolFilter => {
  if (u === undefined) return { allow: undefined, deny: [] }
  if (!isObject(u)) {
    return problem(path, `expected an object with "allow" and/or "deny" lists, actual ${describe(u)}`)
  }
  checkKeys(u, path, {
    known: ["allow", "deny"],
    synonyms: { include: "allow", exclude: "deny", allowed: "allow", denied: "deny", block: "deny" }
  })
  const allow = optional(get(u, "allow"), (v) => patterns(v, [...path, "allow"]))
  const deny = optional(get(u, "deny"), (v) => patterns(v, [...path, "deny"]))
  return { allow, deny: deny ?? [] }
}

const prefixChars = /^[A-Za-z0-9_.-]+$/

const decodePrefix = (u: unknown, path: Path): string | undefined => {
  if (u === undefined) return undefined
  const prefix = string(u, path)
  if (!prefixChars.test(prefix)) {
    return problem(path, `expected letters, digits, "_", "-" or ".", actual ${describe(prefix)}`)
  }
  return prefix
}

const decodeEntry = (format: Format, name: string, raw: unknown, env: Env, secrets: Secrets): ServerEntry => {
  const path: Path = [format, name]
  if (name.trim() === "") return problem(path, "a server name must not be empty")
  if (!isObject(raw)) {
    return problem(path, `expected an object describing the server, actual ${describe(raw)}`)
  }
  checkKeys(raw, path, {
    known: serverKeys,
    ignored: ignoredKeys[format],
    synonyms: serverSynonyms,
    special: unsupportedServerKey
  })
  const entry = (interpolateDeep(raw, path, env, secrets)) as Obj
  const at = (key: string) => [...path, key]
  return {
    name,
    server: decodeServer(entry, name, path),
    policy: decodePolicy(get(entry, "policy"), at("policy")),
    health: decodeHealth(get(entry, "health"), at("health")),
    breaker: decodeBreaker(get(entry, "breaker"), at("breaker")),
    tools: decodeTools(get(entry, "tools"), at("tools")),
    prefix: decodePrefix(get(entry, "prefix"), at("prefix")),
    startup: get(entry, "startup") === undefined
      ? "required" as const
      : literal(get(entry, "startup"), at("startup"), ["required", "optional"] as const, "startup mode")
  }
}

// -----------------------------------------------------------------------------
// the document
// -----------------------------------------------------------------------------

const topKeys: ReadonlyArray<string> = ["mcpServers", "servers"]

const decodeDocument = (input: unknown, env: Env, secrets: Secrets): ToolsetConfig => {
  const expected = `"mcpServers" (Claude Desktop) or "servers" (VS Code)`
  if (!isObject(input)) {
    return problem([], `expected a JSON object with ${expected}, actual ${describe(input)}`)
  }
  const hasClaude = has(input, "mcpServers")
  const hasVsCode = has(input, "servers")
  if (hasClaude && hasVsCode) {
    return problem([], `has both "mcpServers" (Claude Desktop) and "servers" (VS Code); give one`)
  }
  if (!hasClaude && !hasVsCode) {
    const nearMiss = Object.keys(input).map((key) => [key, suggest(key, topKeys, { mcp_servers: "mcpServers" })])
      .find(([, s]) => s !== undefined)
    const hint = nearMiss === undefined ? "" : ` (found ${quote(nearMiss[0]!)}: did you mean ${quote(nearMiss[1]!)}?)`
    return problem([], `expected ${expected} at the top level${hint}`)
  }
  const format: Format = hasClaude ? "mcpServers" : "servers"
  const servers = get(input, format)
  if (!isObject(servers)) {
    return problem([format], `expected an object mapping server names to servers, actual ${describe(servers)}`)
  }
  const entries: Array<ServerEntry> = []
  for (const name of Object.keys(servers)) {
    entries.push(decodeEntry(format, name, servers[name], env, secrets))
  }
  const concurrencyInput = get(input, "concurrency")
  let concurrency = 4
  if (concurrencyInput !== undefined) {
    const c = interpolateDeep(concurrencyInput, ["concurrency"], env, secrets)
    if (typeof c !== "number" || !Number.isInteger(c) || c < 1) {
      return problem(["concurrency"], `expected an integer >= 1, actual ${describe(c)}`)
    }
    concurrency = c
  }
  return { servers: entries, concurrency }
}

const withSource = (path: string, source: string | undefined): string =>
  source === undefined ? path : path === "" ? source : `${source}#${path}`

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
  Effect.suspend(() => {
    const secrets: Secrets = { strings: [], values: [] }
    const env = options.env ?? process.env
    try {
      return Effect.succeed(decodeDocument(input, env, secrets))
    } catch (error) {
      if (!(error instanceof ProblemFailure)) throw error
      return Effect.fail(
        new McpConfigError({
          path: withSource(formatPath(error.path), options.source),
          reason: scrub(error.reason, secrets)
        })
      )
    }
  })

// -----------------------------------------------------------------------------
// JSON with comments
// -----------------------------------------------------------------------------

class SyntaxFailure {
  constructor(readonly offset: number, readonly message: string) {}
}

const numberPattern = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y

const maxNesting = 256

/** JSON plus `//` and `/* *\/` comments and trailing commas; duplicate keys are errors. */
const parseJsonc = (text: string): Either.Either<unknown, SyntaxFailure> => {
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0
  const fail = (message: string, at = i): never => {
    throw new SyntaxFailure(at, message)
  }
  const show = (c: string | undefined): string =>
    c === undefined ? "the end of the file" : c === "'" ? `"'" (JSON strings use double quotes)` : quote(c)
  const skip = (): void => {
    for (;;) {
      const c = text.charCodeAt(i)
      if (c === 32 || c === 9 || c === 10 || c === 13) {
        i++
      } else if (c === 47 && text.charCodeAt(i + 1) === 47) {
        const end = text.indexOf("\n", i + 2)
        i = end < 0 ? text.length : end + 1
      } else if (c === 47 && text.charCodeAt(i + 1) === 42) {
        const end = text.indexOf("*/", i + 2)
        if (end < 0) fail("unterminated /* comment")
        i = end + 2
      } else {
        return
      }
    }
  }
  const string = (): string => {
    const start = i
    i++
    for (;;) {
      const c = text.charCodeAt(i)
      if (Number.isNaN(c)) fail("unterminated string", start)
      if (c === 34) break
      if (c === 92) {
        i += 2
        continue
      }
      if (c < 0x20) {
        fail(
          c === 10 || c === 13 ? "unterminated string (a string cannot span lines)" : "control character in a string"
        )
      }
      i++
    }
    i++
    try {
      return JSON.parse(text.slice(start, i)) as string
    } catch {
      return fail("invalid escape in a string", start)
    }
  }
  const number = (): number => {
    numberPattern.lastIndex = i
    const match = numberPattern.exec(text)
    if (match === null) return fail("invalid number")
    i += match[0].length
    return Number(match[0])
  }
  const word = <A>(w: string, value: A): A => {
    if (!text.startsWith(w, i)) fail(`unexpected ${show(text[i])} (expected ${w})`)
    i += w.length
    return value
  }
  const object = (depth: number): Record<string, unknown> => {
    i++
    const entries: Array<readonly [string, unknown]> = []
    const seen = new Set<string>()
    skip()
    if (text[i] === "}") {
      i++
      return {}
    }
    for (;;) {
      skip()
      if (text[i] !== "\"") fail(`expected a property name in double quotes, found ${show(text[i])}`)
      const keyAt = i
      const key = string()
      if (seen.has(key)) fail(`duplicate key ${quote(short(key))}`, keyAt)
      seen.add(key)
      skip()
      if (text[i] !== ":") fail(`expected ":" after a property name, found ${show(text[i])}`)
      i++
      entries.push([key, value(depth + 1)])
      skip()
      if (text[i] === ",") {
        i++
        skip()
        if (text[i] === "}") break
        continue
      }
      if (text[i] === "}") break
      fail(`expected "," or "}" after a property value, found ${show(text[i])}`)
    }
    i++
    return fromEntries(entries)
  }
  const array = (depth: number): Array<unknown> => {
    i++
    const out: Array<unknown> = []
    skip()
    if (text[i] === "]") {
      i++
      return out
    }
    for (;;) {
      out.push(value(depth + 1))
      skip()
      if (text[i] === ",") {
        i++
        skip()
        if (text[i] === "]") break
        continue
      }
      if (text[i] === "]") break
      fail(`expected "," or "]" after an array element, found ${show(text[i])}`)
    }
    i++
    return out
  }
  const value = (depth: number): unknown => {
    if (depth > maxNesting) fail("nested too deeply")
    skip()
    const c = text[i]
    switch (c) {
      case "{":
        return object(depth)
      case "[":
        return array(depth)
      case "\"":
        return string()
      case "t":
        return word("true", true)
      case "f":
        return word("false", false)
      case "n":
        return word("null", null)
      default:
        return c === "-" || (c !== undefined && c >= "0" && c <= "9") ? number() : fail(`unexpected ${show(c)}`)
    }
  }
  try {
    skip()
    if (i >= text.length) return Either.left(new SyntaxFailure(i, "the file is empty; expected a JSON object"))
    const result = value(0)
    skip()
    if (i < text.length) fail(`unexpected ${show(text[i])} after the end of the JSON value`)
    return Either.right(result)
  } catch (error) {
    if (error instanceof SyntaxFailure) return Either.left(error)
    throw error
  }
}

const lineColumn = (text: string, offset: number): string => {
  let line = 1
  let lineStart = 0
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++
      lineStart = i + 1
    }
  }
  const bom = line === 1 && text.charCodeAt(0) === 0xfeff ? 1 : 0
  return `${line}:${offset - lineStart + 1 - bom}`
}

/**
 * Parses the text of a config file: JSON with comments and trailing commas (as VS Code's `mcp.json` allows);
 * a duplicate key is an error. Fails with `McpConfigError` at `source:line:column`, e.g.
 * `invalid config at mcp.json:3:14: invalid JSON: expected "," or "}" after a property value, found "\""`.
 * The message never quotes the file beyond the one offending character.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parse = (text: string, source?: string): Effect.Effect<unknown, McpConfigError> =>
  Effect.suspend(() =>
    Either.match(parseJsonc(text), {
      onLeft: (failure) => {
        const at = lineColumn(text, failure.offset)
        return Effect.fail(
          new McpConfigError({
            path: source === undefined ? at : `${source}:${at}`,
            reason: `invalid JSON: ${failure.message}`
          })
        )
      },
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
// tool filters
// -----------------------------------------------------------------------------

/** `*` matches any run of characters, `?` one character; linear in practice, no backtracking blow-up. */
const globMatch = (pattern: string, name: string): boolean => {
  let p = 0
  let n = 0
  let star = -1
  let mark = 0
  while (n < name.length) {
    if (p < pattern.length && (pattern[p] === "?" || pattern[p] === name[n])) {
      p++
      n++
    } else if (p < pattern.length && pattern[p] === "*") {
      star = p++
      mark = n
    } else if (star >= 0) {
      p = star + 1
      n = ++mark
    } else {
      return false
    }
  }
  while (p < pattern.length && pattern[p] === "*") p++
  return p === pattern.length
}

/**
 * Whether a server's tool (by its own name, before any prefix) passes the server's `tools` filter: not
 * matched by `deny`, and matched by `allow` when `allow` is given.
 *
 * @since 0.1.0
 * @category guards
 */
export const isToolAllowed = (tools: ToolFilter, name: string): boolean =>
  !tools.deny.some((pattern) => globMatch(pattern, name)) &&
  (tools.allow === undefined || tools.allow.some((pattern) => globMatch(pattern, name)))
