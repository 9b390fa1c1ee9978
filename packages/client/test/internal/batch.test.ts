/**
 * The batch driver of `callAll` (`internal/batch.ts`): order, bounded concurrency, items that end
 * at once, and failures.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Either, Exit } from "effect"
import { forEachEither } from "../../src/internal/batch.js"

describe("forEachEither", () => {
  it.effect("items that end as they start are followed by a loop, not a recursion: 100,000 of them, one at a time", () =>
    Effect.gen(function*() {
      const items = Array.from({ length: 100_000 }, (_, i) => i)
      const results = yield* forEachEither(items, (_fiber, i: number, done) => {
        done(i % 2 === 0 ? Exit.succeed(i) : Exit.fail(`odd ${i}`))
        return undefined
      }, 1)
      assert.strictEqual(results.length, 100_000)
      assert.deepStrictEqual(results.slice(0, 3), [Either.right(0), Either.left("odd 1"), Either.right(2)])
      assert.deepStrictEqual(results[99_999], Either.left("odd 99999"))
    }))

  it.effect("at most `concurrency` items in flight; the rest of an item that is not over runs as a fiber", () =>
    Effect.gen(function*() {
      let inFlight = 0
      let most = 0
      const results = yield* forEachEither(Array.from({ length: 20 }, (_, i) => i), (_fiber, i: number, done) => {
        inFlight++
        most = Math.max(most, inFlight)
        done(
          Effect.repeat(Effect.yieldNow(), { times: 3 }).pipe(
            Effect.zipRight(Effect.sync(() => inFlight--)),
            Effect.as(i * 2)
          )
        )
        return undefined
      }, 3)
      assert.deepStrictEqual(results, Array.from({ length: 20 }, (_, i) => Either.right(i * 2)))
      assert.strictEqual(most, 3)
    }))

  it.effect("a defect of one item fails the batch and cancels the items still in flight", () =>
    Effect.gen(function*() {
      const cancelled: Array<number> = []
      const exit = yield* Effect.exit(forEachEither([0, 1, 2], (_fiber, i: number, done) => {
        if (i === 2) done(Effect.die(new Error("boom")))
        return () => cancelled.push(i)
      }, "unbounded"))
      assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause))
      assert.deepStrictEqual(cancelled, [0, 1])
    }))

  it.effect("a canceller that throws does not keep the others from running, nor the batch from ending", () =>
    Effect.gen(function*() {
      const cancelled: Array<number> = []
      const exit = yield* Effect.exit(forEachEither([0, 1, 2], (_fiber, i: number, done) => {
        if (i === 2) done(Effect.die(new Error("boom")))
        return () => {
          if (i === 0) throw new Error("cannot cancel")
          cancelled.push(i)
        }
      }, "unbounded"))
      assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause))
      assert.deepStrictEqual(cancelled, [1])
    }))
})
