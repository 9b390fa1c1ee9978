/**
 * A retry budget bounds retry amplification: every call and reconnect of a client draws from
 * one shared budget, so a failing server sees a bounded multiple of the normal load instead of
 * every caller's full retry schedule at once.
 *
 * Two kinds:
 *
 * - {@link tokenBucket}: the AWS SDKs' "standard" retry mode. The bucket starts full (500
 *   tokens); a retry takes 5, a retry after a timeout takes 10, a success puts 1 back. When a
 *   retry costs more than what is left, it is refused. A long outage empties the bucket after
 *   100 retries, and the budget refills as requests succeed again.
 * - {@link ratio}: the Google SRE book's per-client budget. Retries may be at most 10 % of the
 *   requests of the last 10 seconds (on Effect's `Clock`), with a floor of 10 retries per
 *   window so that a quiet client can still retry.
 *
 * A refused retry does not end the run: it becomes a probe at the budget's minimum pace
 * (`probeInterval`: one probe per 30 s on average per run, with full jitter: each wait is drawn
 * from 0..60 s, never shorter than the policy's own delay), which takes nothing from the
 * budget, so that an outage with no success cannot strand a client (after gRPC's retry
 * throttling, which never stops new work, and Envoy's `min_retry_concurrency`).
 *
 * And {@link unlimited}, which never refuses. Budgets are plain objects with mutable fields (no
 * `Ref`, no fiber): taking from one costs a few arithmetic operations, so one budget can be shared
 * by every call and reconnect of a process.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricLabel from "effect/MetricLabel"

/**
 * Why a retry is wanted: after a timeout a retry costs more (the server may still be working).
 *
 * @since 0.1.0
 * @category models
 */
export type RetryKind = "retry" | "timeout"

/**
 * A shared budget of retries.
 *
 * @since 0.1.0
 * @category models
 */
export interface RetryBudget {
  /** Records a first attempt (ratio budgets count requests); token buckets ignore it. */
  readonly onAttempt: Effect.Effect<void>
  /**
   * Takes the cost of one retry; `false` means the budget is empty: the caller must not retry at
   * its own pace, only probe (see `probeInterval`).
   */
  readonly tryRetry: (kind: RetryKind) => Effect.Effect<boolean>
  /** Records a success (token buckets refund a little). */
  readonly onSuccess: Effect.Effect<void>
  /** What is left, for metrics and logs. */
  readonly remaining: Effect.Effect<number>
  /**
   * The minimum pace of a run whose retry this budget refused: `RetryPolicy.retry` then waits
   * `max(the policy's delay, probeInterval x U[0, 2))` and makes one more attempt, which takes
   * nothing from the budget, instead of failing (within the policy's `maxAttempts` and `deadline`).
   * `Duration.infinity` fails at once instead. Absent: {@link defaultProbeInterval}.
   */
  readonly probeInterval?: Duration.Duration | undefined
  /** How a {@link tokenBucket} was made, so that a store (`RetryBudgetStore`) can keep the same bucket elsewhere. */
  readonly spec?: TokenBucketSpec | undefined
}

/**
 * The settings of a {@link tokenBucket}, with every default filled in.
 *
 * @since 0.1.0
 * @category models
 */
export interface TokenBucketSpec {
  readonly _tag: "TokenBucket"
  readonly capacity: number
  readonly retryCost: number
  readonly timeoutCost: number
  readonly successRefund: number
  readonly name: string
}

/**
 * 30 seconds: when a budget is empty, each run that it refused still makes one attempt per 30 s
 * on average (each wait drawn from 0..60 s, never shorter than the policy's own delay), so that
 * an outage with no success cannot strand a client.
 * The same as `RetryPolicy.default`'s cap: a client never probes faster than a default policy
 * retries at its slowest.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultProbeInterval: Duration.Duration = Duration.seconds(30)

/**
 * Decodes a `probeInterval` option; throws a `RangeError` unless it is a positive duration (infinity allowed).
 */
const probeIntervalOf = (input: Duration.DurationInput | undefined): Duration.Duration => {
  const interval = input === undefined ? defaultProbeInterval : Duration.decode(input)
  if (!(Duration.toMillis(interval) > 0)) {
    throw new RangeError(
      `RetryBudget: probeInterval must be > 0 (or infinity to fail at once), actual ${Duration.format(interval)}`
    )
  }
  return interval
}

/**
 * What is left in each budget, labelled `budget` (the budget's `name`); updated whenever it changes.
 *
 * For a token bucket it is the tokens left; for a ratio budget, the retries still allowed in the
 * current window.
 *
 * @since 0.1.0
 * @category models
 */
export const remainingGauge: Metric.Metric.Gauge<number> = Metric.gauge("retry_budget.remaining", {
  description: "What is left in a retry budget (tokens, or retries allowed in the current window)"
})

