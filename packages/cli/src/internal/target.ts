/**
 * Which server a command talks to: one named in a config file (`<name> --config file`, or a
 * config found in the usual places), a command line (`--stdio "cmd args"`), or a URL (`--url`).
 *
 * @internal
 */
import * as Options from "@effect/cli/Options"
import * as FileSystem from "@effect/platform/FileSystem"
import { McpAuth, McpConfigError, McpServerConfig, McpToolsetConfig } from "@mcp-resilience/client"
import { RetryPolicy } from "@mcp-resilience/policy"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as os from "node:os"
import * as path from "node:path"
import { UsageError } from "./errors.js"

/**
 * Children started by the CLI get this long after stdin closes, and again after SIGTERM,
 * before the next signal: Ctrl-C then ends everything within about a second.
 */
export const SHUTDOWN_GRACE_MILLIS = 200

/** The flags that choose a server (besides the positional name). */
export const targetOptions = {
  config: Options.text("config").pipe(
    Options.withAlias("c"),
    Options.withPseudoName("FILE"),
    Options.withDescription(
      "A config file (Claude Desktop's mcpServers or VS Code's servers). Default: ./mcp.json, ./.mcp.json, " +
        "./.vscode/mcp.json, then Claude Desktop's own config."
    ),
    Options.optional
  ),
  stdio: Options.text("stdio").pipe(
    Options.withPseudoName("COMMAND"),
    Options.withDescription("Start this command line as a stdio server, e.g. --stdio \"node server.mjs\"."),
    Options.optional
  ),
  url: Options.text("url").pipe(
    Options.withPseudoName("URL"),
    Options.withDescription("A Streamable HTTP server (falls back to HTTP+SSE on 400/404/405)."),
    Options.optional
  ),
  sse: Options.boolean("sse").pipe(Options.withDescription("With --url: use the older HTTP+SSE transport.")),
  header: Options.keyValueMap("header").pipe(
    Options.withPseudoName("NAME=VALUE"),
    Options.withDescription("With --url: an HTTP header to send (repeatable); values are never printed."),
    Options.optional
  ),
  auth: Options.choice("auth", ["code", "client-credentials", "private-key-jwt"]).pipe(
    Options.withPseudoName("GRANT"),
    Options.withDescription(
      "With --url: OAuth. code (a browser approves; the URL is printed), client-credentials or private-key-jwt. " +
        "Tokens are kept in ~/.config/mcp-resilience/tokens.json (mode 0600) and reused."
    ),
    Options.optional
  ),
  oauth: Options.keyValueMap("oauth").pipe(
    Options.withPseudoName("NAME=VALUE"),
    Options.withDescription(
      "With --auth: client-id, client-secret (or $MCP_RESILIENCE_CLIENT_SECRET), scope, redirect-url, " +
        "private-key (a PEM file), algorithm, method (basic or post). Repeatable."
    ),
    Options.optional
  ),
  env: Options.keyValueMap("env").pipe(
    Options.withPseudoName("NAME=VALUE"),
    Options.withDescription("With --stdio: an environment variable for the server (repeatable)."),
    Options.optional
  )
}

/** The parsed target flags. */
export interface TargetFlags {
  readonly config: Option.Option<string>
  readonly stdio: Option.Option<string>
  readonly url: Option.Option<string>
  readonly sse: boolean
  readonly header: Option.Option<HashMap.HashMap<string, string>>
  readonly env: Option.Option<HashMap.HashMap<string, string>>
  readonly auth: Option.Option<"code" | "client-credentials" | "private-key-jwt">
  readonly oauth: Option.Option<HashMap.HashMap<string, string>>
}

/** A resolved server. */
export interface Target {
  readonly server: McpServerConfig.Stdio | McpServerConfig.Http | McpServerConfig.Sse
  /** The entry's policy for servers from a config file, else `RetryPolicy.default`. */
  readonly policy: RetryPolicy.RetryPolicy
}

