/**
 * The body of a circuit breaker: the state machine behind `CircuitBreaker.make`.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as SubscriptionRef from "effect/SubscriptionRef"
import type { CircuitBreaker, Options, RejectedInfo, State, Strategy, Tracker } from "../CircuitBreaker.js"
import type * as CircuitBreakerStore from "../CircuitBreakerStore.js"
import * as Transient from "../Transient.js"
import type { Breaks } from "./breaks.js"

/** @internal */
export const closed: State = { _tag: "Closed" }
const halfOpen: State = { _tag: "HalfOpen" }
const isolated: State = { _tag: "Isolated" }

const halfOpenRetryMillis = 1000
const halfOpenRetryAfter = Duration.millis(halfOpenRetryMillis)
/** The inbox of a breaker without a store: nothing ever arrives. */
const localInbox: CircuitBreakerStore.Inbox = { version: 0, view: { state: "Closed", remaining: 0 }, receivedAt: 0 }

/** How a call ended, for the breaker. */
type Outcome = "success" | "failure" | "ignored"

/** @internal */
export class CircuitBreakerImpl<E2> implements CircuitBreaker<E2> {
  private live: State = closed
  /** Bumped on every transition; an outcome counts only if the call was admitted in the current epoch. */
  private epoch = 0
  private probesAdmitted = 0
  private probesSucceeded = 0
  private readonly pending: Array<State> = []
  private publishing = false
  private readonly tracker: Tracker
  private readonly isFailure: (error: unknown) => boolean
  private readonly slowMillis: number | undefined
  private readonly halfOpenProbes: number
  private readonly onRejected: (info: RejectedInfo) => E2
  private readonly shared: CircuitBreakerStore.Shared | undefined
  /** What other breakers did; a local breaker's inbox never changes. */
  private readonly inbox: CircuitBreakerStore.Inbox
  /** The inbox version applied last. */
  private seen = 0
  /** Failures this breaker counted for the fleet since its last success. */
  private failuresReported = 0
  private readonly fleetThreshold: number | undefined

  constructor(
    readonly state: SubscriptionRef.SubscriptionRef<State>,
    private readonly clock: Clock.Clock,
    private readonly breaks: Breaks,
    strategy: Strategy,
    options: Options<E2>
  ) {
    this.tracker = strategy.make()
    this.fleetThreshold = strategy.fleetThreshold
    this.isFailure = options.isFailure ?? Transient.isTransient
    this.slowMillis = options.slowCallThreshold === undefined ? undefined : Duration.toMillis(options.slowCallThreshold)
    this.halfOpenProbes = options.halfOpenProbes ?? 1
    this.onRejected = options.onRejected
    this.shared = options.shared
    this.inbox = options.shared?.inbox ?? localInbox
  }

  readonly current = (): State => this.live

  readonly execute = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | E2, R> =>
    Effect.suspend(() =>
      // The fast path. Admitting a call while closed changes nothing, so it needs no protection
      // from interruption: a call interrupted before its outcome is recorded simply counts
      // neither way, which is what interruption means here anyway.
      this.live._tag === "Closed" && this.inbox.version === this.seen
        ? this.run(self, this.epoch, false)
        : this.admit(self)
    )

  /** Admission outside `Closed`: taking a probe slot and running the probe must not be separated by an interruption. */
  private admit<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | E2, R> {
    return Effect.uninterruptibleMask((restore) =>
      Effect.suspend((): Effect.Effect<A, E | E2, R> => {
        const synced = this.sync()
        const decided = this.decide(self, restore)
        return synced === undefined ? decided : Effect.zipRight(synced, decided)
      })
    )
  }

