/**
 * Where a retry budget's tokens live when several clients (several processes of a fleet) should
 * draw from one bucket per server. Without a store each client uses the budget it was given, as
 * it always did.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type * as RetryBudget from "./RetryBudget.js"

/**
 * The store: turns the budget a client was given (`local`) into the one it uses for `key`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly budget: (
    key: string,
    local: RetryBudget.RetryBudget
  ) => Effect.Effect<RetryBudget.RetryBudget, never, Scope.Scope>
}

/**
 * The retry-budget store in context. Absent (the default), a client uses its own budget.
 *
 * @since 0.1.0
 * @category models
 */
export class RetryBudgetStore extends Context.Tag("@mcp-resilience/policy/RetryBudgetStore")<
  RetryBudgetStore,
  Service
>() {}

/**
 * An in-memory store: the first budget given for a key is the one every client of that key uses
 * in this process (one bucket per server, whatever the number of clients).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory = (): Service => {
  const budgets = new Map<string, RetryBudget.RetryBudget>()
  return {
    budget: (key, local) =>
      Effect.sync(() => {
        const existing = budgets.get(key)
        if (existing !== undefined) return existing
        budgets.set(key, local)
        return local
      })
  }
}

/**
 * The in-memory store as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<RetryBudgetStore> = Layer.sync(RetryBudgetStore, makeMemory)
