/**
 * The `mcp-resilience` command: `probe`, `call`, `watch` and `demo`, built with `@effect/cli`.
 *
 * Exit codes: 0 ok, 1 the server or the tool failed, 2 bad usage or a bad config, 130
 * interrupted (Ctrl-C; `watch`, which runs until Ctrl-C, exits 0). Errors print the typed
 * error's message on stderr, with the whole cause only under `--verbose`.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import type * as CliApp from "@effect/cli/CliApp"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import type * as FileSystem from "@effect/platform/FileSystem"
import type { Teardown } from "@effect/platform/Runtime"
import {
  McpClient,
  McpServerConfig,
  type McpStatus,
  McpToolError,
  McpTools,
  McpToolset,
  type McpToolsetConfig
} from "@mcp-resilience/client"
import type { RetryPolicy } from "@mcp-resilience/policy"
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Demo from "./Demo.js"
import { ExitCode, reporting, UsageError } from "./internal/errors.js"
import { jsonResult, prettyResult, progressLine, serverInfo, toolsTable } from "./internal/format.js"
import { applyPolicyFlags, durationOption, type PolicyFlags, policyOptions } from "./internal/policy.js"
import * as Progress from "./internal/progress.js"
import { styles } from "./internal/style.js"
import {
  loadConfig,
  quickShutdown,
  resolveTarget,
  SHUTDOWN_GRACE_MILLIS,
  type Target,
  type TargetFlags,
  targetOptions
} from "./internal/target.js"

/**
 * The version `--version` prints.
 *
 * @since 0.1.0
 * @category models
 */
export const VERSION = "0.1.0"

/**
 * A command finished with a non-zero exit code (its error has been printed).
 *
 * @since 0.1.0
 * @category errors
 */
export class CommandFailed extends Schema.TaggedError<CommandFailed>("@mcp-resilience/cli/CommandFailed")(
  "CommandFailed",
  { code: Schema.Number }
) {}

/** What an interruption (Ctrl-C, SIGTERM) exits with: 130, except for `watch`, which Ctrl-C ends normally. */
const onInterrupt = { code: ExitCode.Interrupted as number }

const stdoutStyle = () => styles(process.stdout.isTTY === true)

const verbose = Options.boolean("verbose").pipe(
  Options.withAlias("v"),
  Options.withDescription("Print logs, and whole causes (stack traces) with errors.")
)

const json = Options.boolean("json").pipe(Options.withDescription("Print JSON instead of text."))

/** Runs a command body: logs on under `--verbose`, errors reported, the exit code raised as `CommandFailed`. */
const command = <E, R>(isVerbose: boolean, body: Effect.Effect<void, E, R>): Effect.Effect<void, CommandFailed, R> =>
  reporting(
    isVerbose,
    isVerbose ? Logger.withMinimumLogLevel(body, LogLevel.Debug) : body
  ).pipe(Effect.flatMap((code) => (code === ExitCode.Ok ? Effect.void : Effect.fail(new CommandFailed({ code })))))

/** Positional words that look like flags are flags @effect/cli did not know. */
const noUnknownFlags = (words: ReadonlyArray<string>): Effect.Effect<void, UsageError> => {
  const flag = words.find((w) => w.startsWith("-") && w !== "-")
  return flag === undefined
    ? Effect.void
    : Effect.fail(new UsageError({ detail: `unknown option ${flag} (see --help)` }))
}