  private decide<A, E, R>(
    self: Effect.Effect<A, E, R>,
    restore: <AX, EX, RX>(effect: Effect.Effect<AX, EX, RX>) => Effect.Effect<AX, EX, RX>
  ): Effect.Effect<A, E | E2, R> {
    const live = this.live
    switch (live._tag) {
      case "Closed":
        return this.run(restore(self), this.epoch, false)
      case "Open": {
        const now = this.clock.unsafeCurrentTimeMillis()
        if (now < live.until) {
          return Effect.fail(this.onRejected({ retryAfter: Duration.millis(live.until - now), state: live }))
        }
        this.transition(halfOpen)
        this.probesAdmitted = 1
        if (this.shared !== undefined) return this.askProbe(this.shared, restore(self))
        // Publishing runs inside `run`, so an interruption during it still frees the probe slot.
        return this.run(Effect.zipRight(this.flush, restore(self)), this.epoch, true)
      }
      case "HalfOpen": {
        if (this.probesAdmitted >= this.halfOpenProbes) {
          return Effect.fail(this.onRejected({ retryAfter: halfOpenRetryAfter, state: live }))
        }
        this.probesAdmitted++
        if (this.shared !== undefined) return this.askProbe(this.shared, restore(self))
        return this.run(restore(self), this.epoch, true)
      }
      case "Isolated":
        return Effect.fail(this.onRejected({ retryAfter: Duration.infinity, state: live }))
    }
  }

  /** A shared breaker's probe: the store says whether this breaker sends it (one per fleet-wide window). */
  private askProbe<A, E, R>(
    shared: CircuitBreakerStore.Shared,
    self: Effect.Effect<A, E, R>
  ): Effect.Effect<A, E | E2, R> {
    const epoch = this.epoch
    return Effect.zipRight(
      this.flush,
      // the lease is the break duration: a probe that hangs holds the fleet at most one more break
      Effect.flatMap(shared.probe(this.halfOpenProbes, this.breaks.next), (answer): Effect.Effect<A, E | E2, R> => {
        if (epoch !== this.epoch) {
          // the state moved on while the store answered: give the slot back and start over
          return Effect.zipRight(answer._tag === "Granted" ? shared.probeReleased : Effect.void, this.execute(self))
        }
        if (answer._tag !== "Denied") return this.run(self, epoch, true)
        this.probesAdmitted--
        const now = this.clock.unsafeCurrentTimeMillis()
        const applied = this.apply(answer.view, now)
        const then: Effect.Effect<A, E | E2, R> = this.live._tag === "Closed"
          ? this.run(self, this.epoch, false)
          : Effect.fail(this.onRejected(this.rejectedInfo(now)))
        return applied === undefined ? then : Effect.zipRight(applied, then)
      })
    )
  }

  private rejectedInfo(now: number): RejectedInfo {
    const live = this.live
    return live._tag === "Open"
      ? { retryAfter: Duration.millis(Math.max(0, live.until - now)), state: live }
      : live._tag === "Isolated"
      ? { retryAfter: Duration.infinity, state: live }
      : { retryAfter: halfOpenRetryAfter, state: live }
  }

  /** Applies what other breakers did, if anything arrived since the last call. */
  private sync(): Effect.Effect<void> | undefined {
    const inbox = this.inbox
    if (inbox.version === this.seen) return undefined
    this.seen = inbox.version
    return this.apply(inbox.view, inbox.receivedAt)
  }

  /** Moves the local state to the fleet's view, taken at `at` on this breaker's clock. */
  private apply(view: CircuitBreakerStore.View, at: number): Effect.Effect<void> | undefined {
    const live = this.live
    switch (view.state) {
      case "Closed": {
        if (live._tag === "Closed") return undefined
        this.tracker.reset()
        this.transition(closed)
        return Effect.uninterruptible(Effect.zipRight(this.breaks.reset(at), this.flush))
      }
      case "Open":
      case "HalfOpen": {
        // a half-open window while this breaker's own probe runs is (most likely) that probe's: the
        // Redis store's news of it may even arrive before its answer. Leaving HalfOpen here would drop
        // the probe's outcome, and the fleet would wait for the lease to end.
        if (view.state === "HalfOpen" && live._tag === "HalfOpen" && this.probesAdmitted > 0) return undefined
        // another breaker's probe: ask again at the latest after `halfOpenRetryAfter`
        const remaining = view.state === "Open" ? view.remaining : Math.min(view.remaining, halfOpenRetryMillis)
        const until = at + remaining
        if (live._tag === "Open" && live.until === until) return undefined
        this.transition({ _tag: "Open", openedAt: at, until })
        return this.flush
      }
      case "Isolated": {
        if (live._tag === "Isolated") return undefined
        this.transition(isolated)
        return this.flush
      }
    }
  }

