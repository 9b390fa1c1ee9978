/**
 * The stores a fleet shares (`CircuitBreakerStore`, `RetryBudgetStore`, `HandshakeLimiter` from
 * `@mcp-resilience/policy`), picked from context when present, and the key of a server in them.
 *
 * @internal
 */
import { CircuitBreakerStore, HandshakeLimiter, type RetryBudget, RetryBudgetStore } from "@mcp-resilience/policy"
import { createHash } from "node:crypto"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as McpServerConfig from "../McpServerConfig.js"

/**
 * The key of a server in the stores: its name and a digest of its URL or command line, so two
 * servers with one name stay apart and no URL, token or argument is written to the store.
 *
 * @internal
 */
export const fleetKey = (config: McpServerConfig.McpServerConfig): string => {
  const where = config._tag === "Stdio"
    ? [config.command, ...config.args].join("\u0000")
    : config._tag === "InMemory"
    ? "in-memory"
    : config.url
  return `${McpServerConfig.name(config)}#${createHash("sha256").update(where).digest("hex").slice(0, 16)}`
}

/** The breaker's handle on the shared state, when a `CircuitBreakerStore` is in context. @internal */
export const sharedBreaker = (
  key: string
): Effect.Effect<CircuitBreakerStore.Shared | undefined, never, Scope.Scope> =>
  Effect.flatMap(Effect.serviceOption(CircuitBreakerStore.CircuitBreakerStore), (store) =>
    Option.isNone(store) ? Effect.succeed(undefined) : store.value.shared(key))

/** The budget a client uses: the store's for `key` when a `RetryBudgetStore` is in context. @internal */
export const sharedBudget = (
  key: string,
  local: RetryBudget.RetryBudget | undefined
): Effect.Effect<RetryBudget.RetryBudget | undefined, never, Scope.Scope> =>
  local === undefined ? Effect.succeed(undefined) : Effect.flatMap(
    Effect.serviceOption(RetryBudgetStore.RetryBudgetStore),
    (store) => Option.isNone(store) ? Effect.succeed(local) : store.value.budget(key, local)
  )

/** Wraps a handshake so that it waits for the `HandshakeLimiter` in context, if any. @internal */
export const limitHandshakes = (
  key: string
): Effect.Effect<<A, E, R>(handshake: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>> =>
  Effect.map(Effect.serviceOption(HandshakeLimiter.HandshakeLimiter), (limiter) =>
    Option.isNone(limiter)
      ? (handshake) => handshake
      : (handshake) => Effect.zipRight(limiter.value.take(key), handshake))
