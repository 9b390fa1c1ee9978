/**
 * Request deadlines without a timer or a fiber per call, and without a fiber per session.
 *
 * All sessions on one `Clock` share one {@link DeadlineTimer} ({@link DeadlineTimer.of}): with
 * the live clock, one for the process; under a `TestClock`, one per test clock. Pending calls are
 * kept in one insertion-ordered set per timeout length, so within a set the first entry always
 * has the earliest deadline. One timer fiber sleeps on the Clock until the earliest deadline over
 * all sets, expires what is due, and sleeps again; when nothing is pending any more it ends, and
 * the next call starts a new one. Adding a call costs a clock read and a `Set.add`; a timer is
 * started only when a call's deadline is earlier than the one the timer sleeps towards (the
 * first call after an idle period, or a shorter timeout), and the old timer is then interrupted.
 *
 * A session's {@link Deadlines} is its handle on the shared timer: it counts its own pending
 * entries and, on {@link Deadlines.shutdown}, drops them, so that nothing of a closed session
 * expires later or stays referenced; the last session to leave with nothing pending anywhere
 * stops the timer. A session thus costs no fiber of its own: a fiber parked on a sleep is a few
 * KiB, which idle sessions would each keep until their last request's deadline.
 *
 * @internal
 */
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import { constVoid } from "effect/Function"

/** @internal */
export interface Pending {
  readonly deadline: number
  readonly expire: () => void
  readonly bucket: Set<Pending>
  readonly owner: Deadlines
}

/** Starts a timer fiber as a root fiber of a session's runtime. */
type Fork = (timer: Effect.Effect<void>) => Fiber.RuntimeFiber<void>

/** The timer shared by the sessions it is handed to. @internal */
export class DeadlineTimer {
  private static readonly byClock = new WeakMap<Clock.Clock, DeadlineTimer>()

  /** The timer of every session on `clock`. */
  static of(clock: Clock.Clock): DeadlineTimer {
    let timer = DeadlineTimer.byClock.get(clock)
    if (timer === undefined) {
      timer = new DeadlineTimer(clock)
      DeadlineTimer.byClock.set(clock, timer)
    }
    return timer
  }

  private readonly buckets = new Map<number, Set<Pending>>()
  private size = 0
  /** The deadline the running timer sleeps towards; infinity when no timer runs. */
  private target = Number.POSITIVE_INFINITY
  private fiber: Fiber.RuntimeFiber<void> | undefined = undefined
  /** Bumped for each new timer and on stop: a timer that is no longer the current one does nothing. */
  private generation = 0

  constructor(private readonly clock: Clock.Clock) {}

  /** The timer's clock, in milliseconds. */
  now(): number {
    return this.clock.unsafeCurrentTimeMillis()
  }

  add(owner: Deadlines, timeoutMillis: number, expire: () => void): Pending {
    let bucket = this.buckets.get(timeoutMillis)
    if (bucket === undefined) {
      bucket = new Set()
      this.buckets.set(timeoutMillis, bucket)
    }
    const entry: Pending = { deadline: this.clock.unsafeCurrentTimeMillis() + timeoutMillis, expire, bucket, owner }
    bucket.add(entry)
    this.size++
    owner.pending++
    if (entry.deadline < this.target) this.start(entry.deadline, owner.fork)
    return entry
  }

  remove(entry: Pending): void {
    if (!entry.bucket.delete(entry)) return
    this.size--
    entry.owner.pending--
  }

  /** Drops every entry of `owner`; stops the timer when nothing is pending any more. */
  leave(owner: Deadlines): Effect.Effect<void> {
    if (owner.pending > 0) {
      for (const bucket of this.buckets.values()) {
        for (const entry of bucket) {
          if (entry.owner === owner && bucket.delete(entry)) this.size--
        }
      }
      owner.pending = 0
    }
    if (this.size > 0 || this.fiber === undefined) return Effect.void
    const fiber = this.fiber
    this.fiber = undefined
    this.target = Number.POSITIVE_INFINITY
    this.generation++
    return Fiber.interrupt(fiber)
  }

  private start(target: number, fork: Fork): void {
    const previous = this.fiber
    const generation = ++this.generation
    this.target = target
    this.fiber = fork(this.sleepUntil(target, generation))
    previous?.unsafeInterruptAsFork(FiberId.none)
  }

  private sleepUntil(target: number, generation: number): Effect.Effect<void> {
    return Effect.suspend(() => {
      const wait = target - this.clock.unsafeCurrentTimeMillis()
      return Effect.flatMap(wait > 0 ? this.clock.sleep(Duration.millis(wait)) : Effect.void, () => {
        // replaced by an earlier timer or stopped (its interruption may not have arrived yet)
        if (generation !== this.generation) return Effect.void
        this.expireDue(this.clock.unsafeCurrentTimeMillis())
        const next = this.earliest()
        this.target = next
        if (next === Number.POSITIVE_INFINITY) {
          this.fiber = undefined
          return Effect.void
        }
        return this.sleepUntil(next, generation)
      })
    })
  }

  private earliest(): number {
    let min = Number.POSITIVE_INFINITY
    if (this.size === 0) return min
    for (const bucket of this.buckets.values()) {
      for (const entry of bucket) {
        if (entry.deadline < min) min = entry.deadline
        break
      }
    }
    return min
  }

  private expireDue(now: number): void {
    for (const bucket of this.buckets.values()) {
      for (const entry of bucket) {
        if (entry.deadline > now) break
        bucket.delete(entry)
        this.size--
        entry.owner.pending--
        // one session's failing callback must not take the others' deadlines with it
        try {
          entry.expire()
        } catch {
          // the callback's own work (resuming its call) is done before anything that can throw
        }
      }
    }
  }
}

/** The entry a closed session hands out: never pending, never expires. */
const NEVER: Pending = {
  deadline: Number.POSITIVE_INFINITY,
  expire: constVoid,
  bucket: new Set(),
  owner: undefined as unknown as Deadlines
}

/** One session's deadlines, on a timer it may share with other sessions. @internal */
export class Deadlines {
  /** This session's entries still pending on the shared timer (kept by the timer). */
  pending = 0
  private closed = false

  /**
   * @param timer the timer, shared by the sessions of one supervisor
   * @param fork starts a timer fiber (a root fiber of the session's runtime, so that the
   *   program's supervisor sees it) when this session's call needs one
   */
  constructor(private readonly timer: DeadlineTimer, readonly fork: Fork) {}

  /** Registers `expire` to run `timeoutMillis` from now unless removed first. */
  add(timeoutMillis: number, expire: () => void): Pending {
    if (this.closed) return NEVER
    return this.timer.add(this, timeoutMillis, expire)
  }

  remove(entry: Pending): void {
    this.timer.remove(entry)
  }

  /** The time on the deadlines' clock, in milliseconds (a progress reset measures from it). */
  now(): number {
    return this.timer.now()
  }

  /**
   * The session is closing: its entries still pending never expire, and none are added any
   * more; the shared timer stops when no other session has anything pending.
   */
  readonly shutdown: Effect.Effect<void> = Effect.suspend(() => {
    this.closed = true
    return this.timer.leave(this)
  })
}