  readonly isolate: Effect.Effect<void> = Effect.uninterruptible(Effect.suspend(() => {
    const shared = this.shared === undefined ? Effect.void : this.shared.isolate
    if (this.live._tag === "Isolated") return shared
    this.transition(isolated)
    return Effect.zipRight(this.flush, shared)
  }))

  readonly reset: Effect.Effect<void> = Effect.uninterruptible(Effect.suspend(() => {
    this.tracker.reset()
    const now = this.clock.unsafeCurrentTimeMillis()
    const shared = this.shared === undefined ? Effect.void : this.shared.reset
    if (this.live._tag === "Closed") return Effect.zipRight(this.breaks.reset(now), shared)
    this.transition(closed)
    return Effect.zipRight(Effect.zipRight(this.breaks.reset(now), this.flush), shared)
  }))

  /** Runs an admitted call and records how it ended; the effects it returns to publish a transition are uninterruptible. */
  private run<A, E, R>(
    self: Effect.Effect<A, E, R>,
    epoch: number,
    probe: boolean
  ): Effect.Effect<A, E, R> {
    const startedAt = this.slowMillis === undefined ? 0 : this.clock.unsafeCurrentTimeMillis()
    return Effect.matchCauseEffect(self, {
      onSuccess: (a) => {
        const done = this.record("success", startedAt, epoch, probe)
        return done === undefined ? Effect.succeed(a) : Effect.as(done, a)
      },
      onFailure: (cause) => {
        const outcome = Cause.isInterruptedOnly(cause)
          ? "ignored"
          : this.countsAsFailure(cause)
          ? "failure"
          : "success"
        const done = this.record(outcome, startedAt, epoch, probe)
        return done === undefined ? Effect.failCause(cause) : Effect.zipRight(done, Effect.failCause(cause))
      }
    })
  }

  private countsAsFailure(cause: Cause.Cause<unknown>): boolean {
    return Option.isSome(
      Cause.find(
        cause,
        (c) =>
          (c._tag === "Fail" && this.isFailure(c.error)) || (c._tag === "Die" && this.isFailure(c.defect))
            ? Option.some(true)
            : Option.none()
      )
    )
  }

  /** Updates the state synchronously; returns the effect that publishes the transition, if any. */
  private record(outcome: Outcome, startedAt: number, epoch: number, probe: boolean): Effect.Effect<void> | undefined {
    if (epoch !== this.epoch) return probe ? this.staleProbe(outcome, startedAt) : undefined
    if (outcome === "ignored") {
      if (!probe) return undefined
      this.probesAdmitted--
      return this.shared?.probeReleased
    }
    const now = this.clock.unsafeCurrentTimeMillis()
    if (outcome === "success" && this.slowMillis !== undefined && now - startedAt > this.slowMillis) {
      outcome = "failure"
    }
    if (!probe) {
      if (outcome === "success") {
        this.tracker.success(now)
        if (this.failuresReported === 0 || this.shared === undefined) return undefined
        // the fleet's count restarts; successes of a breaker that reported no failure cost nothing
        this.failuresReported = 0
        return this.shared.failuresCleared
      }
      if (this.tracker.failure(now)) return this.open(now)
      return this.shared === undefined || this.fleetThreshold === undefined
        ? undefined
        : this.reportFailure(this.shared, this.fleetThreshold, now)
    }
    if (outcome === "failure") return this.open(now)
    if (this.shared !== undefined) return this.sharedProbeSucceeded(this.shared, now)
    if (++this.probesSucceeded < this.halfOpenProbes) return undefined
    return this.close(now)
  }

