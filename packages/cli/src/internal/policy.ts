/**
 * The policy flags (`--attempts`, `--base`, `--cap`, `--jitter`, `--deadline`, `--attempt-timeout`)
 * and how they override a policy.
 *
 * @internal
 */
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import { Backoff, RetryPolicy } from "@mcp-resilience/policy"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import { UsageError } from "./errors.js"

const units: Record<string, (n: number) => Duration.Duration> = {
  ms: Duration.millis,
  s: Duration.seconds,
  m: Duration.minutes,
  h: Duration.hours
}

/**
 * A duration on the command line: `500ms`, `1.5s`, `2m`, `1h`, Effect's own `"500 millis"` /
 * `"10 seconds"`, or a bare number of milliseconds (as in config files).
 */
export const parseDuration = (input: string): Option.Option<Duration.Duration> => {
  const trimmed = input.trim()
  const short = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(trimmed)
  if (short !== null) {
    const n = Number(short[1])
    return Option.some(units[short[2] ?? "ms"]!(n))
  }
  return trimmed.startsWith("-") ? Option.none() : Duration.decodeUnknown(trimmed)
}

/** An optional duration flag. */
export const durationOption = (name: string, description: string) =>
  Options.text(name).pipe(
    Options.withPseudoName("DURATION"),
    Options.mapEffect((text) =>
      Option.match(parseDuration(text), {
        onNone: () =>
          Effect.fail(
            ValidationError.invalidValue(
              HelpDoc.p(`--${name}: expected a duration such as 500ms, 2s or 1m, got ${JSON.stringify(text)}`)
            )
          ),
        onSome: Effect.succeed
      })
    ),
    Options.withDescription(description),
    Options.optional
  )

/** The policy flags; each overrides one field of the server's policy (or of `RetryPolicy.default`). */
export const policyOptions = {
  attempts: Options.integer("attempts").pipe(
    Options.withDescription("Connection attempts in total, the first included (default 10)."),
    Options.optional
  ),
  base: durationOption("base", "The first backoff delay (default 1s)."),
  cap: durationOption("cap", "The longest backoff delay (default 30s)."),
  jitter: Options.choice("jitter", Backoff.jitters).pipe(
    Options.withDescription("How delays are randomized (default full)."),
    Options.optional
  ),
  deadline: durationOption("deadline", "Total time for all attempts and waits (default 60s)."),
  attemptTimeout: durationOption("attempt-timeout", "How long one attempt may take (default 30s).")
}

/** The parsed policy flags. */
export interface PolicyFlags {
  readonly attempts: Option.Option<number>
  readonly base: Option.Option<Duration.Duration>
  readonly cap: Option.Option<Duration.Duration>
  readonly jitter: Option.Option<Backoff.Jitter>
  readonly deadline: Option.Option<Duration.Duration>
  readonly attemptTimeout: Option.Option<Duration.Duration>
}

/** `base` with the fields the flags give replaced; a value the policy rejects is a usage error. */
export const applyPolicyFlags = (
  base: RetryPolicy.RetryPolicy,
  flags: PolicyFlags
): Effect.Effect<RetryPolicy.RetryPolicy, UsageError> =>
  Effect.try({
    try: () =>
      RetryPolicy.make({
        ...base,
        maxAttempts: Option.getOrElse(flags.attempts, () => base.maxAttempts),
        base: Option.getOrElse(flags.base, () => base.base),
        cap: Option.getOrElse(flags.cap, () => base.cap),
        jitter: Option.getOrElse(flags.jitter, () => base.jitter),
        attemptTimeout: Option.getOrElse(flags.attemptTimeout, () => base.attemptTimeout),
        deadline: Option.getOrElse(flags.deadline, () => base.deadline)
      }),
    catch: (error) =>
      new UsageError({
        detail: `invalid policy flags: ${
          ParseResult.isParseError(error)
            ? ParseResult.ArrayFormatter.formatErrorSync(error).map((i) => `${i.path.join(".")}: ${i.message}`)
              .join("; ")
            : String(error)
        }`
      })
  })
