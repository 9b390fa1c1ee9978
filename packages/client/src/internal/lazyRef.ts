/**
 * A value with a stream of its changes, like a `SubscriptionRef`, whose `SubscriptionRef` (a
 * `PubSub`, a `Ref` and a semaphore, about 3 KiB) is made only when something first subscribes
 * to the changes. Until then reads and writes touch a plain field: most sessions' status and
 * tool list are read, and never watched.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"

/** @internal */
export class LazySubscriptionRef<A> {
  private value: A
  private ref: SubscriptionRef.SubscriptionRef<A> | undefined = undefined

  constructor(initial: A) {
    this.value = initial
  }

  readonly get: Effect.Effect<A> = Effect.suspend(() =>
    this.ref === undefined ? Effect.succeed(this.value) : SubscriptionRef.get(this.ref)
  )

  set(value: A): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.ref !== undefined) return SubscriptionRef.set(this.ref, value)
      this.value = value
      return Effect.void
    })
  }

  /**
   * The value now, then every change; the first subscription makes the `SubscriptionRef`. A
   * getter: the stream itself (about 1.7 KiB) is made only when asked for.
   */
  get changes(): Stream.Stream<A> {
    return Stream.unwrap(Effect.sync(() => {
      // made synchronously (its making does not wait), so no `set` can fall between reading the
      // value and handing it to the `SubscriptionRef`
      this.ref ??= Effect.runSync(SubscriptionRef.make(this.value))
      return this.ref.changes
    }))
  }
}
