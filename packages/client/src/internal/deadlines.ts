/**
 * One deadline mechanism per session instead of a timer and a fiber per call.
 *
 * Pending calls are kept in one insertion-ordered set per timeout length, so within a set the
 * first entry always has the earliest deadline. One timer fiber sleeps on Effect's Clock until
 * the earliest deadline over all sets, expires what is due, and sleeps again; when nothing is
 * pending any more it ends, and the next call starts a new one. Adding a call costs a clock
 * read and a `Set.add`; a timer is started only when a call's deadline is earlier than the one
 * the timer sleeps towards (the first call after an idle period, or a shorter timeout), and the
 * old timer is then interrupted.
 *
 * An idle session thus keeps no fiber once the deadline of its last request has passed, and a
 * busy one keeps one (a fiber parked on a sleep; racing the sleep against a wake-up signal took
 * three fibers, about 14 KiB per session).
 *
 * @internal
 */
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"

/** @internal */
export interface Pending {
  readonly deadline: number
  readonly expire: () => void
  readonly bucket: Set<Pending>
}

/** @internal */
export class Deadlines {
  private readonly buckets = new Map<number, Set<Pending>>()
  private size = 0
  /** The deadline the running timer sleeps towards; infinity when no timer runs. */
  private target = Number.POSITIVE_INFINITY
  private timer: Fiber.RuntimeFiber<void> | undefined = undefined
  /** Bumped for each new timer: a timer that is no longer the current one does nothing. */
  private generation = 0
  private closed = false

  /**
   * @param fork starts the timer fiber (a root fiber of the session's runtime, so that the
   *   program's supervisor sees it); {@link shutdown} interrupts it
   */
  constructor(
    private readonly clock: Clock.Clock,
    private readonly fork: (timer: Effect.Effect<void>) => Fiber.RuntimeFiber<void>
  ) {}

  /** Registers `expire` to run `timeoutMillis` from now unless removed first. */
  add(timeoutMillis: number, expire: () => void): Pending {
    let bucket = this.buckets.get(timeoutMillis)
    if (bucket === undefined) {
      bucket = new Set()
      this.buckets.set(timeoutMillis, bucket)
    }
    const entry: Pending = { deadline: this.clock.unsafeCurrentTimeMillis() + timeoutMillis, expire, bucket }
    bucket.add(entry)
    this.size++
    if (entry.deadline < this.target) this.startTimer(entry.deadline)
    return entry
  }

  remove(entry: Pending): void {
    if (entry.bucket.delete(entry)) this.size--
  }

  /** Stops the timer for good (the session is closing); entries still pending never expire. */
  readonly shutdown: Effect.Effect<void> = Effect.suspend(() => {
    this.closed = true
    this.target = Number.NEGATIVE_INFINITY
    const timer = this.timer
    this.timer = undefined
    return timer === undefined ? Effect.void : Fiber.interrupt(timer)
  })

  private startTimer(target: number): void {
    if (this.closed) return
    const previous = this.timer
    const generation = ++this.generation
    this.target = target
    this.timer = this.fork(this.sleepUntil(target, generation))
    previous?.unsafeInterruptAsFork(FiberId.none)
  }

  private sleepUntil(target: number, generation: number): Effect.Effect<void> {
    return Effect.suspend(() => {
      const wait = target - this.clock.unsafeCurrentTimeMillis()
      return Effect.flatMap(wait > 0 ? this.clock.sleep(Duration.millis(wait)) : Effect.void, () => {
        // replaced by an earlier timer (its interruption may not have arrived yet)
        if (generation !== this.generation) return Effect.void
        this.expireDue(this.clock.unsafeCurrentTimeMillis())
        const next = this.earliest()
        if (next === Number.POSITIVE_INFINITY) {
          this.target = next
          this.timer = undefined
          return Effect.void
        }
        this.target = next
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
        entry.expire()
      }
    }
  }
}
