/**
 * The retry-budget store on Redis: one token bucket per server for the fleet, taken from by a Lua
 * script. Refunds for successes are added up locally and sent with the next take, or on the next
 * health check, so a successful call never waits on Redis.
 *
 * @internal
 */
import type { RetryBudget, RetryBudgetStore } from "@mcp-resilience/policy"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { Redis } from "ioredis"
import type { Connection } from "./connection.js"

/** KEYS[1]: the bucket; ARGV: capacity, cost, refund. Answers { taken (0/1), tokens left }. */
const script = `
local capacity = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local refund = tonumber(ARGV[3])
local tokens = tonumber(redis.call('GET', KEYS[1]) or ARGV[1])
tokens = math.min(capacity, tokens + refund)
local taken = 0
if cost <= tokens then
  tokens = tokens - cost
  taken = 1
end
redis.call('SET', KEYS[1], tostring(tokens), 'PX', 604800000)
return { taken, tostring(tokens) }
`

interface RedisWithBudget extends Redis {
  mcpBudget(key: string, capacity: number, cost: number, refund: number): Promise<readonly [number, string]>
}

/** @internal */
export const make = (connection: Connection): RetryBudgetStore.Service => {
  const redis = connection.redis as RedisWithBudget
  redis.defineCommand("mcpBudget", { numberOfKeys: 1, lua: script })
  const flushes = new Set<Effect.Effect<void>>()
  connection.onRefresh(() => Effect.all([...flushes], { discard: true }))

  /** Only token buckets have a fleet form; other budgets stay per process. */
  const budget = (key: string, local: RetryBudget.RetryBudget, spec: RetryBudget.TokenBucketSpec) => {
    const redisKey = `${connection.prefix}budget:${spec.name}:${key}`
    let pendingRefund = 0
    let remaining = spec.capacity
    const take = (cost: number) =>
      Effect.suspend(() => {
        const refund = pendingRefund
        pendingRefund = 0
        return Effect.map(
          connection.call("budget", () => redis.mcpBudget(redisKey, spec.capacity, cost, refund)),
          (answer) => {
            if (Option.isNone(answer)) {
              pendingRefund += refund
              return undefined
            }
            remaining = Number(answer.value[1])
            return answer.value[0] === 1
          }
        )
      })
    const flush = Effect.suspend(() => (pendingRefund > 0 ? Effect.asVoid(take(0)) : Effect.void))
    const tryRetry = (kind: RetryBudget.RetryKind) =>
      Effect.flatMap(
        take(kind === "timeout" ? spec.timeoutCost : spec.retryCost),
        (taken) =>
          taken !== undefined
            ? Effect.succeed(taken)
            : connection.failClosed
            ? Effect.succeed(false)
            : local.tryRetry(kind)
      )
    const shared: RetryBudget.RetryBudget = {
      onAttempt: local.onAttempt,
      tryRetry,
      // the local bucket is refilled too: it is the one used while Redis is away
      onSuccess: Effect.zipRight(
        Effect.sync(() => {
          pendingRefund = Math.min(spec.capacity, pendingRefund + spec.successRefund)
        }),
        local.onSuccess
      ),
      remaining: Effect.suspend(() => (connection.isUp() ? Effect.succeed(remaining) : local.remaining)),
      probeInterval: local.probeInterval,
      spec
    }
    return { shared, flush }
  }
  return {
    budget: (key, local): Effect.Effect<RetryBudget.RetryBudget, never, Scope.Scope> => {
      const spec = local.spec
      if (spec === undefined) return Effect.succeed(local)
      // the refunds left unsent go with the scope's last flush
      return Effect.map(
        Effect.acquireRelease(
          Effect.sync(() => {
            const made = budget(key, local, spec)
            flushes.add(made.flush)
            return made
          }),
          (made) => Effect.zipRight(Effect.sync(() => flushes.delete(made.flush)), made.flush)
        ),
        (made) => made.shared
      )
    }
  }
}