/** Splits a command line like a POSIX shell would (quotes and backslashes; no expansion). */
export const splitCommandLine = (line: string): Either<ReadonlyArray<string>> => {
  const words: Array<string> = []
  let word = ""
  let inWord = false
  let quote: "'" | "\"" | undefined
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (quote === "'") {
      if (c === "'") quote = undefined
      else word += c
    } else if (quote === "\"") {
      if (c === "\"") quote = undefined
      else if (c === "\\" && i + 1 < line.length && "\"\\$`".includes(line[i + 1]!)) word += line[++i]
      else word += c
    } else if (c === "'" || c === "\"") {
      quote = c
      inWord = true
    } else if (c === "\\" && i + 1 < line.length) {
      word += line[++i]
      inWord = true
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word)
      word = ""
      inWord = false
    } else {
      word += c
      inWord = true
    }
  }
  if (quote !== undefined) return { _tag: "Left", left: `unterminated ${quote} quote` }
  if (inWord) words.push(word)
  return { _tag: "Right", right: words }
}

type Either<A> = { readonly _tag: "Left"; readonly left: string } | { readonly _tag: "Right"; readonly right: A }

const interpreters = new Set(["node", "nodejs", "python", "python3", "npx", "uvx", "uv", "deno", "bun", "tsx", "pnpm"])

/** A readable name for a command line: the script for `node script.mjs`, else the command. */
export const nameOfCommand = (words: ReadonlyArray<string>): string => {
  const base = (s: string) => path.basename(s).replace(/\.exe$/i, "")
  const command = base(words[0]!)
  if (interpreters.has(command)) {
    const script = words.slice(1).find((w) => !w.startsWith("-"))
    if (script !== undefined) return base(script)
  }
  return command
}

const toRecord = (map: Option.Option<HashMap.HashMap<string, string>>): Record<string, string> =>
  Option.match(map, { onNone: () => ({}), onSome: (m) => Object.fromEntries(HashMap.toEntries(m)) })

/** The places a config file is looked for when `--config` is not given, in order. */
export const defaultConfigPaths = (cwd: string = process.cwd()): ReadonlyArray<string> => {
  const home = os.homedir()
  const claude = process.platform === "darwin"
    ? path.join(home, "Library", "Application Support", "Claude", "claude_desktop_config.json")
    : process.platform === "win32"
    ? path.join(process.env.APPDATA ?? path.join(home, "AppData", "Roaming"), "Claude", "claude_desktop_config.json")
    : path.join(process.env.XDG_CONFIG_HOME ?? path.join(home, ".config"), "Claude", "claude_desktop_config.json")
  return [
    path.join(cwd, "mcp.json"),
    path.join(cwd, ".mcp.json"),
    path.join(cwd, ".vscode", "mcp.json"),
    claude
  ]
}

/** `--config`, or the first default path that exists. */
export const findConfig = (
  explicit: Option.Option<string>
): Effect.Effect<string, McpConfigError, FileSystem.FileSystem> =>
  Option.match(explicit, {
    onSome: Effect.succeed,
    onNone: () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const candidates = defaultConfigPaths()
        for (const candidate of candidates) {
          if (yield* Effect.orElseSucceed(fs.exists(candidate), () => false)) {
            return path.relative(process.cwd(), candidate) || candidate
          }
        }
        return yield* new McpConfigError({
          path: "",
          reason: `no config file found (looked for ${
            candidates.map((c) =>
              path.relative(process.cwd(), c).startsWith("..") ? c : path.relative(process.cwd(), c)
            )
              .join(", ")
          }); pass --config FILE, or use --stdio or --url`
        })
      })
  })

/** Loads a config file, found as {@link findConfig} does. */
export const loadConfig = (explicit: Option.Option<string>) =>
  Effect.flatMap(
    findConfig(explicit),
    (file) => Effect.map(McpToolsetConfig.load(file), (config) => ({ file, config }))
  )

