import { assert, describe, it } from "@effect/vitest"
import { Backoff, RetryBudget, RetryPolicy, Transient } from "@mcp-resilience/policy"
import {
  Cause,
  Clock,
  Data,
  Duration,
  Effect,
  Either,
  Equal,
  Exit,
  Fiber,
  Option,
  Random,
  Ref,
  Schedule,
  ScheduleDecision,
  Schema,
  TestClock
} from "effect"

/** The error the scripted effect fails with: transient or not, maybe with a Retry-After. */
class Boom extends Data.TaggedError("Boom")<{
  readonly attempt: number
  readonly transient: boolean
  readonly retryAfter?: Duration.Duration
}> {
  get [Transient.TransientTypeId](): boolean {
    return this.transient
  }
  get [Transient.RetryAfterTypeId](): Duration.Duration | undefined {
    return this.retryAfter
  }
}

/** The caller's timeout error (E2); it implements the Transient protocol so attempt timeouts are retried. */
class Timeout extends Data.TaggedError("Timeout")<RetryPolicy.TimeoutInfo> {
  readonly [Transient.TransientTypeId] = true
}

const onTimeout = (info: RetryPolicy.TimeoutInfo) => new Timeout(info)

const transient = (attempt: number, retryAfter?: Duration.DurationInput) =>
  new Boom({
    attempt,
    transient: true,
    ...(retryAfter === undefined ? {} : { retryAfter: Duration.decode(retryAfter) })
  })
const permanent = (attempt: number) => new Boom({ attempt, transient: false })

/** An effect whose n-th attempt (1-based) runs `behaviour(n)`; records when each attempt starts. */
const scripted = <A, E>(behaviour: (attempt: number) => Effect.Effect<A, E>) =>
  Effect.map(Ref.make<ReadonlyArray<number>>([]), (starts) => ({
    starts: Ref.get(starts),
    effect: Effect.flatMap(
      Clock.currentTimeMillis,
      (now) => Effect.flatMap(Ref.updateAndGet(starts, (xs) => [...xs, now]), (xs) => behaviour(xs.length))
    )
  }))

/** Runs `self` in a fiber, drives the TestClock an hour ahead, and returns its exit and when it ended (ms after it began). */
const drive = <A, E>(self: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const startedAt = yield* Clock.currentTimeMillis
    const fiber = yield* Effect.fork(Effect.zip(Effect.exit(self), Clock.currentTimeMillis))
    yield* TestClock.adjust("1 hour")
    const [exit, endedAt] = yield* Fiber.join(fiber)
    return { exit, endedAt: endedAt - startedAt }
  })

const failure = <A, E>(exit: Exit.Exit<A, E>): E => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const error = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
  assert.isTrue(Option.isSome(error), "expected a typed failure")
  return Option.getOrThrow(error)
}

/** Structural equality (chai's deep equality compares errors by name and message only). */
const assertEquals = (actual: unknown, expected: unknown) =>
  assert.isTrue(Equal.equals(actual, expected), `expected ${show(expected)}, actual ${show(actual)}`)
const show = (u: unknown) =>
  JSON.stringify(u, (_, v) => typeof v === "object" && v !== null && !Array.isArray(v) ? { ...v } : v)

const noJitter = (fields: RetryPolicy.MakeOptions = {}) => RetryPolicy.make({ jitter: "none", ...fields })

