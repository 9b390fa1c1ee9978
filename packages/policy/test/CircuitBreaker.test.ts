import { assert, describe, it } from "@effect/vitest"
import { CircuitBreaker, Transient } from "@mcp-resilience/policy"
import {
  Chunk,
  Data,
  Deferred,
  Duration,
  Effect,
  Exit,
  FastCheck,
  Fiber,
  Schedule,
  Stream,
  SubscriptionRef,
  TestClock
} from "effect"

/** The guarded effect's error: transient (counts by default) or not. */
class Boom extends Data.TaggedError("Boom")<{ readonly transient: boolean }> {
  get [Transient.TransientTypeId](): boolean {
    return this.transient
  }
}

/** The caller's rejection error (E2). */
class Rejected extends Data.TaggedError("Rejected")<CircuitBreaker.RejectedInfo> {}

const onRejected = (info: CircuitBreaker.RejectedInfo) => new Rejected(info)
const transient = new Boom({ transient: true })
const permanent = new Boom({ transient: false })

/** Effects that count how many times they ran. */
const counted = () => {
  let runs = 0
  return {
    runs: () => runs,
    ok: Effect.sync(() => ++runs),
    fail: (error: Boom = transient) => Effect.suspend(() => (runs++, Effect.fail(error)))
  }
}

const make = (options: Partial<CircuitBreaker.Options<Rejected>> = {}) =>
  CircuitBreaker.make<Rejected>({ strategy: CircuitBreaker.consecutive(3), onRejected, ...options })

const open = (openedAt: number, until: number): CircuitBreaker.State => ({ _tag: "Open", openedAt, until })
const closed: CircuitBreaker.State = { _tag: "Closed" }
const halfOpen: CircuitBreaker.State = { _tag: "HalfOpen" }
const isolated: CircuitBreaker.State = { _tag: "Isolated" }

/** Runs `self` through the breaker `n` times, ignoring the outcomes. */
const times = <A, E>(breaker: CircuitBreaker.CircuitBreaker<Rejected>, n: number, self: Effect.Effect<A, E>) =>
  Effect.exit(breaker.execute(self)).pipe(Effect.repeatN(n - 1), Effect.asVoid)

/** The rejection a call failed with (fails the test if it was not rejected). */
const rejection = <A, E>(breaker: CircuitBreaker.CircuitBreaker<Rejected>, self: Effect.Effect<A, E>) =>
  Effect.flatMap(Effect.flip(breaker.execute(self)), (error) => {
    assert.instanceOf(error, Rejected, "expected a rejection")
    return Effect.succeed(error as Rejected)
  })

const millis = (duration: Duration.Duration) => Duration.toMillis(duration)