/**
 * Retries a budget refused, labelled `budget` and `kind` (`retry` | `timeout`).
 *
 * @since 0.1.0
 * @category models
 */
export const refusedCounter: Metric.Metric.Counter<number> = Metric.counter("retry_budget.refused", {
  description: "Retries a retry budget refused",
  incremental: true
})

/**
 * Label arrays are built once per budget: Effect's metric hooks are cached by array identity.
 */
const metricsFor = (name: string) => {
  const budget = MetricLabel.make("budget", name)
  const labels = [budget]
  const refusedLabels = {
    retry: [budget, MetricLabel.make("kind", "retry")],
    timeout: [budget, MetricLabel.make("kind", "timeout")]
  }
  return {
    remaining: (value: number) => remainingGauge.unsafeUpdate(value, labels),
    refused: (kind: RetryKind) => refusedCounter.unsafeUpdate(1, refusedLabels[kind])
  }
}

/**
 * Options of {@link tokenBucket}; the defaults are the AWS SDKs' standard retry mode.
 *
 * @since 0.1.0
 * @category models
 */
export interface TokenBucketOptions {
  /** Tokens when full, and at the start. Default 500. */
  readonly capacity?: number | undefined
  /** What a retry takes. Default 5. */
  readonly retryCost?: number | undefined
  /** What a retry after a timeout takes. Default 10. */
  readonly timeoutCost?: number | undefined
  /** What a success puts back, up to `capacity`. Default 1. */
  readonly successRefund?: number | undefined
  /** The minimum pace of a refused run, see {@link RetryBudget.probeInterval}. Default 30 seconds. */
  readonly probeInterval?: Duration.DurationInput | undefined
  /** The `budget` label of its metrics. Default `"default"`. */
  readonly name?: string | undefined
}

const nonNegative = (what: string, value: number): number => {
  if (!(value >= 0) || !Number.isFinite(value)) {
    throw new RangeError(`RetryBudget: ${what} must be a finite number >= 0, actual ${value}`)
  }
  return value
}

/**
 * A token bucket, as in the AWS SDKs' standard retry mode: it starts with `capacity` tokens
 * (500); a retry takes `retryCost` (5), a retry after a timeout `timeoutCost` (10), and each
 * success puts `successRefund` (1) back, never above `capacity`.
 *
 * A retry whose cost exceeds the tokens left is refused and takes nothing; the refused run
 * then probes once per `probeInterval` on average (30 s, full jitter) until it succeeds or its policy ends it
 * (`probeInterval: Duration.infinity`: it fails with its error at once). The bucket does not
 * refill with time, only with successes: after 100 retries against a dead server it is empty,
 * and the first probes that succeed refill it. Throws a `RangeError` on negative or non-finite
 * options and on a `probeInterval` that is not positive.
 *
 * @since 0.1.0
 * @category constructors
 */
export const tokenBucket = (options: TokenBucketOptions = {}): RetryBudget => {
  const capacity = nonNegative("capacity", options.capacity ?? 500)
  const costs = {
    retry: nonNegative("retryCost", options.retryCost ?? 5),
    timeout: nonNegative("timeoutCost", options.timeoutCost ?? 10)
  }
  const refund = nonNegative("successRefund", options.successRefund ?? 1)
  const probeInterval = probeIntervalOf(options.probeInterval)
  const name = options.name ?? "default"
  const metrics = metricsFor(name)
  let tokens = capacity
  metrics.remaining(tokens)
  const take = (kind: RetryKind) =>
    Effect.sync(() => {
      const cost = costs[kind]
      if (cost > tokens) {
        metrics.refused(kind)
        return false
      }
      if (cost > 0) {
        tokens -= cost
        metrics.remaining(tokens)
      }
      return true
    })
  const takeRetry = take("retry")
  const takeTimeout = take("timeout")
  return {
    onAttempt: Effect.void,
    tryRetry: (kind) => (kind === "timeout" ? takeTimeout : takeRetry),
    onSuccess: Effect.sync(() => {
      if (tokens < capacity && refund > 0) {
        tokens = Math.min(capacity, tokens + refund)
        metrics.remaining(tokens)
      }
    }),
    remaining: Effect.sync(() => tokens),
    probeInterval,
    spec: {
      _tag: "TokenBucket",
      capacity,
      retryCost: costs.retry,
      timeoutCost: costs.timeout,
      successRefund: refund,
      name
    }
  }
}

/**
 * Options of {@link ratio}; the defaults follow the Google SRE book (10 % of requests).
 *
 * @since 0.1.0
 * @category models
 */
