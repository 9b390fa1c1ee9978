/**
 * `LazySubscriptionRef`: a plain field until something subscribes to its changes, then a
 * `SubscriptionRef` that starts from the field's value.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Deferred, Effect, Fiber, Stream } from "effect"
import { LazySubscriptionRef } from "../src/internal/lazyRef.js"

/** Collects `n` values of `ref.changes` in a fiber; returns once the subscription is live (its first value seen). */
const watch = <A>(ref: LazySubscriptionRef<A>, n: number) =>
  Effect.gen(function*() {
    const subscribed = yield* Deferred.make<void>()
    const fiber = yield* Effect.fork(
      Stream.runCollect(Stream.take(Stream.tap(ref.changes, () => Deferred.succeed(subscribed, undefined)), n))
    )
    yield* Deferred.await(subscribed)
    return Effect.map(Fiber.join(fiber), Chunk.toReadonlyArray)
  })

describe("LazySubscriptionRef", () => {
  it.effect("reads what was set before anyone subscribed; a subscriber sees that value first, then each change", () =>
    Effect.gen(function*() {
      const ref = new LazySubscriptionRef(1)
      yield* ref.set(2)
      assert.strictEqual(yield* ref.get, 2)
      const seen = yield* watch(ref, 3)
      yield* ref.set(3)
      yield* ref.set(4)
      assert.deepStrictEqual(yield* seen, [2, 3, 4])
      assert.strictEqual(yield* ref.get, 4)
    }))

  it.effect("every subscriber shares the same changes; a later one starts from the value then", () =>
    Effect.gen(function*() {
      const ref = new LazySubscriptionRef("a")
      const first = yield* watch(ref, 3)
      yield* ref.set("b")
      const second = yield* watch(ref, 2)
      yield* ref.set("c")
      assert.deepStrictEqual(yield* first, ["a", "b", "c"])
      assert.deepStrictEqual(yield* second, ["b", "c"])
    }))
})