describe("CircuitBreaker", () => {
  describe("consecutive", () => {
    it.effect("opens after exactly N failures, not N - 1", () =>
      Effect.gen(function*() {
        const breaker = yield* make()
        const calls = counted()
        yield* times(breaker, 2, calls.fail())
        assert.deepStrictEqual(breaker.current(), closed)
        yield* TestClock.adjust("250 millis")
        const exit = yield* Effect.exit(breaker.execute(calls.fail()))
        assert.deepStrictEqual(exit, Exit.fail(transient), "the failure that opens is returned as is")
        assert.deepStrictEqual(breaker.current(), open(250, 5250))
        assert.strictEqual(calls.runs(), 3)
      }))

    it.effect("a success starts the count again", () =>
      Effect.gen(function*() {
        const breaker = yield* make()
        const calls = counted()
        yield* times(breaker, 2, calls.fail())
        yield* breaker.execute(calls.ok)
        yield* times(breaker, 2, calls.fail())
        assert.deepStrictEqual(breaker.current(), closed)
        yield* times(breaker, 1, calls.fail())
        assert.deepStrictEqual(breaker.current(), open(0, 5000))
      }))

    it("rejects a threshold that is not an integer >= 1", () => {
      assert.throws(() => CircuitBreaker.consecutive(0), RangeError)
      assert.throws(() => CircuitBreaker.consecutive(1.5), RangeError)
    })
  })

  describe("Open", () => {
    it.effect("rejects with the exact retryAfter and does not run the effect", () =>
      Effect.gen(function*() {
        const breaker = yield* make()
        const calls = counted()
        yield* times(breaker, 3, calls.fail())
        yield* TestClock.adjust("1234 millis")
        const rejected = yield* rejection(breaker, calls.ok)
        assert.strictEqual(millis(rejected.retryAfter), 3766)
        assert.deepStrictEqual(rejected.state, open(0, 5000))
        yield* TestClock.adjust("3765 millis")
        assert.strictEqual(millis((yield* rejection(breaker, calls.ok)).retryAfter), 1)
        assert.strictEqual(calls.runs(), 3)
      }))

    it.effect("at `until` the next call is a probe (HalfOpen); its success closes", () =>
      Effect.gen(function*() {
        const breaker = yield* make({ breakDuration: "2 seconds" })
        const calls = counted()
        yield* times(breaker, 3, calls.fail())
        yield* TestClock.adjust("2 seconds")
        assert.deepStrictEqual(breaker.current(), open(0, 2000), "no timer: the state changes when a call comes")
        const seen = yield* breaker.execute(Effect.sync(() => breaker.current()))
        assert.deepStrictEqual(seen, halfOpen)
        assert.deepStrictEqual(breaker.current(), closed)
        // Closing forgot the old failures: it takes three new ones to open again.
        yield* times(breaker, 2, calls.fail())
        assert.deepStrictEqual(breaker.current(), closed)
      }))

    it.effect("a failed probe reopens with the next break of a growing schedule; closing restarts it", () =>
      Effect.gen(function*() {
        const breaker = yield* make({
          strategy: CircuitBreaker.consecutive(1),
          breakDuration: Schedule.exponential("1 second")
        })
        const calls = counted()
        yield* times(breaker, 1, calls.fail())
        assert.deepStrictEqual(breaker.current(), open(0, 1000))
        yield* TestClock.adjust("1 second")
        yield* times(breaker, 1, calls.fail())
        assert.deepStrictEqual(breaker.current(), open(1000, 3000))
        yield* TestClock.adjust("2 seconds")
        yield* times(breaker, 1, calls.fail())
        assert.deepStrictEqual(breaker.current(), open(3000, 7000))
        yield* TestClock.adjust("4 seconds")
        yield* breaker.execute(calls.ok)
        assert.deepStrictEqual(breaker.current(), closed)
        yield* times(breaker, 1, calls.fail())
        assert.deepStrictEqual(breaker.current(), open(7000, 8000))
      }))

    /** The first `n` break durations of a breaker that opens on every failure and whose probes all fail. */
    const breaks = (breakDuration: Schedule.Schedule<Duration.Duration, unknown>, n: number) =>
      Effect.gen(function*() {
        const breaker = yield* make({ strategy: CircuitBreaker.consecutive(1), breakDuration })
        const durations: Array<number> = []
        for (let i = 0; i < n; i++) {
          yield* times(breaker, 1, Effect.fail(transient))
          const state = breaker.current()
          if (state._tag !== "Open") return assert.fail(`expected Open, actual ${state._tag}`)
          durations.push(state.until - state.openedAt)
          yield* TestClock.adjust(state.until - state.openedAt)
        }
        return durations
      })

    it.effect("once the schedule is done, its last break is kept", () =>
      Effect.gen(function*() {
        const upTo = (n: number) =>
          Schedule.exponential("1 second").pipe(Schedule.intersect(Schedule.recurs(n)), Schedule.map(([d]) => d))
        assert.deepStrictEqual(yield* breaks(upTo(2), 4), [1000, 2000, 2000, 2000])
        assert.deepStrictEqual(yield* breaks(upTo(0), 2), [1000, 1000], "done at once: its first output")
      }))
  })

  describe("HalfOpen", () => {
    it.effect("halfOpenProbes: 2 admits two concurrent probes, rejects a third, and closes when both succeed", () =>
      Effect.gen(function*() {
        const breaker = yield* make({ halfOpenProbes: 2 })
        const calls = counted()
        yield* times(breaker, 3, calls.fail())
        yield* TestClock.adjust("5 seconds")
        const first = yield* Effect.fork(breaker.execute(Effect.zipRight(Effect.sleep("100 millis"), calls.ok)))
        const second = yield* Effect.fork(breaker.execute(Effect.zipRight(Effect.sleep("200 millis"), calls.ok)))
        yield* Effect.yieldNow()
        const rejected = yield* rejection(breaker, calls.ok)
        assert.deepStrictEqual(rejected.state, halfOpen)
        assert.strictEqual(millis(rejected.retryAfter), 1000)
        yield* TestClock.adjust("100 millis")
        yield* Fiber.join(first)
        assert.deepStrictEqual(breaker.current(), halfOpen, "one probe of two is not enough")
        assert.deepStrictEqual((yield* rejection(breaker, calls.ok)).state, halfOpen, "a used slot stays used")
        yield* TestClock.adjust("100 millis")
        yield* Fiber.join(second)
        assert.deepStrictEqual(breaker.current(), closed)
        assert.strictEqual(calls.runs(), 5)
      }))

    it.effect("one failed probe of two reopens at once", () =>
      Effect.gen(function*() {
        const breaker = yield* make({ halfOpenProbes: 2 })
        const calls = counted()
        yield* times(breaker, 3, calls.fail())
        yield* TestClock.adjust("5 seconds")
        const slow = yield* Effect.fork(breaker.execute(Effect.zipRight(Effect.sleep("1 second"), calls.ok)))
        yield* Effect.yieldNow()
        yield* times(breaker, 1, calls.fail())
        assert.deepStrictEqual(breaker.current(), open(5000, 10000))
        yield* TestClock.adjust("1 second")
        yield* Fiber.join(slow)
        assert.deepStrictEqual(breaker.current(), open(5000, 10000), "a late probe of the last round does not close it")
      }))
  })

  describe("sampling", () => {
    const sampling = (options: CircuitBreaker.SamplingOptions) => make({ strategy: CircuitBreaker.sampling(options) })

    it.effect("does not open below the minimum throughput", () =>
      Effect.gen(function*() {
        const breaker = yield* sampling({ ratio: 0.5, window: "10 seconds", minimumThroughput: 4 })
        const calls = counted()
        yield* times(breaker, 3, calls.fail())
        assert.deepStrictEqual(breaker.current(), closed, "3 calls, all failed, but fewer than 4")
        yield* times(breaker, 1, calls.fail())
        assert.deepStrictEqual(breaker.current(), open(0, 5000))
      }))

    it.effect("opens when the failure ratio reaches `ratio` within the window", () =>
      Effect.gen(function*() {
        const breaker = yield* sampling({ ratio: 0.5, window: "10 seconds", minimumThroughput: 10 })
        const calls = counted()
        yield* times(breaker, 6, calls.ok)
        yield* TestClock.adjust("3 seconds")
        yield* times(breaker, 4, calls.fail())
        yield* times(breaker, 1, calls.fail())
        assert.deepStrictEqual(breaker.current(), closed, "5 of 11")
        yield* TestClock.adjust("3 seconds")
        yield* times(breaker, 1, calls.fail())
        assert.deepStrictEqual(breaker.current(), open(6000, 11000), "6 of 12")
      }))

    it.effect("old outcomes age out of the window", () =>
      Effect.gen(function*() {
        const options = { ratio: 0.5, window: "10 seconds", minimumThroughput: 4 } as const
        const aged = yield* sampling(options)
        const fresh = yield* sampling(options)
        const calls = counted()
        yield* times(aged, 3, calls.fail())
        yield* times(fresh, 3, calls.fail())
        yield* TestClock.adjust("9999 millis")
        yield* times(fresh, 1, calls.fail())
        assert.deepStrictEqual(fresh.current(), open(9999, 14999), "still inside the window")
        yield* TestClock.adjust("1 milli")
        yield* times(aged, 1, calls.fail())
        assert.deepStrictEqual(aged.current(), closed, "the failures at 0 left the window at 10 s")
        yield* times(aged, 3, calls.fail())
        assert.deepStrictEqual(aged.current(), open(10000, 15000))
      }))

    it.effect("the defaults are Polly v8's: 100 calls, 10%", () =>
      Effect.gen(function*() {
        const breaker = yield* make({ strategy: CircuitBreaker.sampling() })
        const calls = counted()
        yield* times(breaker, 90, calls.ok)
        yield* times(breaker, 9, calls.fail())
        assert.deepStrictEqual(breaker.current(), closed, "99 calls")
        yield* TestClock.adjust("29 seconds")
        yield* times(breaker, 1, calls.fail())
        assert.deepStrictEqual(breaker.current(), open(29000, 34000), "10 of 100 within 30 s, open for 5 s")
      }))

    it("rejects invalid options", () => {
      assert.throws(() => CircuitBreaker.sampling({ ratio: 0 }), RangeError)
      assert.throws(() => CircuitBreaker.sampling({ ratio: 1.5 }), RangeError)
      assert.throws(() => CircuitBreaker.sampling({ window: 0 }), RangeError)
      assert.throws(() => CircuitBreaker.sampling({ window: Duration.infinity }), RangeError)
      assert.throws(() => CircuitBreaker.sampling({ minimumThroughput: 0 }), RangeError)
    })

    it.effect("a strategy can be shared: each breaker keeps its own counts", () =>
      Effect.gen(function*() {
        const strategy = CircuitBreaker.consecutive(2)
        const a = yield* make({ strategy })
        const b = yield* make({ strategy })
        const calls = counted()
        yield* times(a, 1, calls.fail())
        yield* times(b, 1, calls.fail())
        assert.deepStrictEqual([a.current(), b.current()], [closed, closed])
      }))
  })

  describe("what counts", () => {
    it.effect("a call slower than slowCallThreshold counts as a failure, even when it succeeds", () =>
      Effect.gen(function*() {
        const breaker = yield* make({ strategy: CircuitBreaker.consecutive(1), slowCallThreshold: "1 second" })
        const atThreshold = yield* Effect.fork(breaker.execute(Effect.as(Effect.sleep("1 second"), "on time")))
        yield* TestClock.adjust("1 second")
        assert.strictEqual(yield* Fiber.join(atThreshold), "on time")
        assert.deepStrictEqual(breaker.current(), closed)
        const slow = yield* Effect.fork(breaker.execute(Effect.as(Effect.sleep("1001 millis"), "late")))
        yield* TestClock.adjust("1001 millis")
        assert.strictEqual(yield* Fiber.join(slow), "late", "the caller still gets the result")
        assert.deepStrictEqual(breaker.current(), open(2001, 7001))
      }))

    it.effect("errors for which isFailure is false do not count, and count as successes", () =>
      Effect.gen(function*() {
        const breaker = yield* make({ strategy: CircuitBreaker.consecutive(2) })
        const calls = counted()
        yield* times(breaker, 10, calls.fail(permanent))
        assert.deepStrictEqual(breaker.current(), closed, "not transient")
        yield* times(breaker, 1, calls.fail(transient))
        yield* times(breaker, 1, calls.fail(permanent))
        yield* times(breaker, 1, calls.fail(transient))
        assert.deepStrictEqual(breaker.current(), closed, "the permanent error broke the run of failures")
        yield* times(breaker, 1, calls.fail(transient))
        assert.deepStrictEqual(breaker.current(), open(0, 5000))
      }))

    it.effect("a custom isFailure decides, for errors and defects", () =>
      Effect.gen(function*() {
        const breaker = yield* make({
          strategy: CircuitBreaker.consecutive(2),
          isFailure: (error) => error instanceof Boom && !error.transient
        })
        yield* times(breaker, 5, Effect.fail(transient))
        assert.deepStrictEqual(breaker.current(), closed)
        yield* times(breaker, 1, Effect.fail(permanent))
        yield* times(breaker, 1, Effect.die(permanent))
        assert.deepStrictEqual(breaker.current(), open(0, 5000))
      }))

    it.effect("an interrupted call is neither a success nor a failure", () =>
      Effect.gen(function*() {
        const breaker = yield* make({ strategy: CircuitBreaker.consecutive(2) })
        const calls = counted()
        yield* times(breaker, 1, calls.fail())
        const hanging = yield* Effect.fork(breaker.execute(Effect.never))
        yield* Effect.yieldNow()
        yield* Fiber.interrupt(hanging)
        assert.deepStrictEqual(breaker.current(), closed)
        yield* times(breaker, 1, calls.fail())
        assert.deepStrictEqual(breaker.current(), open(0, 5000), "the interruption did not reset the count")
      }))

    it.effect("an interrupted probe frees its slot without closing or reopening", () =>
      Effect.gen(function*() {
        const breaker = yield* make()
        const calls = counted()
        yield* times(breaker, 3, calls.fail())
        yield* TestClock.adjust("5 seconds")
        const hanging = yield* Effect.fork(breaker.execute(Effect.never))
        yield* Effect.yieldNow()
        assert.deepStrictEqual(breaker.current(), halfOpen)
        yield* rejection(breaker, calls.ok)
        yield* Fiber.interrupt(hanging)
        assert.deepStrictEqual(breaker.current(), halfOpen)
        yield* breaker.execute(calls.ok)
        assert.deepStrictEqual(breaker.current(), closed)
      }))

    it.effect("a call admitted before a transition does not count after it", () =>
      Effect.gen(function*() {
        const breaker = yield* make({ strategy: CircuitBreaker.consecutive(1) })
        const late = yield* Effect.fork(
          breaker.execute(Effect.zipRight(Effect.sleep("10 seconds"), Effect.fail(transient)))
        )
        yield* Effect.yieldNow()
        yield* times(breaker, 1, Effect.fail(transient))
        yield* TestClock.adjust("5 seconds")
        yield* breaker.execute(Effect.void)
        assert.deepStrictEqual(breaker.current(), closed)
        yield* TestClock.adjust("5 seconds")
        yield* Fiber.await(late)
        assert.deepStrictEqual(breaker.current(), closed)
      }))
  })

  describe("isolate and reset", () => {
    it.effect("Isolated rejects everything, with an infinite retryAfter, until reset", () =>
      Effect.gen(function*() {
        const breaker = yield* make()
        const calls = counted()
        yield* breaker.isolate
        const rejected = yield* rejection(breaker, calls.ok)
        assert.deepStrictEqual(rejected.state, isolated)
        assert.isFalse(Duration.isFinite(rejected.retryAfter))
        yield* TestClock.adjust("1 day")
        yield* rejection(breaker, calls.ok)
        assert.strictEqual(calls.runs(), 0)
        yield* breaker.reset
        assert.strictEqual(yield* breaker.execute(calls.ok), 1)
        assert.deepStrictEqual(breaker.current(), closed)
      }))

    it.effect("reset closes an open breaker and restarts the break schedule", () =>
      Effect.gen(function*() {
        const breaker = yield* make({
          strategy: CircuitBreaker.consecutive(1),
          breakDuration: Schedule.exponential("1 second")
        })
        yield* times(breaker, 1, Effect.fail(transient))
        yield* TestClock.adjust("1 second")
        yield* times(breaker, 1, Effect.fail(transient))
        assert.deepStrictEqual(breaker.current(), open(1000, 3000))
        yield* breaker.reset
        assert.deepStrictEqual(breaker.current(), closed)
        yield* times(breaker, 1, Effect.fail(transient))
        assert.deepStrictEqual(breaker.current(), open(1000, 2000))
      }))
  })

  it.effect("the SubscriptionRef sees exactly the transitions, in order", () =>
    Effect.gen(function*() {
      const breaker = yield* make({ strategy: CircuitBreaker.consecutive(2) })
      const subscribed = yield* Deferred.make<void>()
      const expected: ReadonlyArray<CircuitBreaker.State> = [
        closed,
        open(0, 5000),
        halfOpen,
        open(5000, 10000),
        halfOpen,
        closed,
        isolated,
        closed
      ]
      const changes = yield* breaker.state.changes.pipe(
        Stream.tap(() => Deferred.succeed(subscribed, undefined)),
        Stream.take(expected.length),
        Stream.runCollect,
        Effect.fork
      )
      yield* Deferred.await(subscribed)
      yield* breaker.reset // already closed: no transition
      yield* times(breaker, 2, Effect.fail(transient))
      yield* TestClock.adjust("5 seconds")
      yield* times(breaker, 1, Effect.fail(transient))
      yield* TestClock.adjust("5 seconds")
      yield* breaker.execute(Effect.void)
      yield* breaker.execute(Effect.void) // closed and stays closed
      yield* breaker.isolate
      yield* breaker.isolate // already isolated: no transition
      yield* breaker.reset
      const seen = yield* Fiber.join(changes)
      assert.deepStrictEqual(Chunk.toReadonlyArray(seen), expected)
      assert.deepStrictEqual(yield* SubscriptionRef.get(breaker.state), breaker.current())
    }))

  /**
   * A script for the property: `start` a call that runs until a later `finish` ends it (with an
   * outcome, the `pick`-th running call modulo their number), `wait` on the TestClock, `isolate`, `reset`.
   */
  type Action =
    | { readonly _tag: "start" }
    | { readonly _tag: "finish"; readonly pick: number; readonly outcome: "success" | "failure" | "interrupt" }
    | { readonly _tag: "wait"; readonly millis: number }
    | { readonly _tag: "isolate" }
    | { readonly _tag: "reset" }

  const action: FastCheck.Arbitrary<Action> = FastCheck.oneof(
    { weight: 5, arbitrary: FastCheck.constant({ _tag: "start" as const }) },
    {
      weight: 3,
      arbitrary: FastCheck.record({
        _tag: FastCheck.constant("finish" as const),
        pick: FastCheck.nat(),
        outcome: FastCheck.constantFrom(
          "success" as const,
          "failure" as const,
          "failure" as const,
          "failure" as const,
          "interrupt" as const
        )
      })
    },
    {
      weight: 2,
      arbitrary: FastCheck.record({
        _tag: FastCheck.constant("wait" as const),
        millis: FastCheck.constantFrom(0, 500, 1000, 2000)
      })
    },
    { weight: 1, arbitrary: FastCheck.constantFrom({ _tag: "isolate" as const }, { _tag: "reset" as const }) }
  )

  interface Running {
    readonly id: number
    readonly end: Deferred.Deferred<void, Boom>
    readonly fiber: Fiber.RuntimeFiber<void, Boom | Rejected>
  }

  it.effect.prop(
    "never runs an effect while Open or Isolated, never more than halfOpenProbes probes at once",
    [
      FastCheck.array(action, { maxLength: 40, size: "max" }),
      FastCheck.integer({ min: 1, max: 3 }),
      FastCheck.integer({ min: 1, max: 2 })
    ],
    ([actions, halfOpenProbes, threshold]) =>
      Effect.gen(function*() {
        const breaker = yield* make({
          strategy: CircuitBreaker.consecutive(threshold),
          breakDuration: "1 second",
          halfOpenProbes
        })
        const violations: Array<string> = []
        const running: Array<Running> = []
        // Probes running in the current HalfOpen round; cleared whenever the breaker is seen outside HalfOpen.
        const probes = new Set<number>()
        for (let id = 0; id < actions.length; id++) {
          const step = actions[id]
          switch (step._tag) {
            case "start": {
              const end = yield* Deferred.make<void, Boom>()
              let admitted = false
              const body = Effect.suspend(() => {
                admitted = true
                const state = breaker.current()
                if (state._tag === "Open" || state._tag === "Isolated") {
                  violations.push(`call ${id} ran while ${state._tag}`)
                }
                if (state._tag === "HalfOpen") {
                  probes.add(id)
                  if (probes.size > halfOpenProbes) violations.push(`${probes.size} probes at call ${id}`)
                }
                return Deferred.await(end).pipe(Effect.ensuring(Effect.sync(() => probes.delete(id))))
              })
              const fiber = yield* Effect.fork(breaker.execute(body))
              for (let i = 0; i < 20 && !admitted && fiber.unsafePoll() === null; i++) yield* Effect.yieldNow()
              if (admitted) running.push({ id, end, fiber })
              else if (fiber.unsafePoll() === null) violations.push(`call ${id} was neither admitted nor rejected`)
              break
            }
            case "finish": {
              if (running.length === 0) break
              const [call] = running.splice(step.pick % running.length, 1)
              if (step.outcome === "interrupt") yield* Fiber.interrupt(call.fiber)
              else {
                yield* Deferred.complete(call.end, step.outcome === "success" ? Effect.void : Effect.fail(transient))
                yield* Fiber.await(call.fiber)
              }
              break
            }
            case "wait":
              yield* TestClock.adjust(step.millis)
              break
            case "isolate":
              yield* breaker.isolate
              break
            case "reset":
              yield* breaker.reset
              break
          }
          if (breaker.current()._tag !== "HalfOpen") probes.clear()
        }
        yield* Fiber.interruptAll(running.map((call) => call.fiber))
        assert.deepStrictEqual(violations, [])
        assert.deepStrictEqual(yield* SubscriptionRef.get(breaker.state), breaker.current())
      }),
    { fastCheck: { numRuns: 60 } }
  )
})