  /**
   * A shared probe that ended after this breaker's state moved on (news from the fleet arrived
   * meanwhile): the store still holds its slot, so it still hears the outcome. A success may close
   * the fleet (only a half-open store closes); anything else gives the slot back.
   */
  private staleProbe(outcome: Outcome, startedAt: number): Effect.Effect<void> | undefined {
    const shared = this.shared
    if (shared === undefined) return undefined
    const now = this.clock.unsafeCurrentTimeMillis()
    const slow = this.slowMillis !== undefined && now - startedAt > this.slowMillis
    if (outcome !== "success" || slow) return shared.probeReleased
    const epoch = this.epoch
    return Effect.uninterruptible(
      Effect.flatMap(
        shared.probeSucceeded(this.halfOpenProbes),
        (view) =>
          Effect.suspend(() =>
            view === undefined || view.state !== "Closed" || epoch !== this.epoch
              ? Effect.void
              : (this.apply(view, now) ?? Effect.void)
          )
      )
    )
  }

  private close(now: number): Effect.Effect<void> {
    this.tracker.reset()
    this.transition(closed)
    return Effect.uninterruptible(Effect.zipRight(this.breaks.reset(now), this.flush))
  }

  /** The fleet closes after `halfOpenProbes` probes succeeded, wherever they ran; alone when the store is out of reach. */
  private sharedProbeSucceeded(shared: CircuitBreakerStore.Shared, now: number): Effect.Effect<void> {
    const epoch = this.epoch
    return Effect.uninterruptible(
      Effect.flatMap(shared.probeSucceeded(this.halfOpenProbes), (view) =>
        Effect.suspend(() => {
          if (epoch !== this.epoch) return Effect.void
          if (view === undefined) {
            return ++this.probesSucceeded < this.halfOpenProbes ? Effect.void : this.close(now)
          }
          return view.state === "HalfOpen" ? Effect.void : (this.apply(view, now) ?? Effect.void)
        }))
    )
  }

  /** Counts a failure for the fleet; the store opens every breaker at `threshold`. */
  private reportFailure(shared: CircuitBreakerStore.Shared, threshold: number, now: number): Effect.Effect<void> {
    this.failuresReported++
    const epoch = this.epoch
    return Effect.uninterruptible(
      Effect.flatMap(
        shared.failure(threshold, this.breaks.next),
        (view) =>
          Effect.suspend(() =>
            view === undefined || view.state !== "Open" || epoch !== this.epoch
              ? Effect.void
              : (this.apply(view, now) ?? Effect.void)
          )
      )
    )
  }

  private open(now: number): Effect.Effect<void> {
    const breakMillis = this.breaks.next
    this.transition({ _tag: "Open", openedAt: now, until: now + breakMillis })
    const opened = Effect.zipRight(this.breaks.advance(now), this.flush)
    const shared = this.shared
    if (shared === undefined) return Effect.uninterruptible(opened)
    // the fleet's view wins: a breaker that opened first sets when the probe may go
    const epoch = this.epoch
    return Effect.uninterruptible(Effect.zipRight(
      opened,
      Effect.flatMap(
        shared.open(breakMillis),
        (view) =>
          Effect.suspend(() =>
            view === undefined || epoch !== this.epoch ? Effect.void : (this.apply(view, now) ?? Effect.void)
          )
      )
    ))
  }

  private transition(next: State): void {
    this.failuresReported = 0
    this.live = next
    this.epoch++
    this.probesAdmitted = 0
    this.probesSucceeded = 0
    this.pending.push(next)
  }

  /**
   * Publishes pending transitions in order. One fiber drains at a time; a fiber that finds
   * another draining leaves its transition to it, so the `SubscriptionRef` sees every
   * transition in the order it happened.
   */
  private readonly flush: Effect.Effect<void> = Effect.uninterruptible(Effect.suspend(() => {
    if (this.publishing) return Effect.void
    this.publishing = true
    return this.drain
  }))

  private readonly drain: Effect.Effect<void> = Effect.suspend(() => {
    const next = this.pending.shift()
    if (next === undefined) {
      this.publishing = false
      return Effect.void
    }
    return Effect.zipRight(SubscriptionRef.set(this.state, next), this.drain)
  })
}