export interface RatioOptions {
  /** Retries allowed per request in the window. Default 0.1. */
  readonly ratio?: number | undefined
  /** How far back requests and retries count. Default 10 seconds. */
  readonly window?: Duration.DurationInput | undefined
  /** Retries allowed per window whatever the traffic, so a quiet client can still retry. Default 10. */
  readonly minRetries?: number | undefined
  /** How many slices the window slides by (its resolution is `window / buckets`). Default 10. */
  readonly buckets?: number | undefined
  /** The minimum pace of a refused run, see {@link RetryBudget.probeInterval}. Default 30 seconds. */
  readonly probeInterval?: Duration.DurationInput | undefined
  /** The `budget` label of its metrics. Default `"default"`. */
  readonly name?: string | undefined
}

/**
 * A ratio budget, after the Google SRE book: within a sliding `window` (10 s on Effect's
 * `Clock`), the retries granted stay at most `max(minRetries, ratio * requests)` (10 % of the
 * requests, with a floor of 10 retries), where requests are the first attempts recorded by
 * `onAttempt`. Both kinds of retry count as one.
 *
 * The window slides in `buckets` steps (10 by default, so 1 s steps): a request or retry stops
 * counting between `window - window / buckets` and `window` after it was made. A refused run
 * probes once per `probeInterval` on average (30 s, full jitter); probes count neither as requests nor as
 * retries. Throws a `RangeError` on invalid options.
 *
 * @since 0.1.0
 * @category constructors
 */
export const ratio = (options: RatioOptions = {}): RetryBudget => {
  const share = nonNegative("ratio", options.ratio ?? 0.1)
  const minRetries = nonNegative("minRetries", options.minRetries ?? 10)
  const buckets = Math.floor(options.buckets ?? 10)
  if (!(buckets >= 1)) throw new RangeError(`RetryBudget: buckets must be >= 1, actual ${options.buckets}`)
  const windowMillis = Duration.toMillis(options.window ?? Duration.seconds(10))
  if (!(windowMillis > 0) || !Number.isFinite(windowMillis)) {
    throw new RangeError(`RetryBudget: window must be finite and > 0, actual ${windowMillis} ms`)
  }
  const sliceMillis = windowMillis / buckets
  const probeInterval = probeIntervalOf(options.probeInterval)
  const metrics = metricsFor(options.name ?? "default")
  const requests = new Float64Array(buckets)
  const retries = new Float64Array(buckets)
  let totalRequests = 0
  let totalRetries = 0
  /** The slice (`floor(now / sliceMillis)`) that the newest bucket holds. */
  let head = Number.NEGATIVE_INFINITY

  /** Drops the buckets that slid out of the window; returns the current bucket. */
  const advance = (now: number): number => {
    const slice = Math.floor(now / sliceMillis)
    if (slice > head) {
      const steps = Math.min(slice - head, buckets)
      for (let k = 1; k <= steps; k++) {
        const i = (((slice - steps + k) % buckets) + buckets) % buckets
        totalRequests -= requests[i]!
        totalRetries -= retries[i]!
        requests[i] = 0
        retries[i] = 0
      }
      head = slice
    }
    // a clock that went back (TestClock.setTime) counts into the newest bucket
    return ((head % buckets) + buckets) % buckets
  }
  const allowed = () => Math.max(minRetries, share * totalRequests)
  const left = () => Math.max(0, Math.floor(allowed() - totalRetries + 1e-9))

  const tryRetry = (kind: RetryKind) =>
    Effect.map(Clock.currentTimeMillis, (now) => {
      const i = advance(now)
      // the epsilon absorbs floating-point error in share * totalRequests (0.1 * 30 = 3.0000000000000004)
      if (totalRetries + 1 > allowed() + 1e-9) {
        metrics.refused(kind)
        metrics.remaining(0)
        return false
      }
      retries[i]! += 1
      totalRetries += 1
      metrics.remaining(left())
      return true
    })
  const tryRetryRetry = tryRetry("retry")
  const tryRetryTimeout = tryRetry("timeout")
  metrics.remaining(minRetries)
  return {
    onAttempt: Effect.map(Clock.currentTimeMillis, (now) => {
      const i = advance(now)
      requests[i]! += 1
      totalRequests += 1
      metrics.remaining(left())
    }),
    tryRetry: (kind) => (kind === "timeout" ? tryRetryTimeout : tryRetryRetry),
    onSuccess: Effect.void,
    remaining: Effect.map(Clock.currentTimeMillis, (now) => {
      advance(now)
      return left()
    }),
    probeInterval
  }
}

/**
 * A budget that never refuses (the behaviour without a budget), and reports `Infinity` left.
 *
 * @since 0.1.0
 * @category constructors
 */
export const unlimited: RetryBudget = {
  onAttempt: Effect.void,
  tryRetry: () => Effect.succeed(true),
  onSuccess: Effect.void,
  remaining: Effect.succeed(Number.POSITIVE_INFINITY)
}
