/**
 * A declarative retry policy (attempts, backoff, per-attempt timeout, total deadline, which
 * errors to retry), as plain data that can come from a JSON config file, and the combinator
 * that runs an effect under it.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as ParseResult from "effect/ParseResult"
import * as Predicate from "effect/Predicate"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as ScheduleInterval from "effect/ScheduleInterval"
import * as Schema from "effect/Schema"
import * as Backoff from "./Backoff.js"
import * as RetryBudget from "./RetryBudget.js"
import * as Transient from "./Transient.js"

/**
 * A duration in a config: a number of milliseconds, or a string `Duration.decode` understands such as `"10 seconds"`.
 *
 * Negative values and unparseable strings fail to decode with a message that names the value.
 *
 * @since 0.1.0
 * @category models
 */
export const DurationField: Schema.Schema<Duration.Duration, number | string> = Schema.transformOrFail(
  Schema.Union(Schema.Number, Schema.String),
  Schema.DurationFromSelf,
  {
    strict: true,
    decode: (input, _, ast) => {
      if (typeof input === "number") {
        return input >= 0
          ? ParseResult.succeed(Duration.millis(input))
          : ParseResult.fail(
            new ParseResult.Type(ast, input, `Expected a non-negative number of milliseconds, actual ${input}`)
          )
      }
      const trimmed = input.trim()
      const decoded = trimmed.startsWith("-") ? undefined : Duration.decodeUnknown(trimmed)
      return decoded !== undefined && decoded._tag === "Some"
        ? ParseResult.succeed(decoded.value)
        : ParseResult.fail(
          new ParseResult.Type(
            ast,
            input,
            `Expected a duration such as "500 millis" or "10 seconds", actual ${JSON.stringify(input)}`
          )
        )
    },
    encode: (duration) => ParseResult.succeed(Duration.toMillis(duration))
  }
).annotations({ identifier: "DurationField" })

/**
 * Which errors a policy retries: `"transient"` (those for which `Transient.isTransient` holds), all, or none.
 *
 * @since 0.1.0
 * @category models
 */
export type RetryOn = "transient" | "always" | "never"

/**
 * A retry policy as plain data; every field is optional in a config and defaults to `RetryPolicy.default`'s value.
 *
 * - `maxAttempts`: attempts in total, counting the first (>= 1)
 * - `base`, `factor`, `cap`, `jitter`: the backoff, see `Backoff.exponential`
 * - `attemptTimeout`: how long one attempt may run
 * - `deadline`: total time across all attempts and waits
 * - `retryOn`: which errors are retried
 * - `honorRetryAfter`: wait at least the `Retry-After` an error carries
 *
 * @since 0.1.0
 * @category models
 */
export class RetryPolicy extends Schema.Class<RetryPolicy>("@mcp-resilience/policy/RetryPolicy")({
  maxAttempts: Schema.optionalWith(Schema.Int.pipe(Schema.greaterThanOrEqualTo(1)), { exact: true, default: () => 10 }),
  base: Schema.optionalWith(DurationField, { exact: true, default: () => Duration.seconds(1) }),
  factor: Schema.optionalWith(Schema.Finite.pipe(Schema.greaterThanOrEqualTo(1)), { exact: true, default: () => 2 }),
  cap: Schema.optionalWith(DurationField, { exact: true, default: () => Duration.seconds(30) }),
  jitter: Schema.optionalWith(Schema.Literal(...Backoff.jitters), { exact: true, default: () => "full" as const }),
  attemptTimeout: Schema.optionalWith(DurationField, { exact: true, default: () => Duration.seconds(30) }),
  deadline: Schema.optionalWith(DurationField, { exact: true, default: () => Duration.seconds(60) }),
  retryOn: Schema.optionalWith(Schema.Literal("transient", "always", "never"), {
    exact: true,
    default: () => "transient" as const
  }),
  honorRetryAfter: Schema.optionalWith(Schema.Boolean, { exact: true, default: () => true })
}) {
  /**
   * 10 attempts, 1 s base, x2, 30 s cap, full jitter, 30 s per attempt, 60 s total, transient errors, Retry-After honoured.
   *
   * @since 0.1.0
   * @category constructors
   */
  static readonly default: RetryPolicy = new RetryPolicy({})
}

/**
 * The defaults, so that `RetryPolicy.default` also works on the `RetryPolicy` namespace of the package index.
 *
 * @since 0.1.0
 * @category constructors
 */
const defaultPolicy: RetryPolicy = RetryPolicy.default

export { defaultPolicy as default }

/**
 * The fields `make` accepts; durations may be any `Duration.DurationInput`.
 *
 * @since 0.1.0
 * @category models
 */