describe("RetryPolicy.retry", () => {
  it.effect("a non-transient error is tried once", () =>
    Effect.gen(function*() {
      const { effect, starts } = yield* scripted((n) => Effect.fail(permanent(n)))
      const { endedAt, exit } = yield* drive(RetryPolicy.retry(effect, RetryPolicy.default, { onTimeout }))
      assertEquals(failure(exit), permanent(1))
      assert.deepStrictEqual(yield* starts, [0])
      assert.strictEqual(endedAt, 0)
    }))

  it.effect("transient errors are retried with the backoff until success", () =>
    Effect.gen(function*() {
      const { effect, starts } = yield* scripted((n) => n < 3 ? Effect.fail(transient(n)) : Effect.succeed(`ok ${n}`))
      const { exit } = yield* drive(effect.pipe(RetryPolicy.retry(noJitter(), { onTimeout })))
      assert.deepStrictEqual(exit, Exit.succeed("ok 3"))
      assert.deepStrictEqual(yield* starts, [0, 1000, 3000])
    }))

  it.effect("maxAttempts attempts exactly, then the last error, unwrapped", () =>
    Effect.gen(function*() {
      const { effect, starts } = yield* scripted((n) => Effect.fail(transient(n)))
      const policy = noJitter({ maxAttempts: 4, base: 100 })
      const { endedAt, exit } = yield* drive(RetryPolicy.retry(effect, policy, { onTimeout }))
      const error = failure(exit)
      assert.instanceOf(error, Boom)
      assert.deepStrictEqual(error, transient(4))
      assert.deepStrictEqual(yield* starts, [0, 100, 300, 700])
      assert.strictEqual(endedAt, 700)
    }))

  it.effect("maxAttempts: 1 means no retry", () =>
    Effect.gen(function*() {
      const { effect, starts } = yield* scripted((n) => Effect.fail(transient(n)))
      const { exit } = yield* drive(RetryPolicy.retry(effect, noJitter({ maxAttempts: 1 }), { onTimeout }))
      assertEquals(failure(exit), transient(1))
      assert.deepStrictEqual(yield* starts, [0])
    }))

  it.effect("retryOn \"always\" retries non-transient errors", () =>
    Effect.gen(function*() {
      const { effect, starts } = yield* scripted((n) => Effect.fail(permanent(n)))
      const policy = noJitter({ retryOn: "always", maxAttempts: 3 })
      const { exit } = yield* drive(RetryPolicy.retry(effect, policy, { onTimeout }))
      assertEquals(failure(exit), permanent(3))
      assert.deepStrictEqual(yield* starts, [0, 1000, 3000])
    }))

  it.effect("retryOn \"never\" never retries, even a transient error", () =>
    Effect.gen(function*() {
      const { effect, starts } = yield* scripted((n) => Effect.fail(transient(n)))
      const { exit } = yield* drive(RetryPolicy.retry(effect, noJitter({ retryOn: "never" }), { onTimeout }))
      assertEquals(failure(exit), transient(1))
      assert.deepStrictEqual(yield* starts, [0])
    }))

  it.effect("options.while overrides retryOn", () =>
    Effect.gen(function*() {
      const { effect, starts } = yield* scripted((n) => Effect.fail(n === 1 ? permanent(n) : transient(n)))
      const { exit } = yield* drive(
        RetryPolicy.retry(effect, noJitter(), { onTimeout, while: (e) => e._tag === "Boom" && e.attempt < 3 })
      )
      assertEquals(failure(exit), transient(3))
      assert.deepStrictEqual(yield* starts, [0, 1000, 3000])
    }))

  it.effect("Retry-After is honoured: the wait is max(backoff, Retry-After)", () =>
    Effect.gen(function*() {
      const { effect, starts } = yield* scripted((n) =>
        n === 1 ? Effect.fail(transient(n, "5 seconds")) : n === 2 ? Effect.fail(transient(n, 10)) : Effect.succeed(n)
      )
      const { exit } = yield* drive(RetryPolicy.retry(effect, noJitter(), { onTimeout }))
      assert.deepStrictEqual(exit, Exit.succeed(3))
      // 5 s asked for (more than the 1 s backoff); then 10 ms asked for (less than the 2 s backoff)
      assert.deepStrictEqual(yield* starts, [0, 5000, 7000])
    }))

  it.effect("Retry-After is ignored when honorRetryAfter is false", () =>
    Effect.gen(function*() {
      const { effect, starts } = yield* scripted((n) => n === 1 ? Effect.fail(transient(n, "5 seconds")) : Effect.void)
      const { exit } = yield* drive(RetryPolicy.retry(effect, noJitter({ honorRetryAfter: false }), { onTimeout }))
      assert.isTrue(Exit.isSuccess(exit))
      assert.deepStrictEqual(yield* starts, [0, 1000])
    }))

  it.effect("a Retry-After that would cross the deadline stops the run with that error", () =>
    Effect.gen(function*() {
      const { effect, starts } = yield* scripted((n) => Effect.fail(transient(n, "2 minutes")))
      const { endedAt, exit } = yield* drive(RetryPolicy.retry(effect, noJitter(), { onTimeout }))
      assertEquals(failure(exit), transient(1, "2 minutes"))
      assert.deepStrictEqual(yield* starts, [0])
      assert.strictEqual(endedAt, 0)
    }))

  it.effect("attemptTimeout fails the attempt with the timeout error, which is retried", () =>
    Effect.gen(function*() {
      const { effect, starts } = yield* scripted((n) => n === 1 ? Effect.never : Effect.succeed(n))
      const steps = yield* Ref.make<ReadonlyArray<RetryPolicy.RetryStep>>([])
      const policy = noJitter({ attemptTimeout: "2 seconds" })
      const { endedAt, exit } = yield* drive(
        RetryPolicy.retry(effect, policy, { onTimeout, onRetry: (step) => Ref.update(steps, (xs) => [...xs, step]) })
      )
      assert.deepStrictEqual(exit, Exit.succeed(2))
      assert.deepStrictEqual(yield* starts, [0, 3000])
      assert.strictEqual(endedAt, 3000)
      const [step] = yield* Ref.get(steps)
      assertEquals(step.error, new Timeout({ kind: "attempt", after: Duration.seconds(2), attempt: 1 }))
    }))

  it.effect("when every attempt times out, the last attempt's timeout error is returned", () =>
    Effect.gen(function*() {
      const { effect, starts } = yield* scripted(() => Effect.never)
      const policy = noJitter({ attemptTimeout: 500, maxAttempts: 3, base: 100 })
      const { endedAt, exit } = yield* drive(RetryPolicy.retry(effect, policy, { onTimeout }))
      assertEquals(failure(exit), new Timeout({ kind: "attempt", after: Duration.millis(500), attempt: 3 }))
      assert.deepStrictEqual(yield* starts, [0, 600, 1300])
      assert.strictEqual(endedAt, 1800)
    }))

  it.effect("a timeout error that is not transient is not retried", () =>
    Effect.gen(function*() {
      const { effect, starts } = yield* scripted(() => Effect.never)
      const policy = noJitter({ attemptTimeout: 500 })
      const { exit } = yield* drive(
        RetryPolicy.retry(effect, policy, { onTimeout: (info) => `timed out after attempt ${info.attempt}` })
      )
      assert.strictEqual(failure(exit), "timed out after attempt 1")
      assert.deepStrictEqual(yield* starts, [0])
    }))

  it.effect("the deadline interrupts a running attempt at exactly the deadline", () =>
    Effect.gen(function*() {
      const interrupted = yield* Ref.make(false)
      const { effect, starts } = yield* scripted(() =>
        Effect.onInterrupt(Effect.never, () => Ref.set(interrupted, true))
      )
      const policy = noJitter({ deadline: "5 seconds" })
      const { endedAt, exit } = yield* drive(RetryPolicy.retry(effect, policy, { onTimeout }))
      assertEquals(failure(exit), new Timeout({ kind: "deadline", after: Duration.seconds(5), attempt: 1 }))
      assert.strictEqual(endedAt, 5000)
      assert.isTrue(yield* Ref.get(interrupted))
      assert.deepStrictEqual(yield* starts, [0])
    }))

  it.effect("when an attempt timeout and the deadline fall at the same instant, the deadline wins", () =>
    Effect.gen(function*() {
      const { effect } = yield* scripted(() => Effect.never)
      const policy = noJitter({ attemptTimeout: "5 seconds", deadline: "5 seconds" })
      const { endedAt, exit } = yield* drive(RetryPolicy.retry(effect, policy, { onTimeout }))
      assertEquals(failure(exit), new Timeout({ kind: "deadline", after: Duration.seconds(5), attempt: 1 }))
      assert.strictEqual(endedAt, 5000)
    }))

  it.effect("the deadline bounds attempts and waits together", () =>
    Effect.gen(function*() {
      // attempt 1: 0..2000 (attempt timeout), wait 1000, attempt 2 from 3000 is cut by the deadline at 5000
      const { effect, starts } = yield* scripted(() => Effect.never)
      const policy = noJitter({ attemptTimeout: "2 seconds", deadline: "5 seconds" })
      const { endedAt, exit } = yield* drive(RetryPolicy.retry(effect, policy, { onTimeout }))
      assertEquals(failure(exit), new Timeout({ kind: "deadline", after: Duration.seconds(5), attempt: 2 }))
      assert.deepStrictEqual(yield* starts, [0, 3000])
      assert.strictEqual(endedAt, 5000)
    }))

  it.effect("a wait that would cross the deadline is not taken: the run stops early with the last error", () =>
    Effect.gen(function*() {
      // failures at 0, 1000, 3000; the next wait (4000) would end at 7000, past the 5 s deadline
      const { effect, starts } = yield* scripted((n) => Effect.fail(transient(n)))
      const policy = noJitter({ maxAttempts: 10, deadline: "5 seconds" })
      const { endedAt, exit } = yield* drive(RetryPolicy.retry(effect, policy, { onTimeout }))
      assertEquals(failure(exit), transient(3))
      assert.deepStrictEqual(yield* starts, [0, 1000, 3000])
      assert.strictEqual(endedAt, 3000)
    }))

  it.effect("a wait ending exactly at the deadline is not taken either", () =>
    Effect.gen(function*() {
      const { effect, starts } = yield* scripted((n) => Effect.fail(transient(n)))
      const policy = noJitter({ maxAttempts: 10, deadline: "3 seconds" })
      const { exit } = yield* drive(RetryPolicy.retry(effect, policy, { onTimeout }))
      assertEquals(failure(exit), transient(2))
      assert.deepStrictEqual(yield* starts, [0, 1000])
    }))

  it.effect("onRetry runs before each wait with the next attempt, the delay and the error", () =>
    Effect.gen(function*() {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const { effect, starts } = yield* scripted((n) =>
        Effect.zipRight(
          Effect.flatMap(Clock.currentTimeMillis, (now) => Ref.update(log, (xs) => [...xs, `attempt ${n} at ${now}`])),
          Effect.fail(transient(n))
        )
      )
      const policy = RetryPolicy.make({ maxAttempts: 4 }) // full jitter
      const { exit } = yield* drive(
        RetryPolicy.retry(effect, policy, {
          onTimeout,
          onRetry: (step) =>
            Effect.flatMap(Clock.currentTimeMillis, (now) =>
              Ref.update(log, (xs) => [
                ...xs,
                `at ${now}: attempt ${step.attempt} of ${step.maxAttempts} in ${
                  Duration.toMillis(step.delay)
                } ms after ${(step.error as Boom).attempt}`
              ]))
        }).pipe(Effect.withRandom(Random.make(42)))
      )
      assertEquals(failure(exit), transient(4))
      assert.deepStrictEqual(yield* Ref.get(log), [
        "attempt 1 at 0",
        "at 0: attempt 2 of 4 in 740 ms after 1",
        "attempt 2 at 740",
        "at 740: attempt 3 of 4 in 1359 ms after 2",
        "attempt 3 at 2099",
        "at 2099: attempt 4 of 4 in 1685 ms after 3",
        "attempt 4 at 3784"
      ])
      // the same delays Backoff draws from the same seed
      const delays = yield* Backoff.delays(RetryPolicy.backoff(policy), 3).pipe(Effect.withRandom(Random.make(42)))
      const times = yield* starts
      assert.deepStrictEqual(times.slice(1).map((t, i) => t - times[i]), delays.map(Duration.toMillis))
    }))

  it.effect("data-first and data-last forms agree", () =>
    Effect.gen(function*() {
      const policy = noJitter({ maxAttempts: 2 })
      const first = yield* scripted((n) => Effect.fail(transient(n)))
      const last = yield* scripted((n) => Effect.fail(transient(n)))
      const a = yield* drive(RetryPolicy.retry(first.effect, policy, { onTimeout }))
      // the error type flows through both forms: `e` is Boom | Timeout, the result fails with Boom | Timeout
      const piped: Effect.Effect<never, Boom | Timeout> = last.effect.pipe(
        RetryPolicy.retry(policy, { onTimeout, while: (e) => e._tag === "Timeout" || e.transient })
      )
      const b = yield* drive(piped)
      assertEquals(a.exit, b.exit)
      assert.strictEqual(a.endedAt, b.endedAt)
      assertEquals(failure(a.exit), transient(2))
      assert.deepStrictEqual(yield* first.starts, [0, 1000])
    }))
})

