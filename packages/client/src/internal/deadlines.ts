/**
 * One deadline mechanism per session instead of a timer and a fiber per call.
 *
 * Pending calls are kept in one insertion-ordered set per timeout length, so within a set the
 * first entry always has the earliest deadline. A single fiber sleeps on Effect's Clock until
 * the earliest deadline over all sets, expires what is due, and sleeps again. Adding a call
 * costs a clock read and a `Set.add`; the fiber is woken only when a call's deadline is earlier
 * than the one it sleeps towards (the first call after an idle period, or a shorter timeout).
 *
 * @internal
 */
import type * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
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
  private target = Number.POSITIVE_INFINITY
  private wake: Deferred.Deferred<void> | undefined = undefined
  private size = 0

  constructor(private readonly clock: Clock.Clock) {}

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
    if (entry.deadline < this.target && this.wake !== undefined) {
      const wake = this.wake
      this.wake = undefined
      Deferred.unsafeDone(wake, Exit.void)
    }
    return entry
  }

  remove(entry: Pending): void {
    if (entry.bucket.delete(entry)) this.size--
  }

  /** Expires every entry, e.g. when the session closes. */
  expireAll(): void {
    for (const bucket of this.buckets.values()) {
      for (const entry of bucket) {
        bucket.delete(entry)
        this.size--
        entry.expire()
      }
    }
  }

  private earliest(): number {
    let min = Number.POSITIVE_INFINITY
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

  /** The sweeping fiber's body; runs until interrupted. */
  readonly run: Effect.Effect<never> = Effect.suspend(() => {
    const loop: Effect.Effect<never> = Effect.suspend(() => {
      const now = this.clock.unsafeCurrentTimeMillis()
      this.expireDue(now)
      this.target = this.size === 0 ? Number.POSITIVE_INFINITY : this.earliest()
      const wake = Deferred.unsafeMake<void>(FiberId.none)
      this.wake = wake
      const wait = this.target === Number.POSITIVE_INFINITY
        ? Deferred.await(wake)
        : Effect.raceFirst(Effect.sleep(Math.max(0, this.target - now)), Deferred.await(wake))
      return Effect.zipRight(wait, loop)
    })
    return loop
  })
}