export interface MakeOptions {
  readonly maxAttempts?: number
  readonly base?: Duration.DurationInput
  readonly factor?: number
  readonly cap?: Duration.DurationInput
  readonly jitter?: Backoff.Jitter
  readonly attemptTimeout?: Duration.DurationInput
  readonly deadline?: Duration.DurationInput
  readonly retryOn?: RetryOn
  readonly honorRetryAfter?: boolean
}

/**
 * Builds a policy from some fields, the rest from `RetryPolicy.default`; throws a `ParseError` on invalid values.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: MakeOptions = {}): RetryPolicy => {
  const { attemptTimeout, base, cap, deadline, ...rest } = options
  return new RetryPolicy({
    ...rest,
    ...(base === undefined ? {} : { base: Duration.decode(base) }),
    ...(cap === undefined ? {} : { cap: Duration.decode(cap) }),
    ...(attemptTimeout === undefined ? {} : { attemptTimeout: Duration.decode(attemptTimeout) }),
    ...(deadline === undefined ? {} : { deadline: Duration.decode(deadline) })
  })
}

/**
 * Decodes a policy from untrusted data (a parsed JSON config), reporting every bad field at once.
 *
 * @since 0.1.0
 * @category constructors
 */
export const decodeUnknown: (u: unknown) => Effect.Effect<RetryPolicy, ParseResult.ParseError> = (u) =>
  Schema.decodeUnknown(RetryPolicy)(u, { errors: "all" })

/**
 * The backoff part of a policy, for `Backoff.exponential`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const backoff = (policy: RetryPolicy): Backoff.BackoffOptions => ({
  base: policy.base,
  factor: policy.factor,
  cap: policy.cap,
  jitter: policy.jitter
})

/**
 * One decided retry: the attempt about to start (2..maxAttempts), the wait before it, and the error that caused it.
 *
 * @since 0.1.0
 * @category models
 */
export interface RetryStep {
  readonly attempt: number
  readonly maxAttempts: number
  readonly delay: Duration.Duration
  readonly error: unknown
  /** `true` when the retry budget refused this retry and the attempt is a probe at the budget's minimum pace. */
  readonly probe: boolean
}

/**
 * What timed out: one attempt (`attemptTimeout`) or the whole run (`deadline`), after how long, during which attempt.
 *
 * @since 0.1.0
 * @category models
 */
export interface TimeoutInfo {
  readonly kind: "attempt" | "deadline"
  readonly after: Duration.Duration
  readonly attempt: number
}

/**
 * Options of `retry`: the timeout error to raise, an optional override of `retryOn`, a hook run before each wait, and a retry budget.
 *
 * @since 0.1.0
 * @category models
 */
export interface RetryOptions<E, E2, R2> {
  /** Overrides `policy.retryOn`: retry only the errors for which this holds. */
  readonly while?: (error: E | E2) => boolean
  /** Builds the error raised when an attempt or the whole run times out. */
  readonly onTimeout: (info: TimeoutInfo) => E2
  /** Runs before each wait, for logs and metrics ("attempt 2 of 5, reason, next delay"). */
  readonly onRetry?: (step: RetryStep) => Effect.Effect<void, never, R2>
  /**
   * A budget shared with other runs: `onAttempt` before the first attempt, `tryRetry` before
   * each retry (`"timeout"` after a timed-out attempt; none after an attempt rejected before anything
   * was sent, `Transient.isRejected`: an open breaker), `onSuccess` on success. When it refuses,
   * the run waits `max(its delay, budget.probeInterval x U[0, 2))` and probes (within
   * `maxAttempts` and `deadline`); with a `probeInterval` of infinity it fails at once with the
   * error of the last attempt.
   */
  readonly budget?: RetryBudget.RetryBudget | undefined
}

/**
 * `true` for the errors after which a retry costs a budget's `"timeout"` price: those marked with
 * `Transient.TimeoutTypeId` set to `true` (besides, `retry` charges the error its `onTimeout` built).
 *
 * @since 0.1.0
 * @category guards
 */
export const isTimeoutError = (error: unknown): boolean =>
  Predicate.hasProperty(error, Transient.TimeoutTypeId) &&
  (error as Transient.Transient)[Transient.TimeoutTypeId] === true

const retryOnPredicate = (retryOn: RetryOn): (error: unknown) => boolean => {
  switch (retryOn) {
    case "transient":
      return Transient.isTransient
    case "always":
      return () => true
    case "never":
      return () => false
  }
}