/** Caps a stdio server's shutdown grace at {@link SHUTDOWN_GRACE_MILLIS}, so Ctrl-C is quick. */
export const quickShutdown = <S extends McpServerConfig.Stdio | McpServerConfig.Http | McpServerConfig.Sse>(
  server: S
): S =>
  server._tag === "Stdio" && server.shutdownGraceMillis > SHUTDOWN_GRACE_MILLIS
    ? new McpServerConfig.Stdio({ ...server, shutdownGraceMillis: SHUTDOWN_GRACE_MILLIS }, {
      disableValidation: true
    }) as S
    : server

const exclusive = (name: Option.Option<string>, flags: TargetFlags): Effect.Effect<void, UsageError> => {
  const given = [
    Option.isSome(name) ? "a server name" : undefined,
    Option.isSome(flags.stdio) ? "--stdio" : undefined,
    Option.isSome(flags.url) ? "--url" : undefined
  ].filter((s) => s !== undefined)
  if (given.length > 1) {
    return Effect.fail(
      new UsageError({ detail: `give one of a server name, --stdio or --url, not ${given.join(" and ")}` })
    )
  }
  if (Option.isSome(flags.config) && (Option.isSome(flags.stdio) || Option.isSome(flags.url))) {
    return Effect.fail(
      new UsageError({ detail: "--config chooses a server by name; it does not go with --stdio or --url" })
    )
  }
  if (Option.isSome(flags.header) && Option.isNone(flags.url)) {
    return Effect.fail(new UsageError({ detail: "--header goes with --url" }))
  }
  if (flags.sse && Option.isNone(flags.url)) {
    return Effect.fail(new UsageError({ detail: "--sse goes with --url" }))
  }
  if (Option.isSome(flags.auth) && Option.isNone(flags.url)) {
    return Effect.fail(new UsageError({ detail: "--auth goes with --url (a config entry has its own \"auth\")" }))
  }
  if (Option.isSome(flags.oauth) && Option.isNone(flags.auth)) {
    return Effect.fail(new UsageError({ detail: "--oauth goes with --auth" }))
  }
  if (Option.isSome(flags.env) && Option.isNone(flags.stdio)) {
    return Effect.fail(new UsageError({ detail: "--env goes with --stdio" }))
  }
  return Effect.void
}

/** The server a command talks to. `name` is the positional server name, if any. */
export const resolveTarget = (
  name: Option.Option<string>,
  flags: TargetFlags
): Effect.Effect<Target, UsageError | McpConfigError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    yield* exclusive(name, flags)
    if (Option.isSome(flags.stdio)) {
      const split = splitCommandLine(flags.stdio.value)
      if (split._tag === "Left") return yield* new UsageError({ detail: `--stdio: ${split.left}` })
      const words = split.right
      if (words.length === 0) return yield* new UsageError({ detail: "--stdio: the command line is empty" })
      return {
        server: McpServerConfig.stdio({
          name: nameOfCommand(words),
          command: words[0]!,
          args: words.slice(1),
          env: toRecord(flags.env),
          shutdownGraceMillis: SHUTDOWN_GRACE_MILLIS
        }),
        policy: RetryPolicy.default
      }
    }
    if (Option.isSome(flags.url)) {
      const url = flags.url.value
      const headers = toRecord(flags.header)
      const auth = yield* authOf(flags)
      const extra = auth === undefined ? {} : { auth }
      return {
        server: flags.sse
          ? McpServerConfig.sse({ url, headers, ...extra })
          : McpServerConfig.http({ url, headers, fallbackToSse: true, ...extra }),
        policy: RetryPolicy.default
      }
    }
    const { config, file } = yield* loadConfig(flags.config)
    const names = config.servers.map((s) => s.name)
    const entry = Option.match(name, {
      onNone: () => (config.servers.length === 1 ? config.servers[0] : undefined),
      onSome: (n) => config.servers.find((s) => s.name === n)
    })
    if (entry === undefined) {
      const list = names.length === 0 ? "it names no servers" : `its servers: ${names.join(", ")}`
      return yield* Option.match(name, {
        onNone: () =>
          new UsageError({
            detail: `name a server of ${file} (${list}), or use --stdio or --url`
          }),
        onSome: (n) => new McpConfigError({ path: file, reason: `no server named ${JSON.stringify(n)}; ${list}` })
      })
    }
    return {
      server: quickShutdown(entry.server),
      policy: entry.policy
    }
  })