/** Wraps a budget and records each call to it, with the virtual time. */
const spy = (budget: RetryBudget.RetryBudget) => {
  const calls: Array<string> = []
  const at = (what: string) => Effect.map(Clock.currentTimeMillis, (now) => calls.push(`${what} at ${now}`))
  const spied: RetryBudget.RetryBudget = {
    onAttempt: Effect.zipRight(at("attempt"), budget.onAttempt),
    tryRetry: (kind) =>
      Effect.flatMap(
        budget.tryRetry(kind),
        (granted) => Effect.as(at(`${kind} ${granted ? "granted" : "refused"}`), granted)
      ),
    onSuccess: Effect.zipRight(at("success"), budget.onSuccess),
    remaining: budget.remaining,
    probeInterval: budget.probeInterval
  }
  return { budget: spied, calls }
}

/** A timeout error of another library: it marks itself with `Transient.TimeoutTypeId`. */
class SocketTimeoutError extends Data.TaggedError("SocketTimeoutError")<{ readonly attempt: number }> {
  readonly [Transient.TransientTypeId] = true
  readonly [Transient.TimeoutTypeId] = true
}

/** Named like a timeout but not marked as one: the name alone does not count. */
class NamedTimeoutError extends Data.TaggedError("NamedTimeoutError")<{}> {
  readonly [Transient.TransientTypeId] = true
}