/**
 * The core of `schedule` and `retry`. `startedAt` is when the first attempt began; when it is
 * not known (a bare `Schedule` used with `Effect.retry`), the first failure stands in for it.
 */
const makeSchedule = <R2 = never>(
  policy: RetryPolicy,
  shouldRetry: (error: unknown) => boolean,
  startedAt: number | undefined,
  onRetry: ((step: RetryStep) => Effect.Effect<void, never, R2>) | undefined,
  budget?: {
    readonly budget: RetryBudget.RetryBudget
    readonly kindOf: (error: unknown) => RetryBudget.RetryKind
  }
): Schedule.Schedule<RetryStep, unknown, R2> => {
  const backoff_ = Backoff.exponential(backoff(policy))
  const maxRetries = policy.maxAttempts - 1
  const deadlineMillis = Duration.toMillis(policy.deadline)
  interface State {
    readonly backoff: unknown
    readonly retries: number
    readonly startedAt: number | undefined
  }
  const initial: State = { backoff: backoff_.initial, retries: 0, startedAt }
  return Schedule.makeWithState(initial, (now, error: unknown, state: State) => {
    const start = state.startedAt ?? now
    const stop = Effect.succeed(
      [
        { ...state, startedAt: start },
        { attempt: state.retries + 2, maxAttempts: policy.maxAttempts, delay: Duration.zero, error, probe: false },
        ScheduleDecision.done
      ] as const
    )
    if (state.retries >= maxRetries || !shouldRetry(error)) {
      return stop
    }
    return Effect.flatMap(backoff_.step(now, error, state.backoff), ([backoffState, backoffDelay, decision]) => {
      if (ScheduleDecision.isDone(decision)) {
        return stop
      }
      const retryAfter = policy.honorRetryAfter ? Transient.retryAfter(error) : undefined
      const delay = retryAfter === undefined ? backoffDelay : Duration.max(backoffDelay, retryAfter)
      // Do not sleep only to give up: the next attempt must start before the deadline.
      const tooLate = (delay: Duration.Duration) => now + Duration.toMillis(delay) - start >= deadlineMillis
      if (tooLate(delay)) return stop
      const go = (delay: Duration.Duration, probe: boolean) => {
        if (tooLate(delay)) return stop
        const wakeAt = now + Duration.toMillis(delay)
        const step: RetryStep = { attempt: state.retries + 2, maxAttempts: policy.maxAttempts, delay, error, probe }
        const result = [
          { backoff: backoffState, retries: state.retries + 1, startedAt: start },
          step,
          ScheduleDecision.continueWith(ScheduleInterval.after(wakeAt))
        ] as const
        return onRetry === undefined ? Effect.succeed(result) : Effect.as(onRetry(step), result)
      }
      // a retry after a rejection (an open breaker: nothing was sent) is paced by its Retry-After
      // and takes nothing from the budget
      if (budget === undefined || Transient.isRejected(error)) return go(delay, false)
      // The budget is asked last, so that a retry the policy would not make takes nothing from
      // it. Refused, the run probes at the budget's minimum pace instead of giving up: a wait
      // drawn uniformly from [0, 2 x probeInterval) (full jitter: a mean of 30 s by default, and
      // a fleet's probes do not fall into waves), never shorter than the policy's own delay.
      const probeMillis = Duration.toMillis(budget.budget.probeInterval ?? RetryBudget.defaultProbeInterval)
      return Effect.flatMap(budget.budget.tryRetry(budget.kindOf(error)), (granted) => {
        if (granted) return go(delay, false)
        if (!Number.isFinite(probeMillis)) return stop
        return Effect.flatMap(
          Random.next,
          (u) => go(Duration.max(delay, Duration.millis(Math.round(2 * probeMillis * u))), true)
        )
      })
    })
  })
}

/**
 * The policy as a `Schedule` over errors: backoff, Retry-After, `maxAttempts - 1` retries and the deadline; output describes each retry.
 *
 * It retries the errors `policy.retryOn` selects, waits `max(backoff, Retry-After)` when
 * `honorRetryAfter` is set, and stops when `maxAttempts` are used or when the next wait would
 * not end before `deadline`. A bare schedule cannot see when the first attempt started, so
 * here the deadline counts from the first failure, and `attemptTimeout` is not applied; use
 * `retry` for the full semantics.
 *
 * @since 0.1.0
 * @category constructors
 */
export const schedule = (policy: RetryPolicy): Schedule.Schedule<RetryStep, unknown> =>
  makeSchedule(policy, retryOnPredicate(policy.retryOn), undefined, undefined)

