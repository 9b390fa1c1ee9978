/**
 * The deadline queue under `TestClock`: entries expire at their deadline and not before, a
 * shorter timeout starts an earlier timer, sessions given one timer (all on one clock) share its fiber, and no
 * timer fiber outlives the last pending deadline or the last session.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Context, DefaultServices, Effect, Exit, Fiber, Runtime, TestClock } from "effect"
import { Deadlines, DeadlineTimer } from "../src/internal/deadlines.js"

/** A queue on the test's clock whose timer fibers are recorded. */
const make = (shared?: DeadlineTimer) =>
  Effect.gen(function*() {
    const clock = yield* Effect.clock
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    const timers: Array<Fiber.RuntimeFiber<void>> = []
    const deadlines = new Deadlines(shared ?? new DeadlineTimer(clock), (timer) => {
      const fiber = runFork(timer)
      timers.push(fiber)
      return fiber
    })
    const expired: Array<string> = []
    const add = (millis: number, label: string) => deadlines.add(millis, () => expired.push(label))
    /** Timer fibers still running. */
    const running = () => timers.filter((fiber) => fiber.unsafePoll() === null).length
    return { deadlines, timers, expired, add, running }
  })

/** Advances the clock and lets the woken fibers run. */
const advance = (millis: number) => Effect.zipRight(TestClock.adjust(millis), Effect.yieldNow())

describe("Deadlines", () => {
  it.effect("an entry expires at its deadline, not before; then the timer ends", () =>
    Effect.gen(function*() {
      const { add, expired, running, timers } = yield* make()
      add(1_000, "a")
      yield* Effect.yieldNow()
      assert.strictEqual(timers.length, 1)
      yield* advance(999)
      assert.deepStrictEqual(expired, [])
      yield* advance(1)
      assert.deepStrictEqual(expired, ["a"])
      assert.strictEqual(running(), 0)
    }))

  it.effect("later entries with the same timeout share the timer; a removed entry never expires", () =>
    Effect.gen(function*() {
      const { add, deadlines, expired, running, timers } = yield* make()
      add(1_000, "a")
      yield* advance(100)
      const b = add(1_000, "b")
      add(1_000, "c")
      assert.strictEqual(timers.length, 1)
      deadlines.remove(b)
      yield* advance(900)
      assert.deepStrictEqual(expired, ["a"])
      assert.strictEqual(running(), 1) // sleeping towards c's deadline
      yield* advance(100)
      assert.deepStrictEqual(expired, ["a", "c"])
      assert.strictEqual(running(), 0)
    }))

  it.effect("a shorter timeout starts an earlier timer and stops the old one; both entries expire on time", () =>
    Effect.gen(function*() {
      const { add, expired, running, timers } = yield* make()
      add(60_000, "long")
      yield* Effect.yieldNow()
      add(1_000, "short")
      yield* Effect.yieldNow()
      assert.strictEqual(timers.length, 2)
      assert.isTrue(Exit.isInterrupted(yield* Fiber.await(timers[0])))
      assert.strictEqual(running(), 1)
      yield* advance(1_000)
      assert.deepStrictEqual(expired, ["short"])
      yield* advance(58_999)
      assert.deepStrictEqual(expired, ["short"])
      yield* advance(1)
      assert.deepStrictEqual(expired, ["short", "long"])
      assert.strictEqual(running(), 0)
    }))

  it.effect("when every entry is removed the timer ends at its deadline; the next entry starts a new one", () =>
    Effect.gen(function*() {
      const { add, deadlines, expired, running, timers } = yield* make()
      deadlines.remove(add(1_000, "a"))
      yield* advance(1_000)
      assert.strictEqual(running(), 0)
      add(500, "b")
      yield* Effect.yieldNow()
      assert.strictEqual(timers.length, 2)
      yield* advance(500)
      assert.deepStrictEqual(expired, ["b"])
      assert.strictEqual(running(), 0)
    }))

  it.effect("shutdown interrupts the timer; nothing expires or starts afterwards", () =>
    Effect.gen(function*() {
      const { add, deadlines, expired, running, timers } = yield* make()
      add(1_000, "a")
      yield* Effect.yieldNow()
      yield* deadlines.shutdown
      assert.strictEqual(running(), 0)
      add(10, "b")
      yield* advance(2_000)
      assert.deepStrictEqual(expired, [])
      assert.strictEqual(timers.length, 1)
      assert.strictEqual(yield* Clock.currentTimeMillis, 2_000)
    }))

  it.effect("sessions given one timer share it; a closed session's entries never expire, the others' do", () =>
    Effect.gen(function*() {
      const timer = new DeadlineTimer(yield* Effect.clock)
      const one = yield* make(timer)
      const two = yield* make(timer)
      one.add(1_000, "one")
      yield* Effect.yieldNow()
      two.add(1_000, "two")
      two.add(2_000, "two-later")
      assert.strictEqual(one.timers.length + two.timers.length, 1)
      yield* one.deadlines.shutdown
      assert.strictEqual(one.running() + two.running(), 1) // two still has pending entries
      yield* advance(1_000)
      assert.deepStrictEqual([one.expired, two.expired], [[], ["two"]])
      yield* two.deadlines.shutdown
      assert.strictEqual(one.running() + two.running(), 0) // the last one out stops the timer
      yield* advance(1_000)
      assert.deepStrictEqual(two.expired, ["two"])
    }))

  it.effect("every session on one clock gets the same timer (DeadlineTimer.of), another clock another one", () =>
    Effect.gen(function*() {
      const clock = yield* Effect.clock
      assert.strictEqual(DeadlineTimer.of(clock), DeadlineTimer.of(clock))
      const live = Context.get(DefaultServices.liveServices, Clock.Clock)
      assert.notStrictEqual(DeadlineTimer.of(live), DeadlineTimer.of(clock))
      // two sessions made apart, each with a call pending: one timer fiber
      const one = yield* make(DeadlineTimer.of(clock))
      const two = yield* make(DeadlineTimer.of(clock))
      one.add(1_000, "one")
      two.add(1_000, "two")
      assert.strictEqual(one.timers.length + two.timers.length, 1)
      yield* advance(1_000)
      assert.deepStrictEqual([one.expired, two.expired], [["one"], ["two"]])
      yield* one.deadlines.shutdown
      yield* two.deadlines.shutdown
    }))

  it.effect("a callback that throws does not keep the other entries from expiring", () =>
    Effect.gen(function*() {
      const { add, deadlines, expired, running } = yield* make()
      deadlines.add(1_000, () => {
        throw new Error("boom")
      })
      add(1_000, "after")
      add(1_500, "later")
      yield* advance(1_000)
      assert.deepStrictEqual(expired, ["after"])
      yield* advance(500)
      assert.deepStrictEqual(expired, ["after", "later"])
      assert.strictEqual(running(), 0)
    }))
})