describe("RetryPolicy.retry with a budget", () => {
  it.effect("onAttempt before the first attempt, tryRetry before each retry, onSuccess on success", () =>
    Effect.gen(function*() {
      const { effect, starts } = yield* scripted((n) => n < 3 ? Effect.fail(transient(n)) : Effect.succeed(n))
      const { budget, calls } = spy(RetryBudget.tokenBucket())
      const { exit } = yield* drive(RetryPolicy.retry(effect, noJitter(), { onTimeout, budget }))
      assert.deepStrictEqual(exit, Exit.succeed(3))
      assert.deepStrictEqual(yield* starts, [0, 1000, 3000])
      // the retry is paid for when decided, before the wait
      assert.deepStrictEqual(calls, ["attempt at 0", "retry granted at 0", "retry granted at 1000", "success at 3000"])
      assert.strictEqual(yield* budget.remaining, 491)
    }))

  it.effect("with probeInterval infinity, a refused retry fails at once with the original error, without waiting", () =>
    Effect.gen(function*() {
      const { effect, starts } = yield* scripted((n) => Effect.fail(transient(n)))
      const retries = yield* Ref.make(0)
      const { budget, calls } = spy(RetryBudget.tokenBucket({ capacity: 10, probeInterval: Duration.infinity }))
      const { endedAt, exit } = yield* drive(
        RetryPolicy.retry(effect, noJitter({ maxAttempts: 10 }), {
          onTimeout,
          budget,
          onRetry: () => Ref.update(retries, (n) => n + 1)
        })
      )
      const error = failure(exit)
      assert.instanceOf(error, Boom)
      assertEquals(error, transient(3))
      assert.deepStrictEqual(yield* starts, [0, 1000, 3000])
      assert.strictEqual(endedAt, 3000)
      assert.strictEqual(yield* Ref.get(retries), 2) // onRetry runs only for granted retries
      assert.deepStrictEqual(calls, [
        "attempt at 0",
        "retry granted at 0",
        "retry granted at 1000",
        "retry refused at 3000"
      ])
    }))

  it.effect("a retry the policy would not make takes nothing from the budget", () =>
    Effect.gen(function*() {
      const budget = RetryBudget.tokenBucket()
      const permanentRun = yield* scripted((n) => Effect.fail(permanent(n)))
      yield* drive(RetryPolicy.retry(permanentRun.effect, noJitter(), { onTimeout, budget }))
      const exhausted = yield* scripted((n) => Effect.fail(transient(n)))
      yield* drive(RetryPolicy.retry(exhausted.effect, noJitter({ maxAttempts: 3 }), { onTimeout, budget }))
      const pastDeadline = yield* scripted((n) => Effect.fail(transient(n, "2 minutes")))
      yield* drive(RetryPolicy.retry(pastDeadline.effect, noJitter(), { onTimeout, budget }))
      // only the two retries of the second run were paid for
      assert.strictEqual(yield* budget.remaining, 490)
    }))

  it.effect("a retry after an attempt timeout is charged as a timeout", () =>
    Effect.gen(function*() {
      const { effect } = yield* scripted((n) =>
        n === 1 ? Effect.never : n === 2 ? Effect.fail(transient(n)) : Effect.void
      )
      const { budget, calls } = spy(RetryBudget.tokenBucket())
      const { exit } = yield* drive(
        RetryPolicy.retry(effect, noJitter({ attemptTimeout: "2 seconds" }), { onTimeout, budget })
      )
      assert.isTrue(Exit.isSuccess(exit))
      assert.deepStrictEqual(calls, [
        "attempt at 0",
        "timeout granted at 2000",
        "retry granted at 3000",
        "success at 5000"
      ])
      assert.strictEqual(yield* budget.remaining, 486) // 500 - 10 - 5 + 1
    }))

  it.effect("any error marked with Transient.TimeoutTypeId is charged as a timeout", () =>
    Effect.gen(function*() {
      const { effect } = yield* scripted((n) =>
        n === 1 ? Effect.fail(new SocketTimeoutError({ attempt: n })) : Effect.void
      )
      const { budget, calls } = spy(RetryBudget.tokenBucket())
      yield* drive(RetryPolicy.retry(effect, noJitter(), { onTimeout, budget }))
      assert.deepStrictEqual(calls, ["attempt at 0", "timeout granted at 0", "success at 1000"])
      assert.isTrue(RetryPolicy.isTimeoutError(new SocketTimeoutError({ attempt: 1 })))
      assert.isFalse(RetryPolicy.isTimeoutError(transient(1)))
      assert.isFalse(RetryPolicy.isTimeoutError("TimeoutError"))
      assert.isFalse(RetryPolicy.isTimeoutError(new NamedTimeoutError()))
    }))

  it.effect("one budget shared by two concurrent runs: together they get what it holds", () =>
    Effect.gen(function*() {
      // 15 tokens: three retries of 5 between both runs (and no probes)
      const budget = RetryBudget.tokenBucket({ capacity: 15, probeInterval: Duration.infinity })
      const a = yield* scripted((n) => Effect.fail(transient(n)))
      const b = yield* scripted((n) => Effect.fail(transient(n)))
      const policy = noJitter({ maxAttempts: 10 })
      const both = Effect.zip(
        Effect.exit(RetryPolicy.retry(a.effect, policy, { onTimeout, budget })),
        Effect.exit(RetryPolicy.retry(b.effect, policy, { onTimeout, budget })),
        { concurrent: true }
      )
      const { endedAt, exit } = yield* drive(both)
      assert.isTrue(Exit.isSuccess(exit))
      const startsA = yield* a.starts
      const startsB = yield* b.starts
      // without a budget each would make 10 attempts; together they make 2 + 3
      assert.strictEqual(startsA.length + startsB.length, 5)
      // both retry at 1000 (10 tokens left, then 5); at 3000 one of them is refused, the other gets the last 5
      const [short, long] = [startsA, startsB].sort((x, y) => x.length - y.length)
      assert.deepStrictEqual({ short, long }, { short: [0, 1000], long: [0, 1000, 3000] })
      assert.strictEqual(endedAt, 3000)
      assert.strictEqual(yield* budget.remaining, 0)
    }))

  it.effect("a shared ratio budget lets a fleet retry about 10 % of its requests per window", () =>
    Effect.gen(function*() {
      const budget = RetryBudget.ratio({ minRetries: 2, probeInterval: Duration.infinity })
      // 50 requests that each fail once, then succeed, all at 0: 10 % of 50 = 5 retries
      const runs = yield* Effect.forEach(
        Array.from({ length: 50 }),
        () => scripted((n) => n === 1 ? Effect.fail(transient(n)) : Effect.void)
      )
      const policy = noJitter()
      const { exit } = yield* drive(Effect.forEach(
        runs,
        (run) => Effect.exit(RetryPolicy.retry(run.effect, policy, { onTimeout, budget })),
        { concurrency: "unbounded" }
      ))
      assert.isTrue(Exit.isSuccess(exit))
      const exits = Exit.isSuccess(exit) ? exit.value : []
      assert.strictEqual(exits.filter(Exit.isSuccess).length, 5)
      assert.strictEqual(exits.filter(Exit.isFailure).length, 45)
      // ten seconds later the window is empty again and the floor of 2 applies
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(yield* budget.remaining, 2)
    }))

  it.effect("without a budget nothing changes; RetryBudget.unlimited behaves the same", () =>
    Effect.gen(function*() {
      const a = yield* scripted((n) => Effect.fail(transient(n)))
      const b = yield* scripted((n) => Effect.fail(transient(n)))
      const x = yield* drive(RetryPolicy.retry(a.effect, noJitter(), { onTimeout }))
      const y = yield* drive(RetryPolicy.retry(b.effect, noJitter(), { onTimeout, budget: RetryBudget.unlimited }))
      assertEquals(x.exit, y.exit)
      const relative = (xs: ReadonlyArray<number>) => xs.map((t) => t - xs[0]!)
      assert.deepStrictEqual(relative(yield* a.starts), [0, 1000, 3000, 7000, 15000, 31000])
      assert.deepStrictEqual(relative(yield* b.starts), [0, 1000, 3000, 7000, 15000, 31000])
    }))
})

