/**
 * The Schemas of this library's own per-server settings in a config file, with their defaults, and the shape
 * of a decoded file. `McpToolsetConfig` exports them with their documentation.
 */
import { RetryPolicy } from "@mcp-resilience/policy"
import * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"
import type * as McpServerConfig from "../../McpServerConfig.js"

const PositiveInt = Schema.Int.pipe(Schema.greaterThanOrEqualTo(1))

const PositiveDuration = RetryPolicy.DurationField.pipe(
  Schema.filter((d) => (Duration.isFinite(d) && Duration.toMillis(d) > 0) || "must be a positive, finite duration")
)

export const HealthConfig = Schema.Struct({
  interval: Schema.optionalWith(PositiveDuration, { exact: true, default: () => Duration.seconds(30) }),
  timeout: Schema.optionalWith(PositiveDuration, { exact: true, default: () => Duration.seconds(5) }),
  misses: Schema.optionalWith(PositiveInt, { exact: true, default: () => 3 })
})

const breakerCommon = {
  /** How long the breaker stays open before a probe; default 5 seconds. */
  breakDuration: Schema.optionalWith(RetryPolicy.DurationField, { exact: true, default: () => Duration.seconds(5) }),
  /** Probe calls let through while half-open; default 1. */
  halfOpenProbes: Schema.optionalWith(PositiveInt, { exact: true, default: () => 1 }),
  /** A call slower than this counts as a failure; no default. */
  slowCallThreshold: Schema.optionalWith(PositiveDuration, { exact: true })
}

export const ConsecutiveBreaker = Schema.Struct({
  strategy: Schema.Literal("consecutive"),
  threshold: Schema.optionalWith(PositiveInt, { exact: true, default: () => 5 }),
  ...breakerCommon
})

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

export type Breaker = Schema.Schema.Type<typeof ConsecutiveBreaker> | Schema.Schema.Type<typeof SamplingBreaker>

/** What the decoder produces; `McpToolsetConfig`'s documented interfaces have the same shape. */
export interface ToolFilter {
  readonly allow: ReadonlyArray<string> | undefined
  readonly deny: ReadonlyArray<string>
}

export interface Entry {
  readonly name: string
  readonly server: McpServerConfig.Stdio | McpServerConfig.Http | McpServerConfig.Sse
  readonly policy: RetryPolicy.RetryPolicy
  readonly health: Schema.Schema.Type<typeof HealthConfig> | undefined
  readonly breaker: Breaker | undefined
  readonly tools: ToolFilter
  readonly prefix: string | undefined
  readonly startup: "required" | "optional"
}

export interface Document {
  readonly servers: ReadonlyArray<Entry>
  readonly concurrency: number
}