const oauthKeys = ["client-id", "client-secret", "scope", "redirect-url", "private-key", "algorithm", "method"]

/** `--auth` and `--oauth` as an `McpAuth.Auth`. */
const authOf = (
  flags: TargetFlags
): Effect.Effect<McpAuth.Auth | undefined, UsageError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    if (Option.isNone(flags.auth)) return undefined
    const params = toRecord(flags.oauth)
    const unknown = Object.keys(params).find((key) => !oauthKeys.includes(key))
    if (unknown !== undefined) {
      return yield* new UsageError({ detail: `--oauth ${unknown}: not one of ${oauthKeys.join(", ")}` })
    }
    const need = (key: string) =>
      params[key] === undefined
        ? Effect.fail(
          new UsageError({ detail: `--auth ${flags.auth.pipe(Option.getOrElse(() => ""))} needs --oauth ${key}=...` })
        )
        : Effect.succeed(params[key]!)
    const secret = params["client-secret"] ?? process.env.MCP_RESILIENCE_CLIENT_SECRET
    const scope = params.scope === undefined ? {} : { scope: params.scope }
    switch (flags.auth.value) {
      case "code":
        return McpAuth.authorizationCode({
          ...scope,
          ...(params["client-id"] === undefined ? {} : { clientId: params["client-id"] }),
          ...(secret === undefined ? {} : { clientSecret: Redacted.make(secret) }),
          ...(params["redirect-url"] === undefined ? {} : { redirectUrl: params["redirect-url"] })
        })
      case "client-credentials": {
        const clientId = yield* need("client-id")
        if (secret === undefined) {
          return yield* new UsageError({
            detail: "--auth client-credentials needs --oauth client-secret=... or $MCP_RESILIENCE_CLIENT_SECRET"
          })
        }
        const method = params.method ?? "basic"
        if (method !== "basic" && method !== "post") {
          return yield* new UsageError({ detail: `--oauth method=${method}: expected basic or post` })
        }
        return McpAuth.clientCredentials({ clientId, clientSecret: Redacted.make(secret), method, ...scope })
      }
      case "private-key-jwt": {
        const clientId = yield* need("client-id")
        const file = yield* need("private-key")
        const fs = yield* FileSystem.FileSystem
        const privateKey = yield* fs.readFileString(file).pipe(
          Effect.mapError(() => new UsageError({ detail: `--oauth private-key=${file}: cannot read the file` }))
        )
        return McpAuth.privateKeyJwt({
          clientId,
          privateKey: Redacted.make(privateKey),
          algorithm: params.algorithm ?? "ES256",
          ...scope
        })
      }
    }
  })

/**
 * Where the CLI keeps OAuth tokens: `$MCP_RESILIENCE_TOKENS`, else
 * `$XDG_CONFIG_HOME/mcp-resilience/tokens.json` (`~/.config/...`).
 */
export const tokensPath = (): string =>
  process.env.MCP_RESILIENCE_TOKENS ??
    path.join(process.env.XDG_CONFIG_HOME ?? path.join(os.homedir(), ".config"), "mcp-resilience", "tokens.json")

/** OAuth for every command: tokens reused from the file store; a browser approval asked for on stderr. */
export const withOAuth = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  effect.pipe(
    Effect.provideService(McpAuth.TokenStore, McpAuth.TokenStore.file(tokensPath())),
    Effect.provideService(
      McpAuth.Authorization,
      McpAuth.Authorization.loopback({
        onUrl: (url) => Console.error(`Open this URL to authorize access:\n  ${url.href}\nWaiting for the browser...`)
      })
    )
  )