const retry_ = <A, E, R, E2, R2>(
  self: Effect.Effect<A, E, R>,
  policy: RetryPolicy,
  options: RetryOptions<E, E2, R2>
): Effect.Effect<A, E | E2, R | R2> =>
  Effect.gen(function*() {
    const startedAt = yield* Clock.currentTimeMillis
    const deadlineAt = startedAt + Duration.toMillis(policy.deadline)
    const attemptTimeoutMillis = Duration.toMillis(policy.attemptTimeout)
    const attempts = yield* Ref.make(0)
    const shouldRetry: (error: unknown) => boolean = options.while === undefined
      ? retryOnPredicate(policy.retryOn)
      : (options.while as (error: unknown) => boolean)
    const budget = options.budget
    /** The error of the last attempt that timed out, so the budget charges its retry as a timeout. */
    let timedOut: { readonly error: unknown } | undefined
    const budgeted = budget === undefined ? undefined : {
      budget,
      kindOf: (error: unknown): RetryBudget.RetryKind =>
        (timedOut !== undefined && timedOut.error === error) || isTimeoutError(error) ? "timeout" : "retry"
    }

    const attempt: Effect.Effect<A, E | E2, R> = Effect.gen(function*() {
      const n = yield* Ref.updateAndGet(attempts, (n) => n + 1)
      const now = yield* Clock.currentTimeMillis
      // When the deadline comes first (or at the same instant), it alone bounds this attempt.
      if (now + attemptTimeoutMillis >= deadlineAt) {
        return yield* self
      }
      return yield* Effect.timeoutFail(self, {
        duration: policy.attemptTimeout,
        onTimeout: () => {
          const error = options.onTimeout({ kind: "attempt", after: policy.attemptTimeout, attempt: n })
          if (budget !== undefined) timedOut = { error }
          return error
        }
      })
    })

    const retried_ = Effect.retry(attempt, makeSchedule(policy, shouldRetry, startedAt, options.onRetry, budgeted))
    const retried = budget === undefined
      ? retried_
      : Effect.zipRight(budget.onAttempt, Effect.tap(retried_, () => budget.onSuccess))
    if (!Duration.isFinite(policy.deadline)) {
      return yield* retried
    }
    return yield* retried.pipe(
      Effect.timeoutTo({
        duration: policy.deadline,
        onSuccess: Effect.succeed,
        onTimeout: () =>
          Effect.flatMap(
            Ref.get(attempts),
            (n) => Effect.fail(options.onTimeout({ kind: "deadline", after: policy.deadline, attempt: n }))
          )
      }),
      Effect.flatten
    )
  })

/**
 * Runs an effect under a policy: each attempt bounded by `attemptTimeout`, the whole run by `deadline`, failing with the last error when retries run out.
 *
 * - An attempt that outlives `attemptTimeout` fails with `onTimeout({ kind: "attempt" })`, and
 *   that error goes through the same retry decision as any other.
 * - An error is retried when `options.while` (or `policy.retryOn`) holds, fewer than
 *   `maxAttempts` attempts were made, and the next wait would end before the deadline;
 *   otherwise the run fails with that error, unwrapped.
 * - With `honorRetryAfter`, the wait is `max(backoff delay, Transient.retryAfter(error))`.
 * - An attempt still running at the deadline is interrupted and the run fails with
 *   `onTimeout({ kind: "deadline" })` exactly at the deadline.
 * - `onRetry` runs before each wait. Every wait goes through Effect's `Clock`.
 * - With a `budget`: `onAttempt` runs before the first attempt, `tryRetry` before each retry
 *   the policy would make (kind `"timeout"` when the failed attempt timed out: the error built
 *   by `onTimeout`, or any error for which `isTimeoutError` holds), and `onSuccess` on success.
 *   When `tryRetry` refuses, the attempt after the wait is a probe (`RetryStep.probe`): the
 *   wait is `max(the delay above, probeInterval x U[0, 2))` on Effect's `Random`
 *   (`probeInterval`: the budget's, 30 s by default), it takes nothing from the budget, and it
 *   counts as an attempt; when it would start after the deadline, or `probeInterval` is
 *   infinite, the run fails at once with that attempt's error, without waiting.
 *
 * @since 0.1.0
 * @category combinators
 */
export const retry: {
  <E, E2, R2 = never>(
    policy: RetryPolicy,
    options: RetryOptions<NoInfer<E>, E2, R2>
  ): <A, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | E2, R | R2>
  <A, E, R, E2, R2 = never>(
    self: Effect.Effect<A, E, R>,
    policy: RetryPolicy,
    options: RetryOptions<NoInfer<E>, E2, R2>
  ): Effect.Effect<A, E | E2, R | R2>
} = dual(3, retry_)
