/**
 * Exit codes, the usage error, and how a failed command is reported.
 *
 * @internal
 */
import * as ValidationError from "@effect/cli/ValidationError"
import { McpError } from "@mcp-resilience/client"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"

/** The process's exit codes. */
export const ExitCode = {
  /** The command did what it was asked. */
  Ok: 0,
  /** The server or the tool failed (could not connect, timed out, `isError`, protocol error, ...). */
  Failed: 1,
  /** Bad usage or a bad config: retrying the same command cannot help. */
  Usage: 2,
  /** Interrupted (Ctrl-C, SIGTERM), as shells report it: 128 + SIGINT. */
  Interrupted: 130
} as const

/** A command line that cannot be run as given (conflicting flags, bad JSON in `--args`, ...). */
export class UsageError extends Schema.TaggedError<UsageError>("@mcp-resilience/cli/UsageError")("UsageError", {
  detail: Schema.String
}) {
  override get message(): string {
    return this.detail
  }
}

/** A command finished with a non-zero exit code (its error has been printed). */
export class CommandFailed extends Schema.TaggedError<CommandFailed>("@mcp-resilience/cli/CommandFailed")(
  "CommandFailed",
  { code: Schema.Number }
) {}

/** The exit code an error calls for: 2 for usage and config errors, 1 for everything else. */
export const exitCodeOf = (error: unknown): number => {
  if (error instanceof UsageError || error instanceof McpError.McpConfigError) return ExitCode.Usage
  if (ValidationError.isValidationError(error)) return ExitCode.Usage
  return ExitCode.Failed
}

const messageOf = (error: unknown): string => {
  if (error instanceof Error) return error.message === "" ? String(error) : error.message
  if (typeof error === "object" && error !== null && "_tag" in error) return String((error as { _tag: unknown })._tag)
  return String(error)
}

/**
 * Runs a command's body and turns its outcome into an exit code: failures print the typed
 * error's message (`error: ...`) on stderr, with the whole cause (stack traces, spans) only when
 * `verbose`. Interruption is left alone, so that Ctrl-C still interrupts.
 */
export const reporting = <E, R>(
  verbose: boolean,
  body: Effect.Effect<void, E, R>
): Effect.Effect<number, never, R> =>
  body.pipe(
    Effect.as(ExitCode.Ok as number),
    Effect.catchAllCause((cause) => {
      if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
      const failure = Cause.failureOption(cause)
      const error = Option.isSome(failure) ? failure.value : Cause.squash(cause)
      // @effect/cli has already printed its own validation errors
      const print = ValidationError.isValidationError(error)
        ? Effect.void
        : Console.error(verbose ? `error: ${messageOf(error)}\n\n${Cause.pretty(cause)}` : `error: ${messageOf(error)}`)
      return Effect.as(print, Option.isSome(failure) ? exitCodeOf(error) : ExitCode.Failed)
    })
  )