describe("RetryPolicy.schedule", () => {
  it.effect("works with Effect.retry: retryOn, maxAttempts, and a RetryStep per retry", () =>
    Effect.gen(function*() {
      const { effect, starts } = yield* scripted((n) => Effect.fail(n < 3 ? transient(n) : permanent(n)))
      const steps = yield* Ref.make<ReadonlyArray<RetryPolicy.RetryStep>>([])
      const schedule = RetryPolicy.schedule(noJitter()).pipe(
        Schedule.onDecision((step, decision) =>
          ScheduleDecision.isDone(decision) ? Effect.void : Ref.update(steps, (xs) => [...xs, step])
        )
      )
      const { exit } = yield* drive(Effect.retry(effect, schedule))
      assertEquals(failure(exit), permanent(3))
      assert.deepStrictEqual(yield* starts, [0, 1000, 3000])
      const all = yield* Ref.get(steps)
      assert.strictEqual(all.length, 2)
      const [first, second] = all
      assert.deepStrictEqual(
        { attempt: first.attempt, maxAttempts: first.maxAttempts, delay: Duration.toMillis(first.delay) },
        { attempt: 2, maxAttempts: 10, delay: 1000 }
      )
      assertEquals(first.error, transient(1))
      assertEquals(second.error, transient(2))
      assert.deepStrictEqual({ attempt: second.attempt, delay: Duration.toMillis(second.delay) }, {
        attempt: 3,
        delay: 2000
      })
    }))

  it.effect("counts the deadline from the first failure and does not take a wait that would cross it", () =>
    Effect.gen(function*() {
      const { effect, starts } = yield* scripted((n) => Effect.fail(transient(n)))
      const schedule = RetryPolicy.schedule(noJitter({ maxAttempts: 10, deadline: 2500 }))
      const { endedAt, exit } = yield* drive(Effect.retry(effect, schedule))
      assertEquals(failure(exit), transient(2))
      assert.deepStrictEqual(yield* starts, [0, 1000])
      assert.strictEqual(endedAt, 1000)
    }))

  it.effect("stops after maxAttempts - 1 retries", () =>
    Effect.gen(function*() {
      const { effect, starts } = yield* scripted((n) => Effect.fail(transient(n)))
      const { exit } = yield* drive(Effect.retry(effect, RetryPolicy.schedule(noJitter({ maxAttempts: 3, base: 10 }))))
      assertEquals(failure(exit), transient(3))
      assert.deepStrictEqual(yield* starts, [0, 10, 30])
    }))
})

