/**
 * What every command shares: the `--verbose` and `--json` flags, how a body runs (logs, errors, exit
 * code), and a connect with live progress.
 *
 * @internal
 */
import * as Options from "@effect/cli/Options"
import { McpServerConfig } from "@mcp-resilience/client"
import type { RetryPolicy } from "@mcp-resilience/policy"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { CommandFailed, ExitCode, reporting, UsageError } from "./errors.js"
import * as Progress from "./progress.js"
import { styles } from "./style.js"
import type { Target } from "./target.js"

/** What an interruption (Ctrl-C, SIGTERM) exits with: 130, except for `watch`, which Ctrl-C ends normally. */
export const onInterrupt = { code: ExitCode.Interrupted as number }

/** The styles for stdout. */
export const stdoutStyle = () => styles(process.stdout.isTTY === true)

/** `-v, --verbose` */
export const verbose = Options.boolean("verbose").pipe(
  Options.withAlias("v"),
  Options.withDescription("Print the library's logs on stderr, and whole causes (stack traces) with errors.")
)

/** `--json`, with what it prints. */
export const json = (what: string) => Options.boolean("json").pipe(Options.withDescription(what))

/** Runs a command body: logs on under `--verbose`, errors reported, the exit code raised as `CommandFailed`. */
export const command = <E, R>(
  isVerbose: boolean,
  body: Effect.Effect<void, E, R>
): Effect.Effect<void, CommandFailed, R> =>
  reporting(
    isVerbose,
    isVerbose ? Logger.withMinimumLogLevel(body, LogLevel.Debug) : body
  ).pipe(Effect.flatMap((code) => (code === ExitCode.Ok ? Effect.void : Effect.fail(new CommandFailed({ code })))))

/** Positional words that look like flags are flags @effect/cli did not know. */
export const noUnknownFlags = (words: ReadonlyArray<string>): Effect.Effect<void, UsageError> => {
  const flag = words.find((w) => w.startsWith("-") && w !== "-")
  return flag === undefined
    ? Effect.void
    : Effect.fail(new UsageError({ detail: `unknown option ${flag} (see --help)` }))
}

/** The transport of a server, in words. */
export const transportOf = (server: Target["server"]): string => {
  switch (server._tag) {
    case "Stdio":
      return "stdio"
    case "Http":
      return server.fallbackToSse ? "streamable http (sse fallback)" : "streamable http"
    case "Sse":
      return "http+sse"
  }
}

/**
 * A connect with live progress: the config checked before the first attempt, then `connect` under
 * the policy, each failed attempt and wait shown on stderr.
 */
export const withProgress = <A, E, R>(
  target: Target,
  policy: RetryPolicy.RetryPolicy,
  announce: boolean,
  connect: (onRetry: (step: RetryPolicy.RetryStep) => Effect.Effect<void>) => Effect.Effect<A, E, R>,
  attemptsOf: (a: A) => number
) =>
  Effect.gen(function*() {
    yield* McpServerConfig.validate(target.server)
    const progress = yield* Progress.make(McpServerConfig.name(target.server), policy, { announce })
    yield* progress.start
    const connected = yield* connect(progress.onRetry).pipe(Effect.onError(() => progress.failed))
    yield* progress.connected(attemptsOf(connected))
    return connected
  })
