/**
 * This library's own keys on a server: `policy`, `health`, `breaker`, `tools`, `prefix`, `startup`. Each
 * setting is checked for unknown keys (with a "did you mean") before its Schema decodes it.
 */
import { RetryPolicy } from "@mcp-resilience/policy"
import * as Either from "effect/Either"
import type { Schema } from "effect/Schema"
import type { Decoded } from "./fields.js"
import {
  at,
  checkKeys,
  decodeWith,
  field,
  fromEntries,
  invalid,
  isObject,
  literal,
  optional,
  string,
  stringArray
} from "./fields.js"
import { describe, quote } from "./messages.js"
import type { Breaker, ToolFilter } from "./schemas.js"
import { ConsecutiveBreaker, HealthConfig, SamplingBreaker } from "./schemas.js"

const policyKeys: ReadonlyArray<string> = Object.keys(RetryPolicy.RetryPolicy.fields)
const decodePolicyFields = decodeWith(RetryPolicy.RetryPolicy)

/** `policy`: `RetryPolicy.default` when absent. */
export const decodePolicy = (u: unknown): Decoded<RetryPolicy.RetryPolicy> =>
  Either.gen(function*() {
    if (u === undefined) return RetryPolicy.RetryPolicy.default
    if (!isObject(u)) return yield* invalid(u, `expected an object of retry settings, actual ${describe(u)}`)
    yield* checkKeys(u, {
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
    return yield* decodePolicyFields(u)
  })

/** `health` and `breaker` are off when absent or `false`, and take their defaults for `true`. */
const notAnObject = (u: unknown): Decoded<never> =>
  invalid(u, `expected an object (or true for the defaults), actual ${describe(u)}`)

const healthKeys: ReadonlyArray<string> = Object.keys(HealthConfig.fields)
const decodeHealthFields = decodeWith(HealthConfig)

/** `health`: absent or `false` for none, `true` for the defaults, or an object. */
export const decodeHealth = (u: unknown): Decoded<Schema.Type<typeof HealthConfig> | undefined> =>
  Either.gen(function*() {
    if (u === undefined || u === false) return undefined
    if (u === true) return yield* decodeHealthFields({})
    if (!isObject(u)) return yield* notAnObject(u)
    yield* checkKeys(u, { known: healthKeys, synonyms: { every: "interval", period: "interval" } })
    return yield* decodeHealthFields(u)
  })

const strategies = ["consecutive", "sampling"] as const
const consecutiveKeys: ReadonlyArray<string> = Object.keys(ConsecutiveBreaker.fields)
const samplingKeys: ReadonlyArray<string> = Object.keys(SamplingBreaker.fields)
const decodeConsecutive = decodeWith(ConsecutiveBreaker)
const decodeSampling = decodeWith(SamplingBreaker)

/** `breaker`: like `health`; `strategy` defaults to `"consecutive"`, and a key of the other strategy is named. */
export const decodeBreaker = (u: unknown): Decoded<Breaker | undefined> =>
  Either.gen(function*() {
    if (u === undefined || u === false) return undefined
    if (u === true) return yield* decodeConsecutive({ strategy: "consecutive" })
    if (!isObject(u)) return yield* notAnObject(u)
    const strategy = (yield* field(u, "strategy", (s) => optional(s, (s) => literal(s, strategies, "strategy")))) ??
      "consecutive"
    const [known, other, otherName] = strategy === "consecutive"
      ? [consecutiveKeys, samplingKeys, "sampling"]
      : [samplingKeys, consecutiveKeys, "consecutive"]
    yield* checkKeys(u, {
      known,
      synonyms: { failureThreshold: "threshold", failureRatio: "ratio", samplingDuration: "window" },
      special: (key) =>
        other.includes(key)
          ? `applies only to strategy ${quote(otherName)}, but this breaker's strategy is ${quote(strategy)}`
          : undefined
    })
    const input = fromEntries([...Object.entries(u), ["strategy", strategy]])
    return yield* (strategy === "consecutive" ? decodeConsecutive(input) : decodeSampling(input))
  })

const patterns = (u: unknown): Decoded<ReadonlyArray<string>> =>
  Either.flatMap(stringArray(u, `tool names or patterns such as "get_*"`), (items) => {
    const empty = items.findIndex((item) => item.trim() === "")
    return empty >= 0 ? at(empty, items, invalid(items[empty], "must not be empty")) : Either.right(items)
  })

/** `tools`: `allow` and `deny` lists of names or globs; absent allows every tool. */
export const decodeTools = (u: unknown): Decoded<ToolFilter> =>
  Either.gen(function*() {
    if (u === undefined) return { allow: undefined, deny: [] }
    if (!isObject(u)) {
      return yield* invalid(u, `expected an object with "allow" and/or "deny" lists, actual ${describe(u)}`)
    }
    yield* checkKeys(u, {
      known: ["allow", "deny"],
      synonyms: { include: "allow", exclude: "deny", allowed: "allow", denied: "deny", block: "deny" }
    })
    const allow = yield* field(u, "allow", (v) => optional(v, patterns))
    const deny = yield* field(u, "deny", (v) => optional(v, patterns))
    return { allow, deny: deny ?? [] }
  })

const prefixChars = /^[A-Za-z0-9_.-]+$/

/** `prefix`: letters, digits, `_`, `-` and `.`, so the prefixed name is still a valid tool name. */
export const decodePrefix = (u: unknown): Decoded<string | undefined> =>
  optional(u, (u) =>
    Either.flatMap(string(u), (prefix) =>
      prefixChars.test(prefix)
        ? Either.right(prefix)
        : invalid(prefix, `expected letters, digits, "_", "-" or ".", actual ${describe(prefix)}`)))

/** `startup`: `"required"` by default. */
export const decodeStartup = (u: unknown): Decoded<"required" | "optional"> =>
  u === undefined ? Either.right("required") : literal(u, ["required", "optional"] as const, "startup mode")