describe("RetryPolicy schema", () => {
  it.effect("decodes a partial config, filling in the defaults", () =>
    Effect.gen(function*() {
      const policy = yield* RetryPolicy.decodeUnknown({ maxAttempts: 3, base: "500 millis", cap: 2000 })
      assert.instanceOf(policy, RetryPolicy.RetryPolicy)
      assert.strictEqual(policy.maxAttempts, 3)
      assert.strictEqual(Duration.toMillis(policy.base), 500)
      assert.strictEqual(Duration.toMillis(policy.cap), 2000)
      assert.strictEqual(policy.factor, 2)
      assert.strictEqual(policy.jitter, "full")
      assert.strictEqual(Duration.toMillis(policy.attemptTimeout), 30_000)
      assert.strictEqual(Duration.toMillis(policy.deadline), 60_000)
      assert.strictEqual(policy.retryOn, "transient")
      assert.strictEqual(policy.honorRetryAfter, true)
    }))

  it.effect("the defaults", () =>
    Effect.sync(() => {
      const d = RetryPolicy.default
      assert.strictEqual(d, RetryPolicy.RetryPolicy.default)
      assert.deepStrictEqual(
        {
          ...d,
          base: Duration.toMillis(d.base),
          cap: Duration.toMillis(d.cap),
          attemptTimeout: Duration.toMillis(d.attemptTimeout),
          deadline: Duration.toMillis(d.deadline)
        },
        {
          maxAttempts: 10,
          base: 1000,
          factor: 2,
          cap: 30_000,
          jitter: "full",
          attemptTimeout: 30_000,
          deadline: 60_000,
          retryOn: "transient",
          honorRetryAfter: true
        }
      )
      assert.isTrue(Equal.equals(RetryPolicy.make(), RetryPolicy.default))
    }))

  it.effect("make fills in defaults and accepts any DurationInput", () =>
    Effect.sync(() => {
      const policy = RetryPolicy.make({ base: "250 millis", deadline: Duration.minutes(2), jitter: "equal" })
      assert.strictEqual(Duration.toMillis(policy.base), 250)
      assert.strictEqual(Duration.toMillis(policy.deadline), 120_000)
      assert.strictEqual(policy.jitter, "equal")
      assert.strictEqual(policy.maxAttempts, 10)
      assert.throws(() => RetryPolicy.make({ maxAttempts: 0 }), /maxAttempts/)
      assert.throws(() => RetryPolicy.make({ factor: 0.5 }), /factor/)
    }))

  const rejects: ReadonlyArray<readonly [string, Record<string, unknown>, ReadonlyArray<string>]> = [
    ["maxAttempts below 1", { maxAttempts: 0 }, ["[\"maxAttempts\"]"]],
    ["a fractional maxAttempts", { maxAttempts: 2.5 }, ["[\"maxAttempts\"]", "integer"]],
    ["a duration string Duration.decode does not know", { base: "ten seconds" }, ["[\"base\"]", "\"ten seconds\""]],
    ["a negative number of milliseconds", { cap: -1 }, ["[\"cap\"]", "-1"]],
    ["a negative duration string", { deadline: "-5 seconds" }, ["[\"deadline\"]", "\"-5 seconds\""]],
    ["a duration of the wrong type", { attemptTimeout: true }, ["[\"attemptTimeout\"]", "true"]],
    ["a factor below 1", { factor: 0.5 }, ["[\"factor\"]"]],
    ["an unknown jitter", { jitter: "wild" }, ["[\"jitter\"]", "\"wild\""]],
    ["an unknown retryOn", { retryOn: "sometimes" }, ["[\"retryOn\"]", "\"sometimes\""]],
    ["a non-boolean honorRetryAfter", { honorRetryAfter: "yes" }, ["[\"honorRetryAfter\"]"]]
  ]

  for (const [what, input, mentions] of rejects) {
    it.effect(`rejects ${what}, naming the field`, () =>
      Effect.gen(function*() {
        const result = yield* Effect.either(RetryPolicy.decodeUnknown({ maxAttempts: 3, ...input }))
        assert.isTrue(Either.isLeft(result))
        const message = Either.isLeft(result) ? result.left.message : ""
        for (const mention of mentions) {
          assert.include(message, mention)
        }
      }))
  }

  it.effect("reports every bad field at once", () =>
    Effect.gen(function*() {
      const result = yield* Effect.either(RetryPolicy.decodeUnknown({ base: "soon", cap: "later" }))
      const message = Either.isLeft(result) ? result.left.message : ""
      assert.include(message, "[\"base\"]")
      assert.include(message, "[\"cap\"]")
    }))

  it.effect("DurationField decodes milliseconds and Duration strings, and encodes to milliseconds", () =>
    Effect.gen(function*() {
      const decode = Schema.decodeUnknown(RetryPolicy.DurationField)
      assert.strictEqual(Duration.toMillis(yield* decode(1500)), 1500)
      assert.strictEqual(Duration.toMillis(yield* decode("10 seconds")), 10_000)
      assert.strictEqual(Duration.toMillis(yield* decode("1.5 minutes")), 90_000)
      assert.strictEqual(yield* Schema.encode(RetryPolicy.DurationField)(Duration.seconds(2)), 2000)
    }))

  it.effect("a policy survives a JSON round trip", () =>
    Effect.gen(function*() {
      const policy = RetryPolicy.make({ maxAttempts: 7, base: 250, jitter: "decorrelated", retryOn: "always" })
      const json = JSON.stringify(yield* Schema.encode(RetryPolicy.RetryPolicy)(policy))
      assert.strictEqual(
        json,
        "{\"maxAttempts\":7,\"base\":250,\"factor\":2,\"cap\":30000,\"jitter\":\"decorrelated\",\"attemptTimeout\":30000,\"deadline\":60000,\"retryOn\":\"always\",\"honorRetryAfter\":true}"
      )
      assert.isTrue(Equal.equals(yield* RetryPolicy.decodeUnknown(JSON.parse(json)), policy))
    }))

  it.effect("backoff(policy) carries the backoff fields", () =>
    Effect.sync(() => {
      const options = RetryPolicy.backoff(RetryPolicy.make({ base: 200, factor: 3, cap: 900, jitter: "none" }))
      assert.deepStrictEqual(
        { ...options, base: Duration.toMillis(options.base), cap: Duration.toMillis(options.cap) },
        { base: 200, factor: 3, cap: 900, jitter: "none" }
      )
    }))
})
