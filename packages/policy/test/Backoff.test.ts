import { assert, describe, it } from "@effect/vitest"
import { Backoff } from "@mcp-resilience/policy"
import { Clock, Duration, Effect, FastCheck, Fiber, Random, Ref, Schedule, TestClock } from "effect"

const options = (jitter: Backoff.Jitter): Backoff.BackoffOptions => ({
  base: "1 second",
  factor: 2,
  cap: 10_000,
  jitter
})

const seeded = <A, E, R>(self: Effect.Effect<A, E, R>, seed = 42) => Effect.withRandom(self, Random.make(seed))

const draw = (opts: Backoff.BackoffOptions, n: number, seed = 42) =>
  seeded(Backoff.delays(opts, n), seed).pipe(Effect.map((delays) => delays.map(Duration.toMillis)))

/** Rounded bounds, widened by 1 ns before rounding (Effect's Duration keeps fractional millis as whole nanos). */
const within = (value: number, lo: number, hi: number) =>
  Math.round(lo - 1e-6) <= value && value <= Math.round(hi + 1e-6)

/** Checks every delay against its jitter's formula; returns the first violation, or undefined. */
const violation = (
  opts: { readonly base: number; readonly factor: number; readonly cap: number; readonly jitter: Backoff.Jitter },
  delays: ReadonlyArray<number>
): string | undefined => {
  const { base, cap, factor, jitter } = opts
  let previous = base
  for (let n = 0; n < delays.length; n++) {
    const d = delays[n]
    const raw = Math.min(cap, base * factor ** n)
    const [lo, hi] = jitter === "none"
      ? [raw, raw]
      : jitter === "proportional"
      ? [raw * 0.8, raw * 1.2]
      : jitter === "full"
      ? [0, raw]
      : jitter === "equal"
      ? [raw / 2, raw]
      : [Math.min(cap, base, previous * 3), Math.min(cap, Math.max(base, previous * 3))]
    if (!Number.isInteger(d) || !within(d, lo, hi)) {
      return `${jitter} n=${n}: ${d} not an integer in [${lo}, ${hi}]`
    }
    previous = d
  }
  return undefined
}

describe("Backoff.exponential", () => {
  it.effect("none: the capped exponential sequence", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* draw(options("none"), 6), [1000, 2000, 4000, 8000, 10000, 10000])
    }))

  it.effect("factor defaults to 2 and can be changed", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* draw({ base: 100, cap: 100_000, jitter: "none" }, 4), [100, 200, 400, 800])
      assert.deepStrictEqual(yield* draw({ base: 100, factor: 3, cap: 1000, jitter: "none" }, 4), [100, 300, 900, 1000])
      assert.deepStrictEqual(
        yield* draw({ base: 1000, factor: 1.5, cap: 100_000, jitter: "none" }, 5),
        [1000, 1500, 2250, 3375, 5063] // 5062.5 rounds half up
      )
    }))

  const seededSequences: ReadonlyArray<readonly [Backoff.Jitter, ReadonlyArray<number>]> = [
    ["proportional", [1096, 2144, 3874, 9422, 10922, 9540]],
    ["full", [740, 1359, 1685, 7556, 7305, 3849]],
    ["equal", [870, 1679, 2843, 7778, 8652, 6924]],
    ["decorrelated", [2479, 5373, 7369, 10000, 10000, 10000]]
  ]

  for (const [jitter, expected] of seededSequences) {
    it.effect(`${jitter}: the sequence for seed 42, inside the formula's bounds`, () =>
      Effect.gen(function*() {
        const delays = yield* draw(options(jitter), 6)
        assert.deepStrictEqual(delays, expected)
        assert.isUndefined(violation({ base: 1000, factor: 2, cap: 10_000, jitter }, delays))
        // the same seed gives the same delays; another seed gives others
        assert.deepStrictEqual(yield* draw(options(jitter), 6), expected)
        assert.notDeepEqual(yield* draw(options(jitter), 6, 7), expected)
      }))
  }

  it.effect("proportional can exceed the cap by up to 20%", () =>
    Effect.gen(function*() {
      const delays = yield* draw(options("proportional"), 6)
      assert.isTrue(delays.some((d) => d > 10_000))
      assert.isTrue(delays.every((d) => d <= 12_000))
    }))

  it.effect("the violation check rejects delays outside the bounds", () =>
    Effect.sync(() => {
      const opts = { base: 1000, factor: 2, cap: 10_000 }
      assert.isDefined(violation({ ...opts, jitter: "none" }, [1000, 2001]))
      assert.isDefined(violation({ ...opts, jitter: "full" }, [1001]))
      assert.isDefined(violation({ ...opts, jitter: "equal" }, [499]))
      assert.isDefined(violation({ ...opts, jitter: "proportional" }, [1201]))
      assert.isDefined(violation({ ...opts, jitter: "decorrelated" }, [999]))
      assert.isDefined(violation({ ...opts, jitter: "decorrelated" }, [1000, 3001]))
      assert.isDefined(violation({ ...opts, jitter: "full" }, [10.5]))
    }))

  for (const jitter of Backoff.jitters) {
    it.effect(`${jitter}: the waits happen on the Clock, gaps equal the delays`, () =>
      Effect.gen(function*() {
        const starts = yield* Ref.make<ReadonlyArray<number>>([])
        const attempt = Effect.flatMap(Clock.currentTimeMillis, (now) => Ref.update(starts, (xs) => [...xs, now])).pipe(
          Effect.zipRight(Effect.fail("boom"))
        )
        const fiber = yield* attempt.pipe(
          Effect.retry(Backoff.exponential(options(jitter)).pipe(Schedule.intersect(Schedule.recurs(6)))),
          seeded,
          Effect.fork
        )
        yield* TestClock.adjust("1 hour")
        yield* Fiber.await(fiber)
        const times = yield* Ref.get(starts)
        const gaps = times.slice(1).map((t, i) => t - times[i])
        assert.strictEqual(times[0], 0)
        assert.deepStrictEqual(gaps, yield* draw(options(jitter), 6))
      }))
  }

  it.effect("the schedule outputs the delay it waits", () =>
    Effect.gen(function*() {
      const outputs = yield* seeded(
        Schedule.run(Backoff.exponential(options("full")), 0, [1, 2, 3, 4]).pipe(
          Effect.map((chunk) => Array.from(chunk, Duration.toMillis))
        )
      )
      assert.deepStrictEqual(outputs, [740, 1359, 1685, 7556])
    }))

  it.effect("delays(n) draws n delays, none for n <= 0", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* draw(options("full"), 25)).length, 25)
      assert.deepStrictEqual(yield* draw(options("full"), 0), [])
      assert.deepStrictEqual(yield* draw(options("full"), -3), [])
    }))

  for (const jitter of Backoff.jitters) {
    it.prop(
      `${jitter}: every delay stays inside the formula's bounds (1,000 random seeds and shapes)`,
      {
        seed: FastCheck.integer(),
        base: FastCheck.integer({ min: 1, max: 5_000 }),
        factor: FastCheck.double({ min: 1, max: 4, noNaN: true }),
        cap: FastCheck.integer({ min: 0, max: 120_000 })
      },
      ({ base, cap, factor, seed }) => {
        const delays = Effect.runSync(draw({ base, factor, cap, jitter }, 12, seed))
        const problem = violation({ base, factor, cap, jitter }, delays)
        if (problem !== undefined) {
          throw new Error(`${problem} (base ${base}, factor ${factor}, cap ${cap}, seed ${seed})`)
        }
      },
      { fastCheck: { numRuns: 1000 } }
    )
  }
})