const transportOf = (server: Target["server"]): string => {
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
 * A connect with live progress: the target resolved, the policy flags applied, the config
 * checked before the first attempt, then `connect` under the policy.
 */
const withProgress = <A, E, R>(
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

// -----------------------------------------------------------------------------
// probe
// -----------------------------------------------------------------------------

interface ProbeInput extends TargetFlags, PolicyFlags {
  readonly name: Option.Option<string>
  readonly json: boolean
}

const probeProgram = (input: ProbeInput) =>
  Effect.scoped(Effect.gen(function*() {
    yield* noUnknownFlags(Option.toArray(input.name))
    const target = yield* resolveTarget(input.name, input)
    const policy = yield* applyPolicyFlags(target.policy, input)
    const client = yield* withProgress(
      target,
      policy,
      true,
      (onRetry) => McpClient.make(target.server, { policy, onRetry }),
      (c) => c.attempts
    )
    const tools = yield* client.listTools()
    if (input.json) {
      yield* Console.log(JSON.stringify(
        {
          server: client.server,
          serverInfo: client.serverInfo,
          protocolVersion: client.protocolVersion,
          capabilities: client.capabilities,
          instructions: client.instructions,
          transport: transportOf(target.server),
          pid: client.pid,
          sessionId: client.sessionId,
          attempts: client.attempts,
          tools
        },
        null,
        2
      ))
      return
    }
    const style = stdoutStyle()
    const width = process.stdout.isTTY === true && process.stdout.columns > 0 ? process.stdout.columns : undefined
    yield* Console.log(serverInfo(client, transportOf(target.server), style))
    yield* Console.log(`\n${tools.length} tool${tools.length === 1 ? "" : "s"}\n${toolsTable(tools, style, width)}`)
  }))

const probe = Command.make(
  "probe",
  {
    name: Args.text({ name: "name" }).pipe(
      Args.withDescription("A server named in the config file."),
      Args.optional
    ),
    ...targetOptions,
    ...policyOptions,
    json,
    verbose
  },
  (input) => command(input.verbose, probeProgram(input))
).pipe(
  Command.withDescription(
    "Connect to a server under the retry policy, showing each attempt, then print its info and its tools."
  )
)

// -----------------------------------------------------------------------------
// call
// -----------------------------------------------------------------------------

interface CallInput extends TargetFlags, PolicyFlags {
  readonly words: ReadonlyArray<string>
  readonly args: Option.Option<string>
  readonly timeout: Option.Option<Duration.Duration>
  readonly json: boolean
}

const parseArgs = (text: Option.Option<string>): Effect.Effect<Record<string, unknown>, UsageError> =>
  Option.match(text, {
    onNone: () => Effect.succeed({}),
    onSome: (raw) =>
      Effect.try({
        try: () => JSON.parse(raw) as unknown,
        catch: (error) => new UsageError({ detail: `--args is not valid JSON: ${(error as Error).message}` })
      }).pipe(
        Effect.filterOrFail(
          (value): value is Record<string, unknown> =>
            typeof value === "object" && value !== null && !Array.isArray(value),
          (value) =>
            new UsageError({
              detail: `--args must be a JSON object such as '{"a": 1}', got ${
                Array.isArray(value) ? "an array" : value === null ? "null" : typeof value
              }`
            })
        )
      )
  })

const callProgram = (input: CallInput) =>
  Effect.scoped(Effect.gen(function*() {
    yield* noUnknownFlags(input.words)
    const byFlag = Option.isSome(input.stdio) || Option.isSome(input.url)
    if (byFlag && input.words.length !== 1) {
      return yield* new UsageError({
        detail: `with ${
          Option.isSome(input.stdio) ? "--stdio" : "--url"
        }, give just the tool: call <tool> --args '{...}'`
      })
    }
    const [name, tool] = input.words.length === 2
      ? [Option.some(input.words[0]!), input.words[1]!]
      : [Option.none<string>(), input.words[0]!]
    const args = yield* parseArgs(input.args)
    const target = yield* resolveTarget(name, input)
    const policy = yield* applyPolicyFlags(target.policy, input)
    const tools = yield* withProgress(
      target,
      policy,
      false,
      (onRetry) =>
        McpTools.make({
          server: target.server,
          policy,
          onRetry,
          ...(Option.isSome(input.timeout) ? { callTimeout: input.timeout.value } : {})
        }),
      (t) => t.client?.attempts ?? 1
    )
    // progress lines on stderr as the server reports them, then the result
    const progressStyle = styles(process.stderr.isTTY === true)
    const result = yield* tools.callWithProgress(tool, args).pipe(
      Stream.runFoldEffect(undefined as CallToolResult | undefined, (last, event) =>
        event._tag === "Result"
          ? Effect.succeed(event.result)
          : Effect.as(Console.error(progressLine(event, progressStyle)), last)),
      Effect.map((last) => last!),
      Effect.tapError((error) =>
        input.json && error instanceof McpToolError && error.reason === "IsError"
          ? Console.log(jsonResult({ content: error.content, isError: true }))
          : Effect.void
      ),
      Effect.mapError((error) =>
        error instanceof McpToolError && error.reason === "UnknownTool"
          ? new UsageError({ detail: error.message })
          : error
      )
    )
    yield* Console.log(input.json ? jsonResult(result) : prettyResult(result, stdoutStyle()))
  }))

const call = Command.make(
  "call",
  {
    words: Args.text({ name: "[server] tool" }).pipe(
      Args.withDescription("The tool to call, after the server's name when it comes from a config file."),
      Args.between(1, 2)
    ),
    args: Options.text("args").pipe(
      Options.withAlias("a"),
      Options.withPseudoName("JSON"),
      Options.withDescription("The tool's arguments, a JSON object (default {})."),
      Options.optional
    ),
    timeout: durationOption("timeout", "The call's deadline (default 60s)."),
    ...targetOptions,
    ...policyOptions,
    json: Options.boolean("json").pipe(Options.withDescription("Print the raw result as JSON.")),
    verbose
  },
  (input) => command(input.verbose, callProgram(input))
).pipe(Command.withDescription("Call one tool and print its result."))

// -----------------------------------------------------------------------------
// watch
// -----------------------------------------------------------------------------

interface WatchInput extends TargetFlags, PolicyFlags {
  readonly names: ReadonlyArray<string>
  readonly json: boolean
}

/** `HH:MM:SS.mmm`, local time. */
const time = (millis: number) => {
  const d = new Date(millis)
  const two = (n: number) => String(n).padStart(2, "0")
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${
    String(d.getMilliseconds()).padStart(3, "0")
  }`
}

const statusText = (status: McpStatus.Status): string => {
  switch (status._tag) {
    case "Connecting":
      return `attempt ${status.attempt}`
    case "Connected":
      return status.pid === undefined
        ? status.sessionId === undefined ? "" : `session ${status.sessionId}`
        : `pid ${status.pid}`
    case "Reconnecting":
      return `attempt ${status.attempt}${
        Duration.toMillis(status.nextDelay) > 0
          ? `, next in ${Progress.formatShort(Duration.toMillis(status.nextDelay))}`
          : ""
      }: ${status.lastError.message}`
    case "CircuitOpen":
      return `retry after ${Duration.format(status.retryAfter)}`
    case "Closed":
      return status.error === undefined ? "" : status.error.message
  }
}

const statusJson = (status: McpStatus.Status): Record<string, unknown> => {
  switch (status._tag) {
    case "Connecting":
      return { status: status._tag, attempt: status.attempt }
    case "Connected":
      return { status: status._tag, pid: status.pid, sessionId: status.sessionId }
    case "Reconnecting":
      return {
        status: status._tag,
        attempt: status.attempt,
        nextDelayMillis: Duration.toMillis(status.nextDelay),
        error: status.lastError.message
      }
    case "CircuitOpen":
      return { status: status._tag, retryAfterMillis: Duration.toMillis(status.retryAfter) }
    case "Closed":
      return { status: status._tag, error: status.error?.message }
  }
}

const watchEntries = (input: WatchInput) =>
  Effect.gen(function*() {
    yield* noUnknownFlags(input.names)
    if (Option.isSome(input.stdio) || Option.isSome(input.url)) {
      if (input.names.length > 0) {
        return yield* new UsageError({ detail: "give server names or --stdio / --url, not both" })
      }
      const target = yield* resolveTarget(Option.none(), input)
      return [{
        name: McpServerConfig.name(target.server),
        server: target.server,
        policy: yield* applyPolicyFlags(target.policy, input),
        startup: "optional" as const
      }]
    }
    const { config, file } = yield* loadConfig(input.config)
    const unknown = input.names.filter((n) => !config.servers.some((s) => s.name === n))
    if (unknown.length > 0) {
      return yield* new UsageError({
        detail: `${file} has no server named ${unknown.map((n) => JSON.stringify(n)).join(", ")}; its servers: ${
          config.servers.map((s) => s.name).join(", ")
        }`
      })
    }
    const chosen: ReadonlyArray<McpToolsetConfig.ServerEntry> = input.names.length === 0
      ? config.servers
      : config.servers.filter((s) => input.names.includes(s.name))
    if (chosen.length === 0) return yield* new UsageError({ detail: `${file} names no servers` })
    return yield* Effect.forEach(chosen, (entry) =>
      Effect.map(applyPolicyFlags(entry.policy, input), (policy) => ({
        ...entry,
        server: quickShutdown(entry.server),
        policy,
        // watch every server, up or not
        startup: "optional" as const
      })))
  })

const watchProgram = (input: WatchInput) =>
  Effect.scoped(Effect.gen(function*() {
    const entries = yield* watchEntries(input)
    for (const entry of entries) yield* McpServerConfig.validate(entry.server)
    onInterrupt.code = ExitCode.Ok
    const style = stdoutStyle()
    const width = Math.max(...entries.map((e) => e.name.length))
    const clock = yield* Effect.clock
    /** `time  server  tag  detail`, the tag padded (before colouring) so that details line up. */
    const line = (server: string, tag: string, paint: (s: string) => string, detail: string) =>
      `${style.dim(time(clock.unsafeCurrentTimeMillis()))}  ${server.padEnd(width)}  ${paint(tag.padEnd(12))}${detail}`
        .trimEnd()
    const paintOf = (tag: McpStatus.Status["_tag"]) =>
      tag === "Connected" ? style.green : tag === "Closed" || tag === "CircuitOpen" ? style.red : style.yellow
    // once the command is closing, the servers' sessions are being closed: those failures are not news
    let closing = false
    const onRetry = (step: RetryPolicy.RetryStep) => {
      if (closing) return Effect.void
      const error = step.error as { server?: unknown; message?: unknown }
      const server = typeof error.server === "string" ? error.server : "?"
      const message = typeof error.message === "string" ? error.message : String(step.error)
      return Console.log(
        input.json
          ? JSON.stringify({
            time: new Date(clock.unsafeCurrentTimeMillis()).toISOString(),
            server,
            event: "AttemptFailed",
            attempt: step.attempt - 1,
            maxAttempts: step.maxAttempts,
            nextDelayMillis: Duration.toMillis(step.delay),
            error: message
          })
          : line(
            server,
            "retry",
            style.dim,
            `attempt ${step.attempt - 1}/${step.maxAttempts} failed: ${message}; next attempt in ${
              Progress.formatShort(Duration.toMillis(step.delay))
            }`
          )
      )
    }
    const toolset = yield* McpToolset.make({
      servers: entries,
      concurrency: entries.length,
      defaults: { onRetry }
    })
    yield* Effect.addFinalizer(() => Effect.sync(() => (closing = true)))
    yield* toolset.statusChanges.pipe(
      Stream.runForEach(({ server, status }) =>
        Console.log(
          input.json
            ? JSON.stringify({
              time: new Date(clock.unsafeCurrentTimeMillis()).toISOString(),
              server,
              ...statusJson(status)
            })
            : line(server, status._tag, paintOf(status._tag), statusText(status))
        )
      )
    )
  }))

const watch = Command.make(
  "watch",
  {
    names: Args.text({ name: "name" }).pipe(
      Args.withDescription("Servers of the config file to watch (default: all)."),
      Args.repeated
    ),
    ...targetOptions,
    ...policyOptions,
    json: Options.boolean("json").pipe(Options.withDescription("Print one JSON object per line.")),
    verbose
  },
  (input) => command(input.verbose, watchProgram(input))
).pipe(Command.withDescription("Print the status of every configured server as it changes, until Ctrl-C."))

// -----------------------------------------------------------------------------
// demo
// -----------------------------------------------------------------------------

const demoProgram = Effect.scoped(Effect.gen(function*() {
  const progress = yield* Progress.make("demo", Demo.policy, { announce: true })
  yield* Console.error(`starting the demo server, which refuses its first two starts (${describeDemoPolicy()})`)
  yield* progress.start
  yield* Demo.run({
    onRetry: progress.onRetry,
    onConnected: progress.connected,
    shutdownGraceMillis: SHUTDOWN_GRACE_MILLIS
  }).pipe(Effect.onError(() => progress.failed))
}))

const describeDemoPolicy = () =>
  `policy: ${Demo.policy.maxAttempts} attempts, base ${Duration.format(Demo.policy.base)}, cap ${
    Duration.format(Demo.policy.cap)
  }, ${Demo.policy.jitter} jitter`

const demo = Command.make("demo", { verbose }, (input) => command(input.verbose, demoProgram)).pipe(
  Command.withDescription("Run the README's demo: connect to the bundled flaky demo server, list its tools, call one.")
)

// -----------------------------------------------------------------------------
// the command
// -----------------------------------------------------------------------------

/**
 * The root command and its subcommands.
 *
 * @since 0.1.0
 * @category constructors
 */
export const cli = Command.make(
  "mcp-resilience",
  {},
  () =>
    Effect.zipRight(
      Console.error("usage: mcp-resilience <probe | call | watch | demo> [options]; see mcp-resilience --help"),
      Effect.fail(new CommandFailed({ code: ExitCode.Usage }))
    )
).pipe(
  Command.withDescription("Probe, call and watch MCP servers under a retry policy."),
  Command.withSubcommands([probe, call, watch, demo])
)

const runCli = Command.run(cli, { name: "mcp-resilience", version: VERSION })

/**
 * Runs the command line `argv` (as `process.argv`: node, script, then the arguments) and
 * succeeds with the exit code. Library logs are off unless `--verbose` or `--log-level`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const main = (
  argv: ReadonlyArray<string>
): Effect.Effect<number, never, CliApp.CliApp.Environment | FileSystem.FileSystem> =>
  runCli(argv).pipe(
    Effect.as(ExitCode.Ok as number),
    Effect.catchAll((error) => Effect.succeed(error instanceof CommandFailed ? error.code : ExitCode.Usage)),
    Effect.catchAllDefect((defect) =>
      Effect.as(Console.error(`error: ${Cause.pretty(Cause.die(defect))}`), ExitCode.Failed as number)
    ),
    Logger.withMinimumLogLevel(LogLevel.None),
    Effect.provide(Logger.replace(Logger.defaultLogger, Logger.prettyLogger({ stderr: true })))
  )

/**
 * The exit code of `main`'s exit: its value, or 130 when interrupted (0 for `watch`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const teardown: Teardown = (exit, onExit) => {
  const code = Exit.isSuccess(exit)
    ? typeof exit.value === "number" ? exit.value : ExitCode.Ok
    : Cause.isInterruptedOnly(exit.cause)
    ? onInterrupt.code
    : ExitCode.Failed
  process.exitCode = code
  onExit(code)
  // Nothing should keep the process alive now; if something does, do not wait for it. This is
  // the one timer outside Effect's Clock: `runMain` calls `teardown` after the program's fiber
  // has ended, so there is no fiber left to sleep on a Clock, and no TestClock could drive it
  // (the tests run the built command as a child process and measure its exit on the wall clock).
  setTimeout(() => process.exit(code), 1000).unref()
}
