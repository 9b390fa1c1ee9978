/**
 * This library's own keys on a server: `policy`, `health`, `breaker`, `tools`, `prefix`, `startup`. Each
 * setting is checked for unknown keys (with a "did you mean") before its Schema decodes it.
 */
import { RetryPolicy } from "@mcp-resilience/policy"
import type { Schema } from "effect/Schema"
import {
  checkKeys,
  decodeWith,
  fromEntries,
  get,
  isObject,
  literal,
  optional,
  problem,
  string,
  stringArray
} from "./fields.js"
import type { Path } from "./messages.js"
import { describe, quote } from "./messages.js"
import type { Breaker, ToolFilter } from "./schemas.js"
import { ConsecutiveBreaker, HealthConfig, SamplingBreaker } from "./schemas.js"

const policyKeys: ReadonlyArray<string> = Object.keys(RetryPolicy.RetryPolicy.fields)
const decodePolicyFields = decodeWith(RetryPolicy.RetryPolicy)

/** `policy`: `RetryPolicy.default` when absent. */
export const decodePolicy = (u: unknown, path: Path): RetryPolicy.RetryPolicy => {
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

/** `health`: absent or `false` for none, `true` for the defaults, or an object. */
export const decodeHealth = (u: unknown, path: Path): Schema.Type<typeof HealthConfig> | undefined => {
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

/** `breaker`: like `health`; `strategy` defaults to `"consecutive"`, and a key of the other strategy is named. */
export const decodeBreaker = (u: unknown, path: Path): Breaker | undefined => {
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

/** `tools`: `allow` and `deny` lists of names or globs; absent allows every tool. */
export const decodeTools = (u: unknown, path: Path): ToolFilter => {
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

/** `prefix`: letters, digits, `_`, `-` and `.`, so the prefixed name is still a valid tool name. */
export const decodePrefix = (u: unknown, path: Path): string | undefined => {
  if (u === undefined) return undefined
  const prefix = string(u, path)
  if (!prefixChars.test(prefix)) {
    return problem(path, `expected letters, digits, "_", "-" or ".", actual ${describe(prefix)}`)
  }
  return prefix
}

/** `startup`: `"required"` by default. */
export const decodeStartup = (u: unknown, path: Path): "required" | "optional" =>
  u === undefined ? "required" : literal(u, path, ["required", "optional"] as const, "startup mode")
