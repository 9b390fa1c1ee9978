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
import { McpClient, McpServerConfig, McpTimeoutError, McpToolError, McpTools } from "@mcp-resilience/client"
import { RetryPolicy } from "@mcp-resilience/policy"
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as HashSet from "effect/HashSet"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Demo from "./Demo.js"
import {
  command,
  json,
  noUnknownFlags,
  onInterrupt,
  stdoutStyle,
  transportOf,
  verbose,
  withProgress
} from "./internal/command.js"
import { CommandFailed as CommandFailed_, ExitCode, UsageError } from "./internal/errors.js"
import { jsonResult, prettyResult, progressLine, serverInfo, toolsTable } from "./internal/format.js"
import { type Entry, helpText } from "./internal/help.js"
import { applyPolicyFlags, durationOption, type PolicyFlags, policyOptions } from "./internal/policy.js"
import * as Progress from "./internal/progress.js"
import { styles } from "./internal/style.js"
import { resolveTarget, SHUTDOWN_GRACE_MILLIS, type TargetFlags, targetOptions, withOAuth } from "./internal/target.js"
import { watch } from "./internal/watch.js"

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
export const CommandFailed: typeof CommandFailed_ = CommandFailed_

/**
 * @since 0.1.0
 * @category errors
 */
export type CommandFailed = CommandFailed_

// -----------------------------------------------------------------------------
// probe
// -----------------------------------------------------------------------------

const DESCRIPTION = "Probe, call and watch MCP servers under a retry policy."

const DESCRIPTIONS = {
  probe: "Connect to a server under the retry policy, showing each attempt, then print its info and its tools.",
  call: "Connect, call one tool within a total deadline (--timeout), and print its result.",
  watch: "Print the status of every configured server as it changes, until Ctrl-C.",
  demo: "Run the README's demo: connect to the bundled flaky demo server, list its tools, call one."
} as const

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
    json: json("Print the server's info and its tools as one JSON object."),
    verbose
  },
  (input) => command(input.verbose, probeProgram(input))
).pipe(Command.withDescription(DESCRIPTIONS.probe))

// -----------------------------------------------------------------------------
// call
// -----------------------------------------------------------------------------

interface CallInput extends TargetFlags, PolicyFlags {
  readonly words: ReadonlyArray<string>
  readonly args: Option.Option<string>
  readonly timeout: Option.Option<Duration.Duration>
  readonly callAttemptTimeout: Option.Option<Duration.Duration>
  readonly json: boolean
  readonly verbose: boolean
}

/** The call's total deadline unless `--timeout` says otherwise. */
const DEFAULT_CALL_TIMEOUT = Duration.seconds(60)

/**
 * While a call runs, the library's warnings (a retried call says so) are shown on stderr as one
 * line each, without `--verbose`.
 */
const warningsShown = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
  const s = styles(Progress.stderrOutput.isTTY)
  const logger = Logger.make(({ logLevel, message }) => {
    if (LogLevel.lessThan(logLevel, LogLevel.Warning)) return
    const text = (Array.isArray(message) ? message : [message]).map(String).join(" ")
    Progress.stderrOutput.write(`${s.yellow("↻")} ${text}\n`)
  })
  return effect.pipe(
    Logger.withMinimumLogLevel(LogLevel.Warning),
    Effect.locally(FiberRef.currentLoggers, HashSet.make(logger))
  )
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
    // --timeout bounds the whole call, retries and their waits included; one attempt may use all of
    // it unless --call-attempt-timeout says less
    const total = Option.getOrElse(input.timeout, () => DEFAULT_CALL_TIMEOUT)
    const perAttempt = Option.match(input.callAttemptTimeout, {
      onNone: () => total,
      onSome: (d) => Duration.min(d, total)
    })
    const tools = yield* withProgress(
      target,
      policy,
      false,
      (onRetry) =>
        McpTools.make({
          server: target.server,
          policy,
          onRetry,
          callTimeout: perAttempt,
          // the library's default call policy, within --timeout
          callPolicy: RetryPolicy.make({
            maxAttempts: 3,
            base: "200 millis",
            cap: "2 seconds",
            jitter: "full",
            attemptTimeout: perAttempt,
            deadline: total
          })
        }),
      (t) => t.client?.attempts ?? 1
    )
    // progress lines on stderr as the server reports them, then the result
    const progressStyle = styles(process.stderr.isTTY === true)
    const call = tools.callWithProgress(tool, args).pipe(
      Stream.runFoldEffect(undefined as CallToolResult | undefined, (last, event) =>
        event._tag === "Result"
          ? Effect.succeed(event.result)
          : Effect.as(Console.error(progressLine(event, progressStyle)), last)),
      Effect.map((last) => last!),
      Effect.timeoutFail({
        duration: total,
        onTimeout: () =>
          new McpTimeoutError({
            server: McpServerConfig.name(target.server),
            operation: `tools/call ${tool}`,
            after: total,
            maybeExecuted: true
          })
      })
    )
    const result = yield* (input.verbose ? call : warningsShown(call)).pipe(
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
    timeout: durationOption(
      "timeout",
      "The call's total deadline, retries and their waits included (default 60s); connecting is not counted."
    ),
    callAttemptTimeout: durationOption(
      "call-attempt-timeout",
      "The deadline of each attempt of the call (default: the whole --timeout). A read-only or idempotent tool " +
        "is retried after a failed attempt; other tools are not."
    ),
    ...targetOptions,
    ...policyOptions,
    json: json("Print the raw result (a CallToolResult) as JSON."),
    verbose
  },
  (input) => command(input.verbose, callProgram(input))
).pipe(Command.withDescription(DESCRIPTIONS.call))

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
  Command.withDescription(DESCRIPTIONS.demo)
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
  Command.withDescription(DESCRIPTION),
  Command.withSubcommands([probe, call, watch, demo])
)

const TARGET = "[<name> | --stdio COMMAND | --url URL]"

const HELP: Readonly<Record<string, Entry>> = {
  probe: { command: probe, description: DESCRIPTIONS.probe, usage: [`${TARGET} [options]`] },
  call: {
    command: call,
    description: DESCRIPTIONS.call,
    usage: [
      "[<server>] <tool> [--args JSON] [--timeout DURATION] [options]",
      "<tool> --stdio COMMAND [--args JSON] [options]",
      "<tool> --url URL [--args JSON] [options]"
    ]
  },
  watch: {
    command: watch,
    description: DESCRIPTIONS.watch,
    usage: ["[<name>...] [--health DURATION] [options]", "--stdio COMMAND | --url URL [options]"]
  },
  demo: { command: demo, description: DESCRIPTIONS.demo, usage: ["[--verbose]"] }
}

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
): Effect.Effect<number, never, CliApp.CliApp.Environment | FileSystem.FileSystem> => {
  const help = helpText(argv.slice(2), VERSION, DESCRIPTION, HELP)
  if (help !== undefined) return Effect.as(Console.log(help), ExitCode.Ok as number)
  return runCli(argv).pipe(
    Effect.as(ExitCode.Ok as number),
    Effect.catchAll((error) => Effect.succeed(error instanceof CommandFailed ? error.code : ExitCode.Usage)),
    Effect.catchAllDefect((defect) =>
      Effect.as(Console.error(`error: ${Cause.pretty(Cause.die(defect))}`), ExitCode.Failed as number)
    ),
    Logger.withMinimumLogLevel(LogLevel.None),
    Effect.provide(Logger.replace(Logger.defaultLogger, Logger.prettyLogger({ stderr: true }))),
    withOAuth
  )
}

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
